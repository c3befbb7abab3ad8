"""Benchmark of the Inner Monologue shards stage (issue 5, item 8):

    .venv/bin/python -m bench.bench_shards [--copies 4] [--tile 6] [--tokenizer PATH]

1. PAD share of the text stream on the real speech in ../shared/data/speech/mfa, with the reference
   word times of the MFA TextGrids (no ASR error involved): per clip, each speaker's own stream over
   the clip's duration, and overall. The Moshi paper reports ~65% PAD on conversational English.
2. Throughput of layout + FLAC encoding + Parquet writing: `run_shards` in-process (one core) on
   long stereo files built by tiling `michaelandsickmichael.wav` (real speech on both channels) with
   100 s windows; windows/s per CPU second, and the cost of each step measured apart on one file.

The tokenizer: `--tokenizer PATH` (e.g. Moshi's tokenizer_spm_32k_3.model), else one trained here with
`curate train tokenizer`'s recipe on the public-domain books in ../shared/data/text (vocab 8,000: the
books are too small for 32,000 pieces). Results: markdown on stdout, bench/results/shards.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
MFA = SHARED / "speech" / "mfa"
BOOKS = [
    SHARED / "text" / "hq" / "books" / "pg1342_pride_and_prejudice.txt",
    SHARED / "text" / "hq" / "books" / "tinyshakespeare.txt",
]
COLD_OFFSET = 26.72325  # cold_corpus.wav starts there on channel 1 of michaelandsickmichael.wav
RESULTS = ROOT / "bench" / "results"


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def reference(textgrid: str, speaker: str, offset: float = 0.0) -> list[list[Any]]:
    from curate.align.textgrid import reference_words

    return [[w.text, [w.start, w.end], speaker] for w in reference_words(MFA / textgrid, offset=offset)]


def clips() -> dict[str, dict[str, Any]]:
    """Alignment records with reference word times: the stereo conversation-like file and the single clips."""
    stereo = reference("acoustic_corpus.TextGrid", "SPEAKER_MAIN") + reference(
        "cold_corpus.TextGrid", "SPEAKER_OTHER", COLD_OFFSET
    )
    out = {
        "michaelandsickmichael (stereo)": {
            "source": str(MFA / "michaelandsickmichael.wav"),
            "alignments": sorted(stereo, key=lambda w: w[1][0]),
        }
    }
    for name in ("acoustic_corpus", "cold_corpus", "cold_corpus3"):
        source = MFA / f"{name}.wav"
        if (MFA / f"{name}.TextGrid").exists():
            out[name] = {"source": str(source), "alignments": reference(f"{name}.TextGrid", "SPEAKER_MAIN")}
    for record in out.values():
        record["duration"] = sf.info(record["source"]).duration
    return out


def tokenizer_model(path: str | None, workdir: Path) -> str:
    if path:
        return path
    from curate.training.tokenizer import train_tokenizer

    texts = [p for book in BOOKS if book.exists() for p in book.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    pq.write_table(pa.table({"text": texts}), workdir / "books.parquet")
    return train_tokenizer([str(workdir / "books.parquet")], workdir / "books.model", vocab_size=8000)["model"]


def pad_share(records: dict[str, dict[str, Any]], model: str) -> dict[str, Any]:
    from curate.shards.build import WordTokenizer
    from curate.shards.stream import TextStreamConfig, build_text_stream, main_speaker_words

    tok = WordTokenizer(model)
    config = TextStreamConfig()
    rows, total_frames, total_pad = [], 0, 0
    for name, record in records.items():
        for speaker in sorted({w[2] for w in record["alignments"]}):
            words = main_speaker_words(record["alignments"], tok.encode, tok.newline_id, main_speaker=speaker)
            if not words:
                continue
            # each speaker's stream spans the whole file, as in a conversation: it pads while the other one talks
            stream = build_text_stream(words, record["duration"], config)
            pads = sum(1 for t in stream if t == config.pad)
            rows.append(
                {
                    "clip": name,
                    "speaker": speaker,
                    "seconds": round(record["duration"], 2),
                    "words": len(words),
                    "tokens_per_word": round(sum(len(w.tokens) for w in words) / len(words), 2),
                    "frames": len(stream),
                    "pad_share": round(pads / len(stream), 4),
                    "epad_share": round(sum(1 for t in stream if t == config.epad) / len(stream), 4),
                }
            )
            total_frames += len(stream)
            total_pad += pads
    return {"per_stream": rows, "overall": round(total_pad / total_frames, 4) if total_frames else None}


def tiled_records(folder: Path, tile: int, copies: int) -> list[Path]:
    """Long stereo files: michaelandsickmichael.wav repeated `tile` times, words shifted accordingly."""
    audio, sr = sf.read(str(MFA / "michaelandsickmichael.wav"), dtype="int16", always_2d=True)
    duration = len(audio) / sr
    long_audio = np.tile(audio, (tile, 1))
    wav = folder / "tiled.wav"
    sf.write(str(wav), long_audio, sr, subtype="PCM_16")
    base = clips()["michaelandsickmichael (stereo)"]["alignments"]
    words = [[w, [s + k * duration, e + k * duration], spk] for k in range(tile) for w, (s, e), spk in base]
    paths = []
    (folder / "alignments").mkdir()
    for c in range(copies):
        record = {
            "id": f"tiled-{c:03d}",
            "source": str(wav),
            "duration": len(long_audio) / sr,
            "language": "en",
            "stream_mode": "stereo",
            "alignments": words,
        }
        path = folder / "alignments" / f"tiled-{c:03d}.json"
        path.write_text(json.dumps(record))
        paths.append(path)
    return paths


def throughput(model: str, workdir: Path, tile: int, copies: int) -> dict[str, Any]:
    from curate.shards.build import ShardsConfig, WordTokenizer, encode_flac, load_streams, parse_record, pcm16, window_rows
    from curate.shards.pipeline import run_shards

    paths = tiled_records(workdir, tile, copies)
    config = ShardsConfig(tokenizer=model, files_per_part=1)
    started_cpu, started = cpu_seconds(), time.perf_counter()
    stats = run_shards([str(workdir / "alignments")], workdir / "out", config, use_ray=False)
    cpu, wall = cpu_seconds() - started_cpu, time.perf_counter() - started
    result: dict[str, Any] = {
        "files": stats["files_ok"],
        "audio_hours": round(stats["audio_seconds"] / 3600, 4),
        "windows": stats["windows"],
        "windows_padded": stats["windows_padded"],
        "cpu_seconds": round(cpu, 2),
        "wall_seconds": round(wall, 2),
        "windows_per_cpu_second": round(stats["windows"] / cpu, 3),
        "audio_seconds_per_cpu_second": round(stats["audio_seconds"] / cpu, 1),
        "shard_mb": round(sum((workdir / "out" / "shards" / s).stat().st_size for s in stats["shards"]) / 1e6, 2),
        "flac_mb": round(stats["audio_bytes"] / 1e6, 2),
        "pcm16_mb": round(stats["windows"] * 100 * 24000 * 2 * 2 / 1e6, 2),
    }
    # cost of each step on one file, measured apart (CPU seconds)
    raw = json.loads(paths[0].read_text())
    steps: dict[str, float] = {}
    t = cpu_seconds()
    samples = pcm16(load_streams(raw, 24000))
    steps["decode + resample 16->24 kHz"] = cpu_seconds() - t
    _, words = parse_record(raw, "x")
    tok = WordTokenizer(model)
    counters = {k: 0 for k in ("windows", "windows_padded", "frames", "pad_frames", "epad_frames", "zero_frames", "audio_bytes")}
    t = cpu_seconds()
    rows = window_rows("x", raw, words, samples, config, tok, counters)
    steps["windows: tokenize + text stream + FLAC"] = cpu_seconds() - t
    t = cpu_seconds()
    for row in rows:
        encode_flac(row["_pcm"], 24000)
    steps["FLAC alone"] = cpu_seconds() - t
    t = cpu_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        sf.write(str(Path(tmp) / "a.wav"), samples.T, 24000, subtype="PCM_16")
    steps["moshi WAV write"] = cpu_seconds() - t
    result["steps_cpu_seconds_one_file"] = {k: round(v, 3) for k, v in steps.items()}
    result["windows_one_file"] = len(rows)
    return result


def markdown(results: dict[str, Any]) -> str:
    pad = results["pad_share"]
    lines = [
        "## Inner Monologue shards",
        "",
        f"Tokenizer: {results['tokenizer']}",
        "",
        "### PAD share of the text stream (reference word times)",
        "",
    ]
    lines += ["| clip | speaker | seconds | words | tokens/word | PAD | EPAD |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in pad["per_stream"]:
        lines.append(
            f"| {r['clip']} | {r['speaker']} | {r['seconds']} | {r['words']} | {r['tokens_per_word']} | {r['pad_share']:.1%} | {r['epad_share']:.1%} |"
        )
    lines += ["", f"Overall PAD share: **{pad['overall']:.1%}** (Moshi paper: ~65% on conversational English).", ""]
    tp = results["throughput"]
    lines += [
        "### Throughput (one core, in-process: layout + FLAC + Parquet)",
        "",
        f"{tp['files']} stereo files, {tp['audio_hours']} h, {tp['windows']} windows of 100 s ({tp['windows_padded']} padded): "
        f"**{tp['windows_per_cpu_second']} windows/s per core** ({tp['audio_seconds_per_cpu_second']}x realtime per core), "
        f"{tp['cpu_seconds']} CPU s, {tp['wall_seconds']} s wall.",
        f"FLAC {tp['flac_mb']} MB vs PCM16 {tp['pcm16_mb']} MB; shards on disk {tp['shard_mb']} MB.",
        "",
        "| step (one file, " + str(tp["windows_one_file"]) + " windows) | CPU s |",
        "|---|---:|",
    ]
    lines += [f"| {k} | {v} |" for k, v in tp["steps_cpu_seconds_one_file"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", help="SentencePiece model (default: train one on the shared books)")
    parser.add_argument("--tile", type=int, default=6, help="repeat the stereo clip this many times per file (6 -> 315 s)")
    parser.add_argument("--copies", type=int, default=4, help="number of long files")
    args = parser.parse_args(argv)
    if not (MFA / "michaelandsickmichael.wav").exists():
        print(f"shared speech data not found at {MFA}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model = tokenizer_model(args.tokenizer, workdir)
        results = {
            "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
            "tokenizer": args.tokenizer or "trained here on the shared books (vocab 8,000, Moshi settings)",
            "pad_share": pad_share(clips(), model),
            "throughput": throughput(model, workdir, args.tile, args.copies),
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "shards.json").write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    (RESULTS / "shards.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
