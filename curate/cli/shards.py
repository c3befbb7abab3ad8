"""`curate shards`, `curate inner-monologue` and `curate train tokenizer` (registered by curate.cli)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from curate.core.config import configure_storage, pipeline_path
from curate.core.storage import local_output
from curate.report.summary import summary_text

console = Console(stderr=True)
DEFAULT_PIPELINE = pipeline_path("inner_monologue")
FORMATS = {"both": ["moshi", "parquet"], "moshi": ["moshi"], "parquet": ["parquet"]}


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
    return typer.Exit(2)


# Options shared by `curate shards` and `curate inner-monologue`, declared once: (parameter, type, typer option).
SHARED_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("fmt", str | None, typer.Option(None, "--format", help="moshi | parquet | both (default both).")),
    ("tokenizer", str | None, typer.Option(
        None, "--tokenizer", help="SentencePiece model (Moshi's tokenizer_spm_32k_3.model or `curate train tokenizer`).")),
    ("window", float | None, typer.Option(
        None, "--window", help="Seconds per training window (default 100); the last window of a file is padded.")),
    ("shard_size", float | None, typer.Option(None, "--shard-size", help="MB of audio per shard file (default 256).")),
    ("files_per_part", int | None, typer.Option(None, "--files-per-part", help="Alignment files per unit of work (default 16).")),
    ("keep_and_shift", bool | None, typer.Option(
        None, "--keep-and-shift/--cut-words", help="Queue the tokens of overlapping words instead of cutting them.")),
    ("audio_delay", float | None, typer.Option(
        None, "--audio-delay", help="Seconds; > 0 text ahead of audio (TTS-like), < 0 behind (ASR-like) (default 0).")),
    ("pad_id", int | None, typer.Option(None, "--pad-id", help="PAD token id (default 3).")),
    ("epad_id", int | None, typer.Option(None, "--epad-id", help="EPAD (end of padding) token id (default 0).")),
    ("in_word_pad_id", int | None, typer.Option(None, "--in-word-pad-id", help="Padding inside a word after its tokens (default = PAD).")),
    ("zero_id", int | None, typer.Option(
        None, "--zero-id", help="Zero token for the frames before text starts with a negative delay (default -1).")),
    ("main_speaker", str | None, typer.Option(None, "--main-speaker", help="Speaker label of the main stream (default SPEAKER_MAIN).")),
    ("max_overlap_share", float | None, typer.Option(
        None, "--max-overlap-share", help="Drop windows of diarized files whose overlapped-speech share is above this (0-1).")),
    ("mimi_weights", str | None, typer.Option(
        None, "--mimi-weights", help="Mimi checkpoint: adds `codes` int16 [16, T] per window (extra curate\\[mimi]).")),
    ("mimi_device", str | None, typer.Option(None, "--mimi-device", help="cpu | cuda (default cuda when present).")),
    ("workers", int | None, typer.Option(None, "--workers", help="Ray CPU workers (default: CPUs of the local machine).")),
    ("address", str | None, typer.Option(
        None, "--address", envvar="RAY_ADDRESS", help="Ray cluster address (default: start local Ray).")),
    ("resume", bool, typer.Option(True, "--resume/--no-resume", help="Skip parts finished by an earlier run of the same command.")),
    ("config_path", Path, typer.Option(
        DEFAULT_PIPELINE, "--config", help="Pipeline YAML (its `shards` stage); CLI options override it.")),
    ("storage_option", list[str] | None, typer.Option(
        None, "--storage-option", help="fsspec option KEY=VALUE for s3:// and other URLs (repeatable); default: AWS_*, ~/.aws.")),
)  # fmt: skip
# option -> ShardsConfig field, where the names differ
CONFIG_FIELDS = {
    "shard_size": "shard_size_mb",
    "pad_id": "pad",
    "epad_id": "epad",
    "in_word_pad_id": "in_word_pad",
    "zero_id": "zero",
}
RUN_OPTIONS = ("workers", "address", "resume", "config_path", "storage_option")


def _with_shared_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give `command(inputs, output, **options)` the shared options as parameters (typer reads `__signature__`)."""
    head = list(inspect.signature(command).parameters.values())[:2]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
        for name, kind, option in SHARED_OPTIONS
    ]
    command.__signature__ = inspect.Signature([*head, *shared])  # type: ignore[attr-defined]
    return command


