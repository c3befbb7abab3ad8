"""`curate eval ...`: evaluation harnesses (registered by curate.cli)."""

from __future__ import annotations

from pathlib import Path

import typer


def diarization(
    shared: Path = typer.Option(Path("../shared"), "--shared", help="The shared data folder (holds data/speech)."),
    output: Path = typer.Option(..., "--output", "-o", help="Output folder: diarization_eval.json / .md."),
    per_pair: int = typer.Option(3, help="Built test conversations per speaker pair (about 2 min each)."),
    words: bool = typer.Option(
        True,
        "--words/--no-words",
        help="Measure word attribution (runs Whisper on the source recordings and on every built mix; cached in the "
        "output folder).",
    ),
    tune: bool = typer.Option(True, "--tune/--no-tune", help="Tune the VAD and merge thresholds on the dev conversations."),
    split: str = typer.Option(
        "test",
        "--split",
        help="test: held-out built files + the real references; dev: the files rules are chosen on "
        "(dev conversations, solos, meetings and their far-field copies; no tuning).",
    ),
) -> None:
    """Diarization of mono conversations: no diarization vs built-in vs oracle RTTM (DER, JER, word attribution)."""
    from curate.evaluation.diarization import evaluate, markdown

    if not (shared / "data" / "speech").is_dir():
        typer.echo(f"error: no data/speech under {shared} (pass --shared DIR)", err=True)
        raise typer.Exit(2)
    if split not in ("test", "dev"):
        typer.echo(f"error: --split {split!r}: use test or dev", err=True)
        raise typer.Exit(2)
    try:
        import pyannote.metrics  # noqa: F401
    except ImportError:
        typer.echo("error: curate eval diarization needs pyannote.metrics: pip install 'curate[eval]'", err=True)
        raise typer.Exit(2) from None
    report = evaluate(shared, output, per_pair=per_pair, tune=tune, words=words, split=split)
    typer.echo(markdown(report))
    typer.echo(f"report: {output / 'diarization_eval.json'}")


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    """Evaluation commands are added to `curate.cli.eval_app` by the modules below."""
    from curate.cli import eval_app

    @eval_app.command("dedup")
    def dedup(
        output: Path = typer.Option(..., "--output", "-o", help="Folder for the corpus, models, report.json and report.md."),
        truth: Path | None = typer.Option(
            None,
            "--truth",
            help="Your own truth file (JSONL: lines + labels per document); default: build the corpus from --shared.",
        ),
        model: Path | None = typer.Option(
            None, "--model", help="With --truth: a dedup classifier to evaluate next to the exact baselines."
        ),
        threshold: float = typer.Option(0.8, "--threshold", help="With --truth --model: P(dup) at which a line is dup-like."),
        min_block: int = typer.Option(2, "--min-block", help="With --truth --model: shortest run of dup-like lines removed."),
        shared: Path | None = typer.Option(
            None, "--shared", help="Shared data folder (default ../shared/data next to the repository)."
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the corpus (sites, pages, splits)."),
        near_dup_spread: int = typer.Option(
            4,
            "--near-dup-spread",
            help="With --truth: the spread rule's threshold (pages of one host per shard); 0 = no spread chain.",
        ),
    ) -> None:
        """Line dedup chains against a truth file, side by side: boilerplate removed (all, near-duplicates
        that ccnet exact dedup leaves, per kind), content lost, documents emptied, CPU s per MB.

        Without --truth: builds the labelled corpus from the shared data, trains today's recipe and the new
        one on the train shards, picks thresholds on the valid shards and reports on the test shards."""
        import shlex
        import sys

        from curate.evaluation.dedup import Chain, evaluate_chains, kind_table, markdown_table, run_protocol
        from curate.evaluation.dedup_corpus import TruthError, read_truth

        command = " ".join(shlex.quote(a) for a in ["curate", *sys.argv[1:]])
        if truth is None:
            try:
                run_protocol(output, shared=shared, seed=seed, command=command, log=typer.echo)
            except FileNotFoundError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None
            typer.echo(f"report: {output / 'report.md'}; model and card: {output / 'models' / 'dedup.bin'}")
            return
        if not truth.is_file():
            typer.echo(f"error: truth file not found: {truth}", err=True)
            raise typer.Exit(2)
        if model is not None and not model.is_file():
            typer.echo(f"error: model not found: {model}", err=True)
            raise typer.Exit(2)
        try:
            docs = read_truth(truth)
        except TruthError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        chains = [
            Chain("exact strip keep-first", "strip", "keep-first"),
            Chain("exact ccnet keep-first", "ccnet", "keep-first"),
            Chain("exact ccnet drop-all", "ccnet", "drop-all"),
        ]
        if near_dup_spread == 1 or near_dup_spread < 0:
            typer.echo(f"error: --near-dup-spread must be 0 (off) or >= 2, not {near_dup_spread}", err=True)
            raise typer.Exit(2)
        if near_dup_spread:  # the pipeline's default keys, per host (a truth document without url: one group per shard)
            chains.append(Chain(f"strip + spread >= {near_dup_spread}", "strip", "keep-first", near_dup_spread=near_dup_spread))
        if model is not None:
            chains += [
                Chain(f"strip + fuzzy ({threshold}, block {min_block})", "strip", "keep-first", str(model), threshold, min_block),
                Chain(f"ccnet + fuzzy ({threshold}, block {min_block})", "ccnet", "keep-first", str(model), threshold, min_block),
            ]
            if near_dup_spread:
                chains.append(
                    Chain(
                        f"strip + spread >= {near_dup_spread} + fuzzy ({threshold}, block {min_block})",
                        "strip",
                        "keep-first",
                        str(model),
                        threshold,
                        min_block,
                        near_dup_spread=near_dup_spread,
                    )  # fmt: skip
                )
        rows = evaluate_chains(docs, chains)
        import json

        output.mkdir(parents=True, exist_ok=True)
        (output / "report.json").write_text(json.dumps({"truth": str(truth), "rows": rows, "command": command}, indent=2) + "\n")
        table = markdown_table(rows)
        (output / "report.md").write_text(f"# curate eval dedup: {truth}\n\n{table}\n\n{kind_table(rows)}\n")
        typer.echo(table)

    from curate.evaluation import boilerplate, lid, minhash

    lid.register(eval_app)
    boilerplate.register(eval_app)
    minhash.register(eval_app)
    eval_app.command("diarization")(diarization)
