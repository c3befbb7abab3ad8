"""The shards as their real consumers take them, with no glue: Hugging Face `datasets`, DuckDB, Polars,
and moshi-finetune's text stream.

The moshi-finetune check is written here from that trainer's published code
(`finetune/data/interleaver.py`, `finetune/data/dataset.py`, `train.py` at kyutai-labs/moshi-finetune),
not imported from this project: `tokenize`, `Interleaver` with `keep_main_only=True`,
`build_token_stream`, `InterleavedTokenizer.__call__` (`dicho` window selection) and its chunking of
each manifest entry into `duration_sec` windows. The DataLoader and audio decoding checks need torch
and live in `test_consumers_torch.py` (run in the torch environment by `make test`).
"""

from __future__ import annotations

import io
import json
import math
from collections import deque
from functools import reduce
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sentencepiece as spm
import soundfile as sf

from tests.conftest import require
from tests.shards.consumers import WINDOW, required_paths, shards_run

require(*required_paths())

PAD, EPAD, ZERO = 3, 0, -1  # moshi 7B: text_padding_token_id, end_of_text_padding_id, zero_token_id
IN_WORD = PAD  # in_word_padding defaults to text_padding
FRAME_RATE = 12.5  # mimi.frame_rate
SAMPLE_RATE = 24000  # mimi.sample_rate
FRAME_SIZE = 1920  # samples per Mimi frame


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    return shards_run(tmp_path_factory.mktemp("consumers"))


def _files(out: Path) -> list[str]:
    return sorted(str(p) for p in (out / "shards").glob("part-*.parquet"))


def _table(out: Path):  # noqa: ANN202 - a pyarrow Table
    import pyarrow as pa

    return pa.concat_tables([pq.read_table(f) for f in _files(out)])


# --- Hugging Face datasets -----------------------------------------------------------------------


def test_load_dataset_parquet_has_audio_and_int32_tokens(run: tuple[Path, Path, dict]) -> None:
    import datasets

    _, out, stats = run
    ds = datasets.load_dataset("parquet", data_files=_files(out), split="train", cache_dir=str(out.parent / "hf-cache"))
    assert ds.num_rows == stats["windows"] == 15
    assert ds.features["audio"] == datasets.Audio(sampling_rate=24000)
    assert ds.features["text_tokens"] == datasets.List(datasets.Value("int32"))
    assert ds.features["window_index"] == datasets.Value("int32") and ds.features["id"] == datasets.Value("string")
    table = _table(out)
    assert ds["text_tokens"] == table.column("text_tokens").to_pylist()
    # the undecoded cell is the FLAC file itself
    raw = ds.cast_column("audio", datasets.Audio(decode=False))[0]["audio"]
    data, sr = sf.read(io.BytesIO(raw["bytes"]), always_2d=True)
    assert sr == 24000 and data.shape == (int(WINDOW * 24000), 2)


# --- DuckDB and Polars -------------------------------------------------------------------------------


def test_duckdb_reads_every_column(run: tuple[Path, Path, dict]) -> None:
    import duckdb

    _, out, _ = run
    table = _table(out)
    con = duckdb.connect()
    result = con.execute(f"SELECT * FROM read_parquet({_files(out)!r}) ORDER BY id, window_index")
    columns = [d[0] for d in result.description]
    assert columns == table.column_names
    rows = result.fetchall()
    assert len(rows) == table.num_rows
    expected = sorted(table.to_pylist(), key=lambda r: (r["id"], r["window_index"]))
    for got, want in zip(rows, expected):
        got = dict(zip(columns, got))
        assert got["text_tokens"] == want["text_tokens"] and got["words"] == want["words"]
        assert got["audio"] == want["audio"] and got["quality"] == want["quality"]
    # typed access from SQL: struct field, list length
    frames = con.execute(
        f"SELECT sum(len(text_tokens)), sum(octet_length(audio.bytes)) FROM read_parquet({_files(out)!r})"
    ).fetchone()
    assert frames == (
        sum(len(t) for t in table.column("text_tokens").to_pylist()),
        sum(len(a["bytes"]) for a in table.column("audio").to_pylist()),
    )


def test_polars_reads_every_column(run: tuple[Path, Path, dict]) -> None:
    import polars as pl

    _, out, _ = run
    table = _table(out)
    frame = pl.read_parquet(_files(out))
    assert frame.columns == table.column_names and frame.height == table.num_rows
    assert frame.schema["text_tokens"] == pl.List(pl.Int32)
    assert frame.schema["audio"] == pl.Struct({"bytes": pl.Binary, "path": pl.String})
    assert frame.to_dicts() == table.to_pylist()


# --- moshi-finetune's text stream, reproduced from its published source ------------------------------


def moshi_tokenize(tokenizer: spm.SentencePieceProcessor, text: str, bos: bool = True) -> list[int]:
    """finetune/data/interleaver.py::tokenize (alpha=None)."""
    nl_piece = tokenizer.encode("\n")[-1]
    tokens = tokenizer.encode(text.split("\n"))
    tokens = reduce(lambda a, b: [*a, nl_piece, *b], tokens)
    if bos:
        tokens = [tokenizer.bos_id(), *tokens]
    return tokens