def _shards_config(options: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """(align stage options, ShardsConfig) from the pipeline YAML and the command-line options."""
    from curate.shards.build import load_pipeline_yaml

    fmt = options.get("fmt")
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"--format must be moshi, parquet or both, not {fmt!r}")
    align_options, config = load_pipeline_yaml(options["config_path"])
    overrides = {CONFIG_FIELDS.get(k, k): v for k, v in options.items() if k not in ("fmt", *RUN_OPTIONS)}
    config = config.override(formats=FORMATS[fmt] if fmt else None, **overrides)
    config.validate()
    return align_options, config


@_with_shared_options
def shards(
    inputs: list[str] = typer.Argument(
        ..., metavar="INPUT...", help="Alignment JSON files, folders (DIR or DIR/alignments of `curate align`) or globs."
    ),
    output: str = typer.Option(
        ..., "--output", "-o", help="Output folder or URL (s3://bucket/prefix): moshi/, shards/, stats.json, errors.jsonl."
    ),
    **options: Any,
) -> None:
    """Alignments -> Inner Monologue training data: the moshi-finetune layout (stereo 24 kHz WAV + per-file
    JSON + manifest.jsonl) and Parquet shards of windows (FLAC audio, 12.5 Hz text stream, words)."""
    from curate.shards.pipeline import run_shards

    try:
        _, config = _shards_config(options)
        configure_storage(options["config_path"], options["storage_option"])
        stats = run_shards(
            inputs, output, config, address=options["address"], workers=options["workers"], resume=options["resume"]
        )
    except (ValueError, OSError) as exc:
        raise _fail(exc) from exc
    console.print(summary_text(stats, "shards"))
    out = output.rstrip("/")
    console.print(
        f"moshi:  {out}/moshi\nshards: {out}/shards\nstats:  {out}/stats.json\nerrors: {out}/errors.jsonl", soft_wrap=True
    )


@_with_shared_options
def inner_monologue(
    inputs: list[str] = typer.Argument(
        ..., metavar="INPUT...", help="Audio files, folders, globs or a JSONL manifest (as `curate align`)."
    ),
    output: str = typer.Option(
        ..., "--output", "-o", help="Output folder or URL: align/ (alignments, its stats), moshi/, shards/, stats.json."
    ),
    **options: Any,
) -> None:
    """Audio -> aligned words -> Inner Monologue shards in one go (pipelines/inner_monologue.yaml), on Ray, resumable."""
    from curate.shards.pipeline import run_inner_monologue

    try:
        align_options, config = _shards_config(options)
        configure_storage(options["config_path"], options["storage_option"])
        stats = run_inner_monologue(
            inputs,
            output,
            align_options,
            config,
            address=options["address"],
            workers=options["workers"],
            resume=options["resume"],
        )
    except (ValueError, OSError, ImportError) as exc:
        raise _fail(exc) from exc
    console.print(summary_text(stats, "shards"))
    out = output.rstrip("/")
    console.print(f"alignments: {out}/align/alignments\nmoshi:      {out}/moshi\nshards:     {out}/shards", soft_wrap=True)


def train_tokenizer_command(
    inputs: list[str] = typer.Option(
        ..., "--input", "-i", help="Helium corpus Parquet files or folders (column `text`); repeatable."
    ),
    output: str = typer.Option(..., "--output", "-o", help="Model path or URL (`.model`; a `.vocab` is written beside it)."),
    vocab_size: int = typer.Option(32000, "--vocab-size", help="Pieces (Moshi: 32,000)."),
    column: str = typer.Option("text", "--column", help="Text column of the Parquet files."),
    threads: int = typer.Option(1, "--threads", help="SentencePiece trainer threads."),
) -> None:
    """Train a SentencePiece unigram tokenizer with Moshi's settings (digits split, byte fallback,
    unk 0 / bos 1 / eos 2 / pad 3) on the Helium corpus."""
    from curate.training.tokenizer import train_tokenizer

    try:
        with local_output(output) as local:  # a URL: trained in spill space, then uploaded
            summary = train_tokenizer(inputs, local, vocab_size=vocab_size, column=column, num_threads=threads)
        if "://" in output:
            summary["model"] = output
    except (ValueError, OSError, RuntimeError) as exc:
        raise _fail(exc) from exc
    typer.echo(json.dumps(summary, indent=2))


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    """Add this package's commands to the main app (`app`) and to `curate train` (`train_app`)."""
    app.command("shards")(shards)
    app.command("inner-monologue")(inner_monologue)
    train_app.command("tokenizer")(train_tokenizer_command)
