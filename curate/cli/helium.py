"""`curate helium`: the Helium text pipeline from the command line (registered by curate.cli)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from curate.core.config import configure_storage
from curate.helium.config import DEFAULT_PIPELINE, HeliumConfig

console = Console(stderr=True)


def _progress_reporter(progress: Progress) -> Any:
    task = progress.add_task("parts", total=None)
    state = {"bytes": 0, "docs": 0}

    def on_progress(event: str, info: dict[str, Any]) -> None:
        if event == "start":
            progress.update(task, total=info["parts"], completed=info["done"])
        elif event == "skipped":
            pass  # already counted as done at start
        elif event == "done":
            state["bytes"] += info.get("bytes_in", 0)
            state["docs"] += info.get("documents_in", 0)
            progress.update(task, advance=1, description=f"parts ({state['docs']:,} docs, {state['bytes'] / 1e6:,.1f} MB)")

    return on_progress


_LANG_KEY = re.compile(r"^[a-z]{2,3}(_[A-Za-z]{4})?$")


def parse_quality_models(values: list[str]) -> tuple[str | None, dict[str, str]]:
    """`--quality-model` values: PATH (the default model) or LANG=PATH (one language's model)."""
    default: str | None = None
    per_language: dict[str, str] = {}
    for value in values:
        lang, sep, path = value.partition("=")
        if sep and _LANG_KEY.match(lang):
            if lang in per_language:
                raise ValueError(f"--quality-model {lang}= given twice")
            per_language[lang] = path
        elif default is not None:
            raise ValueError("--quality-model: only one model without a LANG= prefix")
        else:
            default = value
    return default, per_language


def helium(
    inputs: list[str] = typer.Argument(
        ...,
        metavar="INPUT...",
        help="WET files, directories, globs, CommonCrawl *.paths(.gz) lists or fsspec URLs (s3://, https://).",
    ),
    output: str = typer.Option(
        ..., "--output", "-o", help="Output folder or URL (s3://bucket/prefix): documents/*.parquet, stats.json, errors.jsonl."
    ),
    config_path: Path = typer.Option(DEFAULT_PIPELINE, "--config", help="Pipeline YAML; CLI options override it."),
    input_base: str | None = typer.Option(
        None,
        "--input-base",
        help="Base URL for the relative entries of *.paths(.gz) lists, e.g. s3://commoncrawl/ [https://data.commoncrawl.org/].",
    ),
    storage_option: list[str] | None = typer.Option(
        None,
        "--storage-option",
        help="fsspec option KEY=VALUE for s3:// and other URLs (repeatable), e.g. endpoint_url=http://host:8333, "
        "key=..., secret=...; added to the YAML's storage_options block. Default: AWS_* variables, ~/.aws.",
    ),
    workers: int | None = typer.Option(None, "--workers", help="Processor actors (default: CPUs of the local machine)."),
    address: str | None = typer.Option(
        None, "--address", envvar="RAY_ADDRESS", help="Ray cluster address (default: start local Ray)."
    ),
    input_format: str | None = typer.Option(
        None, "--input-format", help="wet (conversion records) | warc (HTML response records) | auto (both, mixed); default wet."
    ),
    extractor: str | None = typer.Option(
        None, "--extractor", help="Main-content extractor for WARC HTML: resiliparse | trafilatura; default resiliparse."
    ),
    languages: str | None = typer.Option(
        None, "--languages", help="Comma-separated languages to keep (en, en,fr,de) or all; thresholds per language in the YAML."
    ),
    lid_threshold: float | None = typer.Option(None, "--lid-threshold", help="Minimum language-ID probability [default 0.85]."),
    lid_model: str | None = typer.Option(None, "--lid-model", help="fastText LID model (default: bundled lid.176.ftz)."),
    lid: bool | None = typer.Option(None, "--lid/--no-lid", help="Run language ID [default on]."),
    dedup: str | None = typer.Option(None, "--dedup", help="Exact line dedup policy: keep-first | drop-all | off."),
    normalization: str | None = typer.Option(
        None, "--normalization", help="Line normalization before hashing: strip | ccnet; default ccnet."
    ),
    dedup_mode: str | None = typer.Option(None, "--dedup-mode", help="Seen-line set: bloom (bounded memory) | exact."),
    bloom_fp_rate: float | None = typer.Option(None, "--bloom-fp-rate", help="Target bloom false-positive rate [1e-3]."),
    bloom_expected_lines: int | None = typer.Option(
        None, "--bloom-expected-lines", help="Bloom sizing per shard (0 = from input size)."
    ),
    shard_by: str | None = typer.Option(None, "--shard-by", help="Dedup shards: segment | files:N | all."),
    near_dup_spread: int | None = typer.Option(
        None,
        "--near-dup-spread",
        help="Remove lines whose near-duplicate keys are on >= N pages of their host in the shard; 0 = off; default 4.",
    ),
    near_dup_files: int | None = typer.Option(
        None,
        "--near-dup-files",
        help="Near-duplicate counts cover groups of N consecutive files of a shard (memory); 0 = the whole shard; default 8.",
    ),
    dedup_model: str | None = typer.Option(None, "--dedup-model", help="fastText dup/unique line model; enables fuzzy dedup."),
    fuzzy_threshold: float | None = typer.Option(
        None, "--fuzzy-threshold", help="P(dup) at which a line is dup-like; default 0.8."
    ),
    min_block: int | None = typer.Option(None, "--min-block", help="Remove runs of at least this many dup-like lines [2]."),
    quality_model: list[str] | None = typer.Option(
        None,
        "--quality-model",
        help="9-category fastText quality model, PATH (all languages) or LANG=PATH (one language); repeatable. Enables the quality stage.",
    ),
    gopher_quality: bool | None = typer.Option(None, "--gopher-quality/--no-gopher-quality", help="Gopher quality rules."),
    gopher_repetition: bool | None = typer.Option(
        None, "--gopher-repetition/--no-gopher-repetition", help="Gopher repetition rules."
    ),
    c4_lines: bool | None = typer.Option(None, "--c4-lines/--no-c4-lines", help="C4 line rules."),
    quality_threshold: float | None = typer.Option(
        None, "--quality-threshold", help="Keep documents with quality_score >= this [0.5]."
    ),
    minhash: bool | None = typer.Option(
        None,
        "--minhash/--no-minhash",
        help="MinHash near-duplicate document dedup across all shards (5-grams, 14 bands x 8) [default off].",
    ),
    keep_rejected: bool | None = typer.Option(
        None, "--keep-rejected/--no-keep-rejected", help="Also write dropped documents to rejected/."
    ),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Skip parts finished by an earlier run of the same command."),
) -> None:
    """Build the Helium text corpus from CommonCrawl WET files: exact line dedup (per shard, bloom filter),
    fuzzy dedup, language ID and quality filtering, written as Parquet on local Ray or a cluster."""
    from curate.helium.pipeline import run_helium
    from curate.report.summary import helium_summary

    try:
        default_quality, per_language_quality = parse_quality_models(quality_model or [])
        overrides: dict[str, Any] = {
            "input_format": input_format,
            "extractor": extractor,
            "gopher_quality": gopher_quality,
            "gopher_repetition": gopher_repetition,
            "c4_lines": c4_lines,
            "languages": [x.strip() for x in languages.split(",") if x.strip()] if languages is not None else None,
            "lid_threshold": lid_threshold,
            "lid_model": lid_model,
            "lid": lid,
            "dedup": dedup,
            "normalization": normalization,
            "dedup_mode": dedup_mode,
            "bloom_fp_rate": bloom_fp_rate,
            "bloom_expected_lines": bloom_expected_lines,
            "shard_by": shard_by,
            "near_dup_spread": near_dup_spread,
            "near_dup_files": near_dup_files,
            "dedup_model": dedup_model,
            "fuzzy": True if dedup_model else None,
            "fuzzy_threshold": fuzzy_threshold,
            "min_block": min_block,
            "quality_model": default_quality,
            "quality_models": per_language_quality or None,  # LANG=PATH options replace the YAML's mapping
            "quality": True if quality_model else None,
            "quality_threshold": quality_threshold,
            "minhash": minhash,
            "keep_rejected": keep_rejected,
        }
        config = HeliumConfig.load(config_path, overrides)
        configure_storage(config_path, storage_option)
        config.validate()
    except (ValueError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from exc
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,  # logs and pipes get the summary, not bar frames
    ) as progress:
        try:
            stats = run_helium(
                inputs,
                output,
                config,
                address=address,
                workers=workers,
                resume=resume,
                on_progress=_progress_reporter(progress),
                input_base=input_base,
            )
        except (ValueError, OSError) as exc:  # bad input, unreadable input or unwritable output
            console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
            raise typer.Exit(2) from exc
        except RuntimeError as exc:  # failed parts or counts that do not reconcile: nothing is presented as done
            console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
            raise typer.Exit(1) from exc
    console.print(helium_summary(stats))
    out = output.rstrip("/")
    console.print(f"documents: {out}/documents\nstats:     {out}/stats.json\nerrors:    {out}/errors.jsonl", soft_wrap=True)


def demo(
    output: Path = typer.Option(Path("demo-output"), "--output", "-o", help="Where the sample input and all outputs go."),
    workers: int | None = typer.Option(None, "--workers", help="Processor actors (default: all CPUs)."),
) -> None:
    """Run the main job on a built-in sample (no downloads): build a few WET files, train the dedup and
    quality classifiers on them, run the whole Helium chain on local Ray, train a small tokenizer on
    the corpus, write the report, and print where everything is."""
    from curate.helium.demo import run_demo
    from curate.report.page import write_report
    from curate.report.summary import helium_summary

    stats = run_demo(output, workers)
    console.print(helium_summary(stats))
    console.print(f"report:       {write_report(output / 'helium')}")
    console.print(
        f"sample input: {output / 'input'}\ncorpus:       {output / 'helium' / 'documents'}\n"
        f"summary:      {output / 'helium' / 'stats.json'}\nerrors:       {output / 'helium' / 'errors.jsonl'}\n"
        f"models:       {output / 'models'} (dedup.bin, quality.bin with model cards; tokenizer.model)"
    )
    warc = json.loads((output / "helium-warc" / "stats.json").read_text())
    console.print(
        "multilingual WARC run (8 languages, main-content extraction, heuristics, per-language quality):\n"
        + helium_summary(warc)
        + f"\ncorpus:       {output / 'helium-warc' / 'documents'}"
    )


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    app.command("helium")(helium)
    app.command("demo")(demo)
