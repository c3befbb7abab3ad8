"""Commands of this package (registered by curate.cli)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    """Add this package's commands to the main app (`app`) and to `curate train` (`train_app`)."""
