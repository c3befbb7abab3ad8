"""`curate report DIR`: the run report as one self-contained HTML page (registered by curate.cli)."""

from __future__ import annotations

from pathlib import Path

import typer


def report(
    run_dir: str = typer.Argument(
        ...,
        metavar="DIR",
        help="A run folder or URL (s3://bucket/run): the --output of `curate helium`, `align`, `shards` or `inner-monologue`.",
    ),
    output: str | None = typer.Option(None, "--output", "-o", help="Where to write the page (default: DIR/report.html)."),
    storage_option: list[str] | None = typer.Option(
        None, "--storage-option", help="fsspec option KEY=VALUE for s3:// and other URLs (repeatable); default: AWS_*, ~/.aws."
    ),
) -> None:
    """Write DIR/report.html: what the run kept, dropped and why (funnel, language and quality scores,
    top removed duplicate lines, throughput, errors by kind; for speech runs hours in/out, drop reasons,
    words per second, alignment confidence, PAD share). Self-contained: no script, no network."""
    from curate.core import storage
    from curate.core.config import configure_storage
    from curate.report.page import write_report

    if storage.is_remote(run_dir):
        try:
            configure_storage(None, storage_option)
            path = write_report(run_dir, output)
        except (ValueError, OSError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        typer.echo(f"report: {path}")
        return
    _local_report(Path(run_dir), Path(output) if output else None)


def _local_report(run_dir: Path, output: Path | None) -> None:
    from curate.report.page import detect_kind, write_report

    if not run_dir.is_dir():
        typer.echo(f"error: not a folder: {run_dir}", err=True)
        raise typer.Exit(2)
    if not (run_dir / "stats.json").exists():
        typer.echo(f"warning: {run_dir / 'stats.json'} is missing (unfinished run?); the report shows what it can", err=True)
    path = write_report(run_dir, output)
    typer.echo(f"report ({detect_kind(run_dir)} run): {path}")


def stats_command(
    output: Path = typer.Argument(..., help="An output folder of `curate helium`, `align`, `shards` or `inner-monologue`."),
) -> None:
    """Print the summary of a finished run."""
    import json

    from curate.report.summary import summary_text

    path = output / "stats.json"
    if not path.exists():
        typer.echo(f"error: {path} not found (not a finished run folder?)", err=True)
        raise typer.Exit(2)
    typer.echo(summary_text(json.loads(path.read_text())))


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("stats")(stats_command)
