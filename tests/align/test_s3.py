"""Align -> shards (`run_inner_monologue`) on object storage, against the real S3-compatible server
the test session starts (`s3_server`): audio read from s3://, every output (alignments, shards,
moshi files, ledgers, stats) written to s3://, byte-identical to the same run writing to the local
disk; then `curate shards` reads the alignments back from the bucket."""

from __future__ import annotations

import pytest

pytest.importorskip("soundfile")
pytest.importorskip("faster_whisper")
pytest.importorskip("pocketsphinx")
pytest.importorskip("sentencepiece")

from pathlib import Path  # noqa: E402

from curate.core.models import models_dir  # noqa: E402
from curate.shards.build import ShardsConfig  # noqa: E402
from curate.shards.pipeline import run_inner_monologue, run_shards  # noqa: E402
from tests.conftest import local_digest, require, s3_digest, shared_path  # noqa: E402
from tests.shards.test_pipeline import tokenizer  # noqa: E402, F401

MODEL = models_dir() / "whisper-base-ct2"
ALIGN = {"language": "en", "asr_model": str(MODEL), "cpu_threads": 1}
BUCKET = "speech"

require(MODEL / "model.bin")


def _digest(d: dict[str, str]) -> dict[str, str]:
    """Everything but timings and the shards stage's commit records (they name the input files' places)."""
    return {k: v for k, v in d.items() if not k.endswith("run.json") and not k.startswith("_parts/")}


def test_inner_monologue_on_s3_matches_local_disk(ray_local: None, s3_storage, tmp_path: Path, tokenizer: Path) -> None:  # noqa: F811
    fs = s3_storage.fs()
    s3_storage.make_bucket(BUCKET)
    for clip in (
        shared_path("speech", "faster_whisper", "jfk.flac"),
        shared_path("speech", "faster_whisper", "stereo_diarization.wav"),
    ):
        fs.put_file(str(clip), f"{BUCKET}/audio/{clip.name}")
    config = ShardsConfig(tokenizer=str(tokenizer), window=10.0, files_per_part=1, formats=["parquet", "moshi"])

    remote = f"s3://{BUCKET}/im"
    stats = run_inner_monologue([f"s3://{BUCKET}/audio/"], remote, ALIGN, config, workers=2)
    assert stats["reconciled"] and stats["files_ok"] == 2
    local = tmp_path / "local"
    run_inner_monologue([f"s3://{BUCKET}/audio/"], local, ALIGN, config, workers=2)
    on_s3, on_disk = _digest(s3_digest(fs, f"{BUCKET}/im")), _digest(local_digest(local))
    assert {k for k in on_s3 if k.startswith("shards/")} and {k for k in on_s3 if k.startswith("moshi/")}
    assert on_s3 == on_disk

    # the shards stage alone, reading the alignments back from the bucket
    again = f"s3://{BUCKET}/shards-only"
    run_shards([f"{remote}/align"], again, config, use_ray=False)
    run_shards([str(local / "align")], tmp_path / "shards-only", config, use_ray=False)
    assert _digest(s3_digest(fs, f"{BUCKET}/shards-only")) == _digest(local_digest(tmp_path / "shards-only"))
