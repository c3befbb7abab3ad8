"""`curate shards` on real speech with reference word times (MFA TextGrids): moshi layout, Parquet
shards, text streams, ShardDataset, errors, resume and determinism."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from curate.shards.build import ShardsConfig, WordTokenizer
from curate.shards.dataset import ShardDataset
from curate.shards.pipeline import run_shards, shard_paths
from curate.shards.stream import TextStreamConfig, build_text_stream, main_speaker_words, window_words
from curate.training.tokenizer import train_tokenizer
from tests.conftest import require

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
MFA = SHARED / "speech" / "mfa"
BOOK = SHARED / "text" / "hq" / "books" / "pg1342_pride_and_prejudice.txt"
COLD_OFFSET = 26.72325  # cold_corpus.wav starts there on channel 1 of michaelandsickmichael.wav
WINDOW = 20.0

require(MFA / "michaelandsickmichael.wav", BOOK)


def _words(textgrid: str, speaker: str, offset: float = 0.0) -> list[list]:
    from curate.align.textgrid import reference_words

    return [[w.text, [round(w.start, 6), round(w.end, 6)], speaker] for w in reference_words(MFA / textgrid, offset=offset)]


def alignment_records() -> dict[str, dict]:
    stereo = _words("acoustic_corpus.TextGrid", "SPEAKER_MAIN") + _words("cold_corpus.TextGrid", "SPEAKER_OTHER", COLD_OFFSET)
    stereo.sort(key=lambda w: w[1][0])
    return {
        "michael_stereo": {
            "id": "michael_stereo",
            "source": str(MFA / "michaelandsickmichael.wav"),
            "duration": sf.info(str(MFA / "michaelandsickmichael.wav")).duration,
            "sample_rate": 16000,
            "channels": 2,
            "language": "en",
            "stream_mode": "stereo",
            "main_channel": 0,
            "mean_probability": 0.93,
            "alignments": stereo,
        },
        "acoustic_mono": {
            "id": "acoustic_mono",
            "source": str(MFA / "acoustic_corpus.wav"),
            "duration": sf.info(str(MFA / "acoustic_corpus.wav")).duration,
            "sample_rate": 16000,
            "channels": 1,
            "language": "en",
            "stream_mode": "mono",
            "alignments": [
                [w, span, "SPEAKER_MAIN", 0.5] for w, span, _ in reversed(_words("acoustic_corpus.TextGrid", "x"))
            ],  # unsorted on purpose
        },
    }


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tok")
    paragraphs = [p for p in BOOK.read_text(encoding="utf-8").split("\n\n") if p.strip()][:800]
    pq.write_table(pa.table({"text": paragraphs}), folder / "corpus.parquet")
    return Path(train_tokenizer([str(folder / "corpus.parquet")], folder / "spm.model", vocab_size=500)["model"])


@pytest.fixture(scope="module")
def alignments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("align") / "alignments"
    folder.mkdir()
    for name, record in alignment_records().items():
        (folder / f"{name}.json").write_text(json.dumps(record))
    (folder / "empty.json").write_bytes(b"")
    (folder / "no_source.json").write_text(json.dumps({"id": "x", "alignments": []}))
    broken = dict(alignment_records()["acoustic_mono"], id="missing_audio", source=str(folder / "nope.wav"))
    (folder / "missing_audio.json").write_text(json.dumps(broken))
    (folder / "bad_word.json").write_text(json.dumps(dict(broken, alignments=[["a", "b"]])))
    return folder


def _config(tokenizer: Path, **kw: object) -> ShardsConfig:
    kw.setdefault("window", WINDOW)
    return ShardsConfig(tokenizer=str(tokenizer), files_per_part=2, **kw)  # type: ignore[arg-type]


def _tree_bytes(folder: Path) -> dict[str, bytes]:
    skip = {"_parts", "run.json"}  # run.json: the run's own facts (time, parts redone), the one file that differs by design
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and not skip & set(p.parts)
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, tokenizer: Path, alignments: Path) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("out")
    stats = run_shards([str(alignments.parent)], out, _config(tokenizer), use_ray=False)
    return out, stats


def test_moshi_layout(run: tuple[Path, dict]) -> None:
    out, _ = run
    records = alignment_records()
    manifest = [json.loads(line) for line in (out / "moshi" / "manifest.jsonl").read_text().splitlines()]
    assert [m["path"] for m in manifest] == ["data_stereo/acoustic_mono.wav", "data_stereo/michael_stereo.wav"]
    for entry in manifest:
        wav = out / "moshi" / entry["path"]
        info = sf.info(str(wav))
        assert (info.samplerate, info.channels) == (24000, 2)
        assert entry["duration"] == info.frames / 24000  # exact: the trainer cuts windows from it
        record = records[wav.stem]
        assert abs(entry["duration"] - record["duration"]) < 1 / 24000
        alignments = json.loads(wav.with_suffix(".json").read_text())["alignments"]
        starts = [a[1][0] for a in alignments]
        assert starts == sorted(starts) and len(alignments) == len(record["alignments"])
        assert {a[2] for a in alignments} <= {"SPEAKER_MAIN", "SPEAKER_OTHER"}
    # channel 0 = main speaker (acoustic_corpus), channel 1 = other (cold corpus from 26.72 s) or silence
    stereo, sr = sf.read(str(out / "moshi/data_stereo/michael_stereo.wav"), dtype="float32")
    mono, _ = sf.read(str(out / "moshi/data_stereo/acoustic_mono.wav"), dtype="float32")
    n = len(mono)
    assert np.abs(stereo[:n, 0] - mono[:, 0]).max() < 2e-4
    assert np.abs(stereo[: int(26 * sr), 1]).max() < 1e-3 and np.abs(stereo[int(27 * sr) :, 1]).max() > 0.05
    assert not mono[:, 1].any()


def test_parquet_rows_follow_the_rule(run: tuple[Path, dict], tokenizer: Path) -> None:
    out, stats = run
    records = alignment_records()
    tok = WordTokenizer(str(tokenizer))
    rows = list(ShardDataset(out, rank=0, world_size=1))
    assert [(r["id"], r["window_index"]) for r in rows] == [
        ("acoustic_mono", 0),
        ("acoustic_mono", 1),
        *(("michael_stereo", k) for k in range(3)),
    ]
    for row in rows:
        record = records[row["id"]]
        assert row["duration"] == WINDOW and row["sample_rate"] == 24000
        assert len(row["text_tokens"]) == row["num_frames"] == 250  # ceil(20 * 12.5)
        assert row["audio"].shape == (2, 480000)
        assert row["padded"] == (row["window_index"] == (2 if row["id"] == "michael_stereo" else 1))
        # the text stream of each window equals the rule applied to its words, built independently here
        words = main_speaker_words(record["alignments"], tok.encode, tok.newline_id)
        expected = build_text_stream(window_words(words, row["window_start"], WINDOW), WINDOW, TextStreamConfig())
        assert row["text_tokens"].tolist() == expected
        assert all(0 <= w["start"] < WINDOW for w in row["words"])
        assert row["language"] == "en"
    # audio of a window = the moshi WAV at the same samples (same quantization), padding is silence
    wav, _ = sf.read(str(out / "moshi/data_stereo/michael_stereo.wav"), dtype="float32")
    last = rows[-1]
    valid = int(round(last["valid_duration"] * 24000))
    assert np.array_equal(last["audio"][:, :valid], wav[960000:, :].T) and not last["audio"][:, valid:].any()
    assert json.loads(rows[-1]["quality"]) == {"mean_probability": 0.93}
    assert rows[0]["words"][0]["probability"] == pytest.approx(0.5)
    # the stream holds real text: the main speaker's words are in it, mostly padding
    first = rows[2]["text_tokens"].tolist()
    assert sum(t not in (0, 3) for t in first) > 20
    assert 0.3 < stats["pad_share"] < 0.95


def test_stats_and_errors_reconcile(run: tuple[Path, dict]) -> None:
    out, stats = run
    on_disk = json.loads((out / "stats.json").read_text())
    assert on_disk["files_in"] == 6 and on_disk["files_ok"] == 2 and on_disk["errors"] == 4
    assert on_disk["reconciled"] is True
    assert on_disk["errors_by_kind"] == {"bad_alignment": 3, "decode_error": 1}
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert sorted(Path(e["source"]).name for e in errors) == [
        "bad_word.json",
        "empty.json",
        "missing_audio.json",
        "no_source.json",
    ]
    assert on_disk["windows"] == 5 and on_disk["windows_padded"] == 2
    assert on_disk["frames"] == 5 * 250
    assert stats["shards"] == on_disk["shards"] and all((out / "shards" / s).exists() for s in stats["shards"])


def test_dataset_split_and_shuffle(run: tuple[Path, dict]) -> None:
    out, _ = run
    every = [(r["id"], r["window_index"]) for r in ShardDataset(out, columns=["id", "window_index"], world_size=1, rank=0)]
    halves = [
        [(r["id"], r["window_index"]) for r in ShardDataset(out, columns=["id", "window_index"], rank=k, world_size=2)]
        for k in (0, 1)
    ]
    assert sorted(halves[0] + halves[1]) == sorted(every) and not set(halves[0]) & set(halves[1])
    assert len(ShardDataset(out, rank=0, world_size=2)) == len(halves[0])
    a = ShardDataset(out, columns=["id", "window_index"], shuffle_buffer=3, seed=7, rank=0, world_size=1)
    first = [(r["id"], r["window_index"]) for r in a]
    assert first == [(r["id"], r["window_index"]) for r in a] and sorted(first) == sorted(every)
    a.set_epoch(1)
    assert sorted((r["id"], r["window_index"]) for r in a) == sorted(every)


def test_resume_and_determinism(tmp_path: Path, run: tuple[Path, dict], tokenizer: Path, alignments: Path) -> None:
    out, _ = run
    reference = _tree_bytes(out)
    # a copy of the finished run: drop one part's commit record and its shard files -> only that part is redone
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "_parts" / "00001.json").unlink()
    for path in (copy / "shards").glob("part-00001-*.parquet"):
        path.unlink()
    stats = run_shards([str(alignments)], copy, _config(tokenizer), use_ray=False)
    assert stats["parts_run"] == 1
    assert _tree_bytes(copy) == reference
    # small shard size: more, smaller files, same rows
    small = tmp_path / "small"
    stats = run_shards(
        [str(alignments)], small, _config(tokenizer, shard_size_mb=0.5, rows_per_group=1, formats=["parquet"]), use_ray=False
    )
    assert len(stats["shards"]) > len(json.loads((out / "stats.json").read_text())["shards"])
    assert not (small / "moshi").exists()
    big_rows = [
        (r["id"], r["window_index"], r["audio"])
        for r in ShardDataset(out, columns=["id", "window_index", "audio"], decode_audio=False)
    ]
    small_rows = [
        (r["id"], r["window_index"], r["audio"])
        for r in ShardDataset(small, columns=["id", "window_index", "audio"], decode_audio=False)
    ]
    assert big_rows == small_rows
    assert shard_paths(small) == sorted(str(small / "shards" / s) for s in stats["shards"])


@pytest.mark.slow
def test_cli_on_ray_gives_identical_bytes(tmp_path: Path, run: tuple[Path, dict], tokenizer: Path, alignments: Path) -> None:
    """`curate shards` on Ray with 2 workers writes the same bytes as the in-process run with 1."""
    from typer.testing import CliRunner

    from curate.cli import app
    from curate.core.ray_runtime import shutdown_ray

    out, _ = run
    args = ["shards", str(alignments), "--output", str(tmp_path / "ray"), "--tokenizer", str(tokenizer), "--window", str(WINDOW),
            "--files-per-part", "2", "--workers", "2"]  # fmt: skip
    try:
        result = CliRunner().invoke(app, args)
    finally:
        shutdown_ray()
    assert result.exit_code == 0, result.output
    assert "PAD share" in result.output
    assert _tree_bytes(tmp_path / "ray") == _tree_bytes(out)
    bad = CliRunner().invoke(app, ["shards", str(alignments), "--output", str(tmp_path / "x"), "--format", "parquet"])
    assert bad.exit_code == 2 and "--tokenizer" in bad.output


def test_train_tokenizer_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from curate.cli import app

    pq.write_table(
        pa.table({"text": [p for p in BOOK.read_text(encoding="utf-8").split("\n\n") if p.strip()][:300]}), tmp_path / "c.parquet"
    )
    result = CliRunner().invoke(
        app, ["train", "tokenizer", "--input", str(tmp_path), "--output", str(tmp_path / "m.model"), "--vocab-size", "400"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["special_ids"] == {"unk_id": 0, "bos_id": 1, "eos_id": 2, "pad_id": 3}


def test_flac_is_lossless_pcm16(run: tuple[Path, dict]) -> None:
    out, _ = run
    table = pq.read_table(shard_paths(out)[0], columns=["audio"])
    cell = table.column("audio")[0].as_py()  # the `datasets` Audio storage: {bytes, path}
    assert cell["path"].endswith("-00000.flac")
    data, sr = sf.read(io.BytesIO(cell["bytes"]), dtype="int16")
    assert sr == 24000 and data.shape == (480000, 2) and data.dtype == np.int16


def test_missing_tokenizer_is_a_clear_error(alignments: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--tokenizer"):
        run_shards([str(alignments)], tmp_path, ShardsConfig(), use_ray=False)
    stats = run_shards([str(alignments)], tmp_path / "moshi-only", ShardsConfig(formats=["moshi"]), use_ray=False)
    assert stats["files_ok"] == 2 and not (tmp_path / "moshi-only" / "shards").exists()


@pytest.mark.slow
def test_inner_monologue_end_to_end(tmp_path: Path, tokenizer: Path) -> None:
    """`curate inner-monologue`: audio -> align stage -> shards, with the bundled Whisper model."""
    from curate.core.ray_runtime import shutdown_ray
    from curate.shards.pipeline import run_inner_monologue

    speech = pytest.importorskip("curate.align.pipeline")
    try:
        speech.AlignConfig().model_dir()
    except FileNotFoundError:
        pytest.skip("bundled Whisper model not installed (make models)")
    jfk = SHARED / "speech" / "faster_whisper" / "jfk.flac"
    try:
        stats = run_inner_monologue([str(jfk)], tmp_path, {"language": "en"}, _config(tokenizer, window=10.0), workers=2)
    finally:
        shutdown_ray()
    assert stats["files_ok"] == 1 and stats["windows"] == 2 and stats["reconciled"]
    record = json.loads((tmp_path / "align" / "alignments" / "jfk.json").read_text())
    rows = list(ShardDataset(tmp_path, rank=0, world_size=1))
    tok = WordTokenizer(str(tokenizer))
    words = main_speaker_words(record["alignments"], tok.encode, tok.newline_id)
    assert len(words) >= 15  # "And so my fellow Americans, ask not what your country can do for you, ..."
    for row in rows:
        assert row["text_tokens"].tolist() == build_text_stream(window_words(words, row["window_start"], 10.0), 10.0)
    assert [w["probability"] is not None for w in rows[0]["words"]].count(True) >= 15
    assert json.loads(rows[0]["quality"]).get("mean_word_probability", 0) > 0.5


def test_changed_config_is_refused_on_resume(tokenizer: Path, alignments: Path, tmp_path: Path) -> None:
    """`curate shards ... --window 8` then `--window 4` into the same folder: refused (exit 2, one line),
    and the 8 s windows and their stats stay as they were; `--no-resume` starts over with 4 s windows."""
    from typer.testing import CliRunner

    from curate.cli import app

    out = tmp_path / "out"
    base = ["shards", str(alignments), "--output", str(out), "--tokenizer", str(tokenizer), "--format", "parquet"]
    first = CliRunner().invoke(app, [*base, "--window", "8"])
    assert first.exit_code == 0, first.output
    before = _tree_bytes(out)
    second = CliRunner().invoke(app, [*base, "--window", "4"])
    assert second.exit_code == 2
    assert "another configuration" in second.output and "window" in second.output
    assert "Traceback" not in second.output
    assert _tree_bytes(out) == before
    assert json.loads((out / "stats.json").read_text())["config"]["window"] == 8.0
    third = CliRunner().invoke(app, [*base, "--window", "4", "--no-resume"])
    assert third.exit_code == 0, third.output
    assert json.loads((out / "stats.json").read_text())["config"]["window"] == 4.0
    windows = pq.read_table(shard_paths(out)[0], columns=["duration"]).column("duration").to_pylist()
    assert windows and max(windows) <= 4.0


def test_stats_command_reads_a_shards_folder(run: tuple[Path, dict]) -> None:
    from typer.testing import CliRunner

    from curate.cli import app

    out, stats = run
    assert json.loads((out / "stats.json").read_text())["kind"] == "shards"
    result = CliRunner().invoke(app, ["stats", str(out)])
    assert result.exit_code == 0, result.output
    assert f"windows: {stats['windows']}" in result.output


def test_max_overlap_share_drops_overlapped_windows(tokenizer: Path, tmp_path: Path) -> None:
    """`--max-overlap-share 0.2` on a diarized mono file: the windows whose turns overlap more are dropped
    and counted, the others carry their `overlap_share` in the Parquet rows."""
    from typer.testing import CliRunner

    from curate.align.diarization import overlap_share
    from curate.cli import app

    record = dict(alignment_records()["acoustic_mono"], id="diarized_mono", stream_mode="diarized")
    # 8 s windows: [0, 8) half overlapped, [8, 16) no overlap, [16, 24) a quarter, [24, 26.7) none
    turns = [["A", 0.0, 8.0], ["B", 4.0, 12.0], ["A", 12.0, 20.0], ["B", 18.0, 26.0]]
    record["diarization_turns"] = turns
    folder = tmp_path / "alignments"
    folder.mkdir()
    (folder / "diarized_mono.json").write_text(json.dumps(record))
    out = tmp_path / "out"
    args = ["shards", str(folder), "-o", str(out), "--tokenizer", str(tokenizer), "--format", "parquet", "--window", "8"]
    result = CliRunner().invoke(app, [*args, "--max-overlap-share", "0.2"])
    assert result.exit_code == 0, result.output
    expected = [overlap_share([tuple(t) for t in turns], s, s + 8.0) for s in (0.0, 8.0, 16.0, 24.0)]
    assert expected == [0.5, 0.0, 0.25, 0.0]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["windows_dropped_overlap"] == 2 and stats["windows"] == 2 and stats["files_ok"] == 1
    table = pq.read_table(shard_paths(out)[0], columns=["window_start", "overlap_share"])
    assert table.column("window_start").to_pylist() == [8.0, 24.0]
    assert table.column("overlap_share").to_pylist() == [0.0, 0.0]
    bad = CliRunner().invoke(app, [*args, "--max-overlap-share", "1.5", "--no-resume"])
    assert bad.exit_code == 2 and "max-overlap-share" in bad.output and "Traceback" not in bad.output
