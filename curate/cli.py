"""`curate` command line. Each pipeline module registers its own commands here."""

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


def _version(value: bool) -> None:
    if value:
        typer.echo(f"curate {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Run `curate COMMAND --help` for the options of each command."""


def _register() -> None:
    # Imported here so that each module owns its commands (and heavy imports stay lazy inside them).
    from curate import helium_cli

    helium_cli.register(app, train_app)
    for module_name in ("curate.training.cli", "curate.speech.cli", "curate.shards.cli", "curate.report_cli"):
        module = __import__(module_name, fromlist=["register"])
        module.register(app, train_app)


_register()
