"""`curate` command line: one module per command group (`COMMAND_MODULES`)."""

from __future__ import annotations

import typer

from curate import __version__

app = typer.Typer(
    name="curate",
    help="Data curation for speech-text foundation models: the Helium text corpus and Inner Monologue shards, on Ray.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
train_app = typer.Typer(help="Train the project's models with its own recipes.", no_args_is_help=True)
app.add_typer(train_app, name="train")
eval_app = typer.Typer(help="Evaluate a stage on held-out data with a truth file, next to its baselines.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"curate {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Run `curate COMMAND --help` for the options of each command."""


# Every command group, in the order `curate --help` lists them. Each module registers its commands;
# heavy imports stay lazy inside the commands.
COMMAND_MODULES = ("helium", "align", "shards", "train", "eval", "report")


def _register() -> None:
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"curate.cli.{name}").register(app, train_app)


_register()
