"""`curate align` (registered by curate.cli)."""

from __future__ import annotations

from pathlib import Path

import typer


def align(
    ctx: typer.Context,
    inputs: list[str] = typer.Argument(
        ...,
        help="Audio files (wav/flac/mp3/ogg/m4a), directories, globs, or a JSONL manifest "
        "(path, optional transcript, rttm, language, speakers, id).",
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Output directory: alignments/<id>.json, stats.json, errors.jsonl."),
    config_file: Path | None = typer.Option(None, "--config", help="YAML file with option defaults (see pipelines/align.yaml)."),
    backend: str = typer.Option(
        "faster-whisper", help="ASR backend: faster-whisper (CPU/GPU, no torch) or whisperx (extra curate\\[whisperx])."
    ),
    asr_model: str | None = typer.Option(
        None, help="CTranslate2 Whisper model dir (default: bundled Whisper base, `make models`)."
    ),
    align_model: str | None = typer.Option(None, help="whisperx: local wav2vec2 CTC model dir for alignment."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
    compute_type: str = typer.Option("default", help="CTranslate2 compute type (int8, float16, ...)."),
    cpu_threads: int = typer.Option(
        1, help="Threads per ASR actor on CPU (1 is the most efficient per core; add actors instead)."
    ),
    language: str | None = typer.Option(None, help="Force the language (default: detect; a manifest row may set it)."),
    main_channel: int = typer.Option(0, help="Stereo input: the channel of the main speaker (Moshi's side)."),
    main_speaker: str = typer.Option("most", help="Diarized mono: main speaker = who speaks most, or 'random' (with --seed)."),
    seed: int = typer.Option(0, help="Seed for --main-speaker random."),
    diarization_model: str | None = typer.Option(
        None, help="Local pyannote pipeline dir to diarize mono files (or give rttm per file)."
    ),
    refine: str = typer.Option("sphinx", help="Word-timing refinement: sphinx (pocketsphinx forced alignment, English) or off."),
    asr_workers: int | None = typer.Option(None, help="ASR actors (default: workers // cpu-threads; one per GPU)."),
    workers: int | None = typer.Option(None, help="CPUs for local Ray (default: all)."),
    address: str | None = typer.Option(None, envvar="RAY_ADDRESS", help="Join an existing Ray cluster."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Skip files already committed by a previous run."),
) -> None:
    """Audio -> per-speaker words with timestamps (alignments/<id>.json), on Ray."""
    import json

    from curate.align.pipeline import AlignConfig, run_align

    values = dict(
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
        refine=refine,
        asr_workers=asr_workers,
    )
    if config_file:
        import yaml

        from curate.align.items import DropRules

        loaded = (yaml.safe_load(config_file.read_text()) or {}).get("align", {})
        rules = loaded.pop("rules", None)
        for key, value in loaded.items():  # the file gives defaults; explicit options win
            src = ctx.get_parameter_source(key)
            if key in values and (src is None or src.name == "DEFAULT"):
                values[key] = value
        config = AlignConfig(**values, rules=DropRules(**rules) if rules else DropRules())
    else:
        config = AlignConfig(**values)
    stats = run_align(inputs, output, config, address=address, workers=workers, resume=resume)
    files = stats["files"]
    typer.echo(json.dumps({"files": files, "words": stats.get("words", {}).get("out", 0), "reconciled": stats["reconciled"]}))
    typer.echo(f"alignments: {output / 'alignments'}  stats: {output / 'stats.json'}  errors: {output / 'errors.jsonl'}")


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    """Add this package's commands to the main app (`app`) and to `curate train` (`train_app`)."""
    app.command("align")(align)
