"""`curate eval ...`: evaluation harnesses (registered by curate.cli)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    """Evaluation commands are added to `curate.cli.eval_app` by the modules below."""