def moshi_prepare_item(tokenizer: spm.SentencePieceProcessor, alignments: list, segment_duration: float) -> list[int]:
    """Interleaver(keep_main_only=True, keep_and_shift=False, audio_delay=0).prepare_item + build_token_stream."""
    tokenized = [
        (moshi_tokenize(tokenizer, w.strip(), bos=False), ts, spk) for w, ts, spk in sorted(alignments, key=lambda x: x[1][0])
    ]
    tokenized = [a for a in tokenized if a[2] == "SPEAKER_MAIN"]
    tokenized = [a for a in tokenized if a[1][0] < a[1][1]]
    T = math.ceil(segment_duration * FRAME_RATE)
    text_tokens = [PAD] * T
    i = 0
    stack: deque = deque()
    last_word_end = -1
    for t in range(T):
        while i < len(tokenized) and tokenized[i][1][0] * FRAME_RATE < t + 1:
            last_word_end = int(tokenized[i][1][1] * FRAME_RATE)
            stack = deque(tokenized[i][0])
            i += 1
        if stack:
            if t > 0 and text_tokens[t - 1] in [PAD, IN_WORD]:
                text_tokens[t - 1] = EPAD
            text_tokens[t] = stack.popleft()
        elif t <= last_word_end:
            text_tokens[t] = IN_WORD
    return text_tokens


def dicho(alignment: list, val: float, i: int = 0, j: int | None = None) -> int:
    if j is None:
        j = len(alignment)
    if i == j:
        return i
    k = (i + j) // 2
    if alignment[k][1][0] < val:
        return dicho(alignment, val, k + 1, j)
    return dicho(alignment, val, i, k)


def moshi_text_streams(
    tokenizer: spm.SentencePieceProcessor, moshi_dir: Path, duration_sec: float
) -> dict[tuple[str, int], tuple[list[int], int]]:
    """{(id, window): (text tokens, audio frames)} the way moshi-finetune trains on `moshi_dir/manifest.jsonl`.

    dataset.py chunks each entry at 0, duration_sec, ... < duration; sphn reads the chunk padded and
    `wav[..., :unpadded_len]` cuts the padding; Mimi gives ceil(samples / 1920) frames;
    InterleavedTokenizer passes that *frame count* as `segment_duration` to prepare_item and pads
    (or cuts) the text to ceil(duration_sec * 12.5) with the zero token.
    """
    num_audio_frames = math.ceil(duration_sec * FRAME_RATE)
    out = {}
    for line in (moshi_dir / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        wav = moshi_dir / entry["path"]
        total = sf.info(str(wav)).frames
        alignments = json.loads(wav.with_suffix(".json").read_text())["alignments"]
        start_sec, index = 0.0, 0
        while start_sec < entry["duration"]:
            first = int(round(start_sec * SAMPLE_RATE))
            unpadded = min(total - first, int(round(duration_sec * SAMPLE_RATE)))
            this_num_audio_frames = min(math.ceil(unpadded / FRAME_SIZE), num_audio_frames)
            a, b = dicho(alignments, start_sec), dicho(alignments, start_sec + duration_sec)
            window = [(w[0], (w[1][0] - start_sec, w[1][1] - start_sec), w[2]) for w in alignments[a:b]]
            text = moshi_prepare_item(tokenizer, window, this_num_audio_frames)
            text = (text + [ZERO] * num_audio_frames)[:num_audio_frames]
            out[(wav.stem, index)] = (text, this_num_audio_frames)
            start_sec += duration_sec
            index += 1
    return out


def test_text_tokens_are_moshi_finetunes_text_stream(run: tuple[Path, Path, dict]) -> None:
    tokenizer_path, out, stats = run
    tokenizer = spm.SentencePieceProcessor(model_file=str(tokenizer_path))
    expected = moshi_text_streams(tokenizer, out / "moshi", WINDOW)
    rows = {(r["id"], r["window_index"]): r for r in _table(out).to_pylist()}
    assert sorted(rows) == sorted(expected) and len(rows) == stats["windows"]
    newline = tokenizer.piece_to_id("\n")
    zero_tail = 0
    for key, row in rows.items():
        theirs, audio_frames = expected[key]
        ours = row["text_tokens"]
        assert len(ours) == len(theirs) == row["num_frames"]
        assert audio_frames == math.ceil(round(row["valid_duration"] * SAMPLE_RATE) / FRAME_SIZE)
        # identical wherever moshi-finetune has a text token; where it has the zero token (the tail of a short
        # last window, past ceil(frames * 12.5): it passes a frame count as seconds), the shard says PAD over
        # the zero-padded audio
        for t, (a, b) in enumerate(zip(ours, theirs)):
            if b == ZERO:
                assert a == PAD and t >= audio_frames, (key, t)
                zero_tail += 1
            else:
                assert a == b, (key, t, a, b)
    # the check is not vacuous: words, EPADs, multi-line words and short last windows all occur
    all_tokens = [t for row in rows.values() for t in row["text_tokens"]]
    assert sum(t not in (PAD, EPAD) for t in all_tokens) > 300 and EPAD in all_tokens
    assert all_tokens.count(newline) >= 3  # some multi-line words are cut by the next word before their newline
    assert sum(row["padded"] for row in rows.values()) >= 5  # short last windows (their zero tail needs < 0.8 s here)
    assert zero_tail == sum(max(0, len(row["text_tokens"]) - math.ceil(expected[k][1] * FRAME_RATE)) for k, row in rows.items())


def test_moshi_finetune_trains_on_the_moshi_layout(run: tuple[Path, Path, dict]) -> None:
    """The moshi-finetune files themselves: 24 kHz stereo WAVs, exact durations, alignments sorted by start."""
    _, out, _ = run
    for line in (out / "moshi" / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        info = sf.info(str(out / "moshi" / entry["path"]))
        assert (info.samplerate, info.channels) == (24000, 2) and entry["duration"] == info.frames / 24000
        starts = [a[1][0] for a in json.loads((out / "moshi" / entry["path"]).with_suffix(".json").read_text())["alignments"]]
        assert starts == sorted(starts)
