"""`curate shards`, `curate inner-monologue` and `curate train tokenizer` (registered by curate.cli)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from curate.core.config import pipeline_path
from curate.report.summary import summary_text

console = Console(stderr=True)
DEFAULT_PIPELINE = pipeline_path("inner_monologue")
FORMATS = {"both": ["moshi", "parquet"], "moshi": ["moshi"], "parquet": ["parquet"]}


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(2)


def _shards_config(
    config_path: Path,
    fmt: str | None,
    tokenizer: str | None,
    window: float | None,
    shard_size: float | None,
    files_per_part: int | None,
    keep_and_shift: bool | None,
    audio_delay: float | None,
    pad_id: int | None,
    epad_id: int | None,
    in_word_pad_id: int | None,
    zero_id: int | None,
    main_speaker: str | None,
    mimi_weights: str | None,
    mimi_device: str | None,
) -> tuple[dict[str, Any], Any]:
    from curate.shards.build import load_pipeline_yaml

    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"--format must be moshi, parquet or both, not {fmt!r}")
    align_options, config = load_pipeline_yaml(config_path)
    config = config.override(
        formats=FORMATS[fmt] if fmt else None,
        tokenizer=tokenizer,
        window=window,
        shard_size_mb=shard_size,
        files_per_part=files_per_part,
        keep_and_shift=keep_and_shift,
        audio_delay=audio_delay,
        pad=pad_id,
        epad=epad_id,
        in_word_pad=in_word_pad_id,
        zero=zero_id,
        main_speaker=main_speaker,
        mimi_weights=mimi_weights,
        mimi_device=mimi_device,
    )
    config.validate()
    return align_options, config


# Options shared by both commands (typer needs them spelled out per function).
_FORMAT = typer.Option(None, "--format", help="moshi | parquet | both (default both).")
_TOKENIZER = typer.Option(
    None, "--tokenizer", help="SentencePiece model (Moshi's tokenizer_spm_32k_3.model or `curate train tokenizer`)."
)
_WINDOW = typer.Option(None, "--window", help="Seconds per training window (default 100); the last window of a file is padded.")
_SHARD_SIZE = typer.Option(None, "--shard-size", help="MB of audio per shard file (default 256).")
_FILES_PER_PART = typer.Option(None, "--files-per-part", help="Alignment files per unit of work (default 16).")
_KEEP = typer.Option(None, "--keep-and-shift/--cut-words", help="Queue the tokens of overlapping words instead of cutting them.")
_DELAY = typer.Option(
    None, "--audio-delay", help="Seconds; > 0 text ahead of audio (TTS-like), < 0 behind (ASR-like) (default 0)."
)
_PAD = typer.Option(None, "--pad-id", help="PAD token id (default 3).")
_EPAD = typer.Option(None, "--epad-id", help="EPAD (end of padding) token id (default 0).")
_IN_WORD = typer.Option(None, "--in-word-pad-id", help="Padding inside a word after its tokens (default = PAD).")
_ZERO = typer.Option(None, "--zero-id", help="Zero token for the frames before text starts with a negative delay (default -1).")
_MAIN = typer.Option(None, "--main-speaker", help="Speaker label of the main stream (default SPEAKER_MAIN).")
_MIMI = typer.Option(
    None, "--mimi-weights", help="Mimi checkpoint: adds `codes` int16 [16, T] per window (extra curate\\[mimi])."
)
_MIMI_DEVICE = typer.Option(None, "--mimi-device", help="cpu | cuda (default cuda when present).")
_WORKERS = typer.Option(None, "--workers", help="Ray CPU workers (default: CPUs of the local machine).")
_ADDRESS = typer.Option(None, "--address", envvar="RAY_ADDRESS", help="Ray cluster address (default: start local Ray).")
_RESUME = typer.Option(True, "--resume/--no-resume", help="Skip parts finished by an earlier run of the same command.")
_CONFIG = typer.Option(DEFAULT_PIPELINE, "--config", help="Pipeline YAML (its `shards` stage); CLI options override it.")


def shards(
    inputs: list[str] = typer.Argument(
        ..., metavar="INPUT...", help="Alignment JSON files, folders (DIR or DIR/alignments of `curate align`) or globs."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Output folder: moshi/, shards/, stats.json, errors.jsonl."),
    fmt: str | None = _FORMAT,
    tokenizer: str | None = _TOKENIZER,
    window: float | None = _WINDOW,
    shard_size: float | None = _SHARD_SIZE,
    files_per_part: int | None = _FILES_PER_PART,
    keep_and_shift: bool | None = _KEEP,
    audio_delay: float | None = _DELAY,
    pad_id: int | None = _PAD,
    epad_id: int | None = _EPAD,
    in_word_pad_id: int | None = _IN_WORD,
    zero_id: int | None = _ZERO,
    main_speaker: str | None = _MAIN,
    mimi_weights: str | None = _MIMI,
    mimi_device: str | None = _MIMI_DEVICE,
    workers: int | None = _WORKERS,
    address: str | None = _ADDRESS,
    resume: bool = _RESUME,
    config_path: Path = _CONFIG,
) -> None:
    """Alignments -> Inner Monologue training data: the moshi-finetune layout (stereo 24 kHz WAV + per-file
    JSON + manifest.jsonl) and Parquet shards of windows (FLAC audio, 12.5 Hz text stream, words)."""
    from curate.shards.pipeline import run_shards

    try:
        _, config = _shards_config(
            config_path, fmt, tokenizer, window, shard_size, files_per_part, keep_and_shift, audio_delay,
            pad_id, epad_id, in_word_pad_id, zero_id, main_speaker, mimi_weights, mimi_device,
        )  # fmt: skip
        stats = run_shards(inputs, output, config, address=address, workers=workers, resume=resume)
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(exc) from exc
    console.print(summary_text(stats, "shards"))
    console.print(
        f"moshi:  {output / 'moshi'}\nshards: {output / 'shards'}\nstats:  {output / 'stats.json'}\nerrors: {output / 'errors.jsonl'}"
    )


def inner_monologue(
    inputs: list[str] = typer.Argument(
        ..., metavar="INPUT...", help="Audio files, folders, globs or a JSONL manifest (as `curate align`)."
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Output folder: align/ (alignments, its stats), moshi/, shards/, stats.json."
    ),
    fmt: str | None = _FORMAT,
    tokenizer: str | None = _TOKENIZER,
    window: float | None = _WINDOW,
    shard_size: float | None = _SHARD_SIZE,
    files_per_part: int | None = _FILES_PER_PART,
    keep_and_shift: bool | None = _KEEP,
    audio_delay: float | None = _DELAY,
    pad_id: int | None = _PAD,
    epad_id: int | None = _EPAD,
    in_word_pad_id: int | None = _IN_WORD,
    zero_id: int | None = _ZERO,
    main_speaker: str | None = _MAIN,
    mimi_weights: str | None = _MIMI,
    mimi_device: str | None = _MIMI_DEVICE,
    workers: int | None = _WORKERS,
    address: str | None = _ADDRESS,
    resume: bool = _RESUME,
    config_path: Path = _CONFIG,
) -> None:
    """Audio -> aligned words -> Inner Monologue shards in one go (pipelines/inner_monologue.yaml), on Ray, resumable."""
    from curate.shards.pipeline import run_inner_monologue

    try:
        align_options, config = _shards_config(
            config_path, fmt, tokenizer, window, shard_size, files_per_part, keep_and_shift, audio_delay,
            pad_id, epad_id, in_word_pad_id, zero_id, main_speaker, mimi_weights, mimi_device,
        )  # fmt: skip
        stats = run_inner_monologue(inputs, output, align_options, config, address=address, workers=workers, resume=resume)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        raise _fail(exc) from exc
    console.print(summary_text(stats, "shards"))
    console.print(
        f"alignments: {output / 'align' / 'alignments'}\nmoshi:      {output / 'moshi'}\nshards:     {output / 'shards'}"
    )


def train_tokenizer_command(
    inputs: list[str] = typer.Option(
        ..., "--input", "-i", help="Helium corpus Parquet files or folders (column `text`); repeatable."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Model path (`.model`; a `.vocab` is written beside it)."),
    vocab_size: int = typer.Option(32000, "--vocab-size", help="Pieces (Moshi: 32,000)."),
    column: str = typer.Option("text", "--column", help="Text column of the Parquet files."),
    threads: int = typer.Option(1, "--threads", help="SentencePiece trainer threads."),
) -> None:
    """Train a SentencePiece unigram tokenizer with Moshi's settings (digits split, byte fallback,
    unk 0 / bos 1 / eos 2 / pad 3) on the Helium corpus."""
    from curate.training.tokenizer import train_tokenizer

    try:
        summary = train_tokenizer(inputs, output, vocab_size=vocab_size, column=column, num_threads=threads)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        raise _fail(exc) from exc
    typer.echo(json.dumps(summary, indent=2))


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    """Add this package's commands to the main app (`app`) and to `curate train` (`train_app`)."""
    app.command("shards")(shards)
    app.command("inner-monologue")(inner_monologue)
    train_app.command("tokenizer")(train_tokenizer_command)
