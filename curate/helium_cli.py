"""Commands of the Helium text pipeline (registered by curate.cli)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    pass
