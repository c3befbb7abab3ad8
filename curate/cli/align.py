"""`curate align` (registered by curate.cli)."""

from __future__ import annotations

from pathlib import Path

import typer

from curate.core.config import pipeline_path

DEFAULT_PIPELINE = pipeline_path("align")


def align(
    inputs: list[str] = typer.Argument(
        ...,
        help="Audio files (wav/flac/mp3/ogg/m4a), directories, globs, or a JSONL manifest "
        "(path, optional transcript, rttm, language, speakers, id).",
    ),
    output: str = typer.Option(
        ...,
        "--output",
        "-o",
        help="Output directory or URL (s3://bucket/prefix): alignments/<id>.json, stats.json, errors.jsonl.",
    ),
    config_file: Path = typer.Option(
        DEFAULT_PIPELINE, "--config", help="Pipeline YAML (its `align` stage); CLI options override it."
    ),
    backend: str | None = typer.Option(
        None, help="ASR backend: faster-whisper (CPU/GPU, no torch) or whisperx (extra curate\\[whisperx])."
    ),
    asr_model: str | None = typer.Option(
        None, help="CTranslate2 Whisper model dir (default: bundled Whisper base, `make models`)."
    ),
    align_model: str | None = typer.Option(None, help="whisperx: local wav2vec2 CTC model dir for alignment."),
    device: str | None = typer.Option(None, help="auto | cpu | cuda."),
    compute_type: str | None = typer.Option(None, help="CTranslate2 compute type (int8, float16, ...)."),
    cpu_threads: int | None = typer.Option(
        None, help="Threads per ASR actor on CPU (1 is the most efficient per core; add actors instead)."
    ),
    language: str | None = typer.Option(None, help="Force the language (default: detect; a manifest row may set it)."),
    main_channel: int | None = typer.Option(None, help="Stereo input: the channel of the main speaker (Moshi's side)."),
    main_speaker: str | None = typer.Option(
        None, help="Diarized mono: main speaker = who speaks most, or 'random' (with --seed)."
    ),
    seed: int | None = typer.Option(None, help="Seed for --main-speaker random."),
    diarization_model: str | None = typer.Option(
        None, help="Local pyannote pipeline dir to diarize mono files (same as --diarization pyannote:DIR)."
    ),
    diarization: str | None = typer.Option(
        None,
        help="Mono files: auto (the item's rttm, else builtin when two streams are asked for) | none | rttm | builtin "
        "| pyannote:DIR (default auto).",
    ),
    streams: int | None = typer.Option(
        None, help="2: split mono files into main speaker / others (built-in diarizer unless an rttm is given); 1: never split."
    ),
    num_speakers: int | None = typer.Option(None, help="Speaker count for the diarizer (default: estimated)."),
    segmentation: str | None = typer.Option(
        None,
        help="Built-in diarizer's segmentation model: pyannote (default) or pyannote-3.0 (better on meetings and "
        "far-field audio, best with --num-speakers: docs/diarization.md).",
    ),
    refine: str | None = typer.Option(
        None, help="Word-timing refinement: sphinx (pocketsphinx forced alignment, English) or off."
    ),
    asr_workers: int | None = typer.Option(None, help="ASR actors (default: workers // cpu-threads; one per GPU)."),
    workers: int | None = typer.Option(None, help="CPUs for local Ray (default: all)."),
    address: str | None = typer.Option(None, envvar="RAY_ADDRESS", help="Join an existing Ray cluster."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Skip files already committed by a previous run."),
    storage_option: list[str] | None = typer.Option(
        None, "--storage-option", help="fsspec option KEY=VALUE for s3:// and other URLs (repeatable); default: AWS_*, ~/.aws."
    ),
) -> None:
    """Audio -> per-speaker words with timestamps (alignments/<id>.json), on Ray."""
    from curate.align.pipeline import AlignConfig, run_align
    from curate.core.config import configure_storage, load_config
    from curate.report.summary import align_summary

    overrides = dict(
        backend=backend,
        asr_model=asr_model,
        align_model=align_model,
        device=device,
        compute_type=compute_type,
        cpu_threads=cpu_threads,
        language=language,
        main_channel=main_channel,
        main_speaker=main_speaker,
        seed=seed,
        diarization_model=diarization_model,
        diarization=diarization,
        streams=streams,
        num_speakers=num_speakers,
        segmentation=segmentation,
        refine=refine,
        asr_workers=asr_workers,
    )
    try:
        config = load_config(AlignConfig, config_file, overrides, stage="align")
        config.validate()
        configure_storage(config_file, storage_option)
        stats = run_align(inputs, output, config, address=address, workers=workers, resume=resume)
    except (ValueError, OSError) as exc:  # a user error: bad option, missing input or model, unwritable output
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except RuntimeError as exc:  # failed items or counts that do not reconcile: nothing is presented as done
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(align_summary(stats), err=True)
    import json

    files = stats["files"]
    typer.echo(json.dumps({"files": files, "words": stats.get("words", {}).get("out", 0), "reconciled": stats["reconciled"]}))
    out = output.rstrip("/")
    typer.echo(f"alignments: {out}/alignments  stats: {out}/stats.json  errors: {out}/errors.jsonl")


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    """Add this package's commands to the main app (`app`) and to `curate train` (`train_app`)."""
    app.command("align")(align)
