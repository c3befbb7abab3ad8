"""`curate train dedup-classifier` and `curate train quality-classifier` (registered by curate.cli).

Both take their data either from options or from a recipe file (`--recipe classifiers/quality.yaml`;
paths inside a recipe are relative to the recipe's folder). Options given on the command line
override the recipe. An output ending in `.ftz` is quantized (unless `--no-quantize`).
"""

from __future__ import annotations

import inspect
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from curate.core.storage import local_output
from curate.training.cards import relabel_card

FASTTEXT_HELP = "fastText training parameters (defaults: see classifiers/README.md)"


def _load_recipe(path: Path | None) -> tuple[dict[str, Any], Path]:
    if path is None:
        return {}, Path.cwd()
    import yaml

    with open(path, encoding="utf-8") as fh:
        recipe = yaml.safe_load(fh) or {}
    if not isinstance(recipe, dict):
        raise typer.BadParameter(f"{path}: a recipe is a mapping")
    return recipe, path.resolve().parent


def _relative_to(base: Path, item: Any) -> Any:
    """Resolve recipe paths against the recipe's folder (URLs and absolute paths unchanged)."""
    if isinstance(item, str):
        if "://" in item or Path(item).is_absolute():
            return item
        return str(Path(_relpath(base / item)))
    if isinstance(item, dict) and "path" in item:
        return {**item, "path": _relative_to(base, item["path"])}
    if isinstance(item, list):
        return [_relative_to(base, x) for x in item]
    return item


def _relpath(path: Path) -> str:
    import os

    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _fasttext_overrides(**given: Any) -> dict[str, Any]:
    return {k: v for k, v in given.items() if v is not None}


# fastText training options of both classifier recipes, declared once: (parameter, type, typer option).
# The parameter names are `train_supervised`'s (defaults: the recipe, then classifiers/README.md).
FASTTEXT_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("epoch", int | None, typer.Option(None, "--epochs", help=FASTTEXT_HELP)),
    ("lr", float | None, typer.Option(None, "--lr", help="Learning rate.")),
    ("dim", int | None, typer.Option(None, "--dim", help="Embedding dimension.")),
    ("word_ngrams", int | None, typer.Option(None, "--word-ngrams", help="Word n-grams (>= 2 unless char n-grams are on).")),
    ("minn", int | None, typer.Option(None, "--minn", help="Shortest char n-gram (0 = none; dedup recipe 2).")),
    ("maxn", int | None, typer.Option(None, "--maxn", help="Longest char n-gram (dedup recipe 5).")),
    ("bucket", int | None, typer.Option(None, "--bucket", help="Hash buckets for n-grams (default 200000).")),
    ("quantize", bool | None, typer.Option(
        None, "--quantize/--no-quantize", help="Quantize (.ftz). Default: when the output ends in .ftz.")),
    ("seed", int | None, typer.Option(None, "--seed", help="Seed of every random choice (sampling, split, order, fastText).")),
    ("threads", int | None, typer.Option(None, "--threads", help="fastText threads (1 = deterministic, the default).")),
)  # fmt: skip


def _with_fasttext_options(command: Callable[..., None]) -> Callable[..., None]:
    """Append the fastText options to `command(..., **fasttext)` (typer reads `__signature__`)."""
    own = [p for p in inspect.signature(command).parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    extra = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=o, annotation=k) for n, k, o in FASTTEXT_OPTIONS]
    command.__signature__ = inspect.Signature([*own, *extra])  # type: ignore[attr-defined]
    return command


def _command() -> str:
    return " ".join(shlex.quote(a) for a in ["curate", *sys.argv[1:]])


def _summary(card: dict) -> str:
    report = card["held_out"]
    lines = [f"model: {card['model']} ({card['model_bytes']:,} bytes)"]
    lines.append(f"held-out: {report['examples']} lines, accuracy {report['accuracy']:.4f}, macro F1 {report['macro_f1']:.4f}")
    for label, m in report["per_class"].items():
        lines.append(f"  {label:8s} P {m['precision']:.3f}  R {m['recall']:.3f}  F1 {m['f1']:.3f}  n={m['support']}")
    for key, value in report.get("extra", {}).items():
        lines.append(f"  {key}: {value}")
    for evaluation in card.get("document_evaluations", []):
        lines.append(
            f"document ROC AUC {evaluation['roc_auc_quality_score']} on {evaluation['path']} ({evaluation['documents']} docs)"
        )
    from curate.training.cards import card_paths

    json_path, md_path = card_paths(card["model"])
    lines.append(f"model card: {json_path} and {md_path}")
    return "\n".join(lines)


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    """Add `curate train dedup-classifier`, `curate train quality-classifier` and `... quality-classifiers`."""
    from curate.training import quality_per_language

    quality_per_language.register(train_app)

    @train_app.command("dedup-classifier")
    @_with_fasttext_options
    def dedup_classifier(
        input: list[str] = typer.Option(
            [],
            "--input",
            "-i",
            help="WET files, folders, globs, *.paths lists, or document files (Parquet outputs of `curate helium` with a `text` column, JSONL, ...). Repeatable.",
        ),
        output: str | None = typer.Option(
            None,
            "--output",
            "-o",
            help="Model file or URL to write (.bin; .ftz = quantized; s3://bucket/m.bin). The model card goes next to it.",
        ),
        recipe: Path | None = typer.Option(
            None, "--recipe", help="YAML recipe (inputs, parameters); see classifiers/dedup.yaml."
        ),
        shard_by: str | None = typer.Option(None, help="Shards for counting duplicates: segment (default), files:N or all."),
        normalization: str | None = typer.Option(None, help="Line normalization before hashing: strip (default) or ccnet."),
        max_per_class: int | None = typer.Option(None, help="Distinct lines sampled per class (default 100000)."),
        min_line_length: int | None = typer.Option(None, help="Shortest line used, in characters after stripping (default 1)."),
        held_out: float | None = typer.Option(None, help="Held-out fraction for the evaluation (default 0.1)."),
        label_rule: str | None = typer.Option(
            None, help="fold (default: near-duplicate keys, spread over documents) or exact (legacy: exact hash seen >= 2 times)."
        ),
        min_recurrence: int | None = typer.Option(
            None, help="Rule fold: distinct documents sharing a line's key for `dup` (default 6)."
        ),
        between: str | None = typer.Option(
            None, help="Rule fold: lines seen in 2..min_recurrence-1 documents are skipped (default) or taught as unique."
        ),
        dedup_documents: bool | None = typer.Option(
            None,
            "--dedup-documents/--no-dedup-documents",
            help="Skip documents whose whole text was already seen in the shard (default on).",
        ),
        text_field: str | None = typer.Option(None, help="Text field of document files (default: text, contents, ...)."),
        **fasttext: Any,
    ) -> None:
        """Train the fuzzy-dedup line classifier: labels from the near-duplicate spread of each line in its shard (rule `fold`)."""
        from curate.training.dedup_classifier import train_dedup_classifier

        data, base = _load_recipe(recipe)
        inputs = list(input) or _relative_to(base, data.get("inputs", []))
        out = output or (str(data["output"]) if data.get("output") else None)
        if not inputs or out is None:
            raise typer.BadParameter("give --input (or a recipe with inputs) and --output")
        options = dict(data.get("options", {}))
        options.update(
            _fasttext_overrides(
                shard_by=shard_by, normalization=normalization, max_per_class=max_per_class, min_line_length=min_line_length,
                held_out=held_out, dedup_documents=dedup_documents, text_field=text_field, label_rule=label_rule,
                min_recurrence=min_recurrence, between=between,
            )
        )  # fmt: skip
        params = dict(data.get("parameters", {}))
        params.update(_fasttext_overrides(**fasttext))
        params.setdefault("quantize", str(out).endswith(".ftz"))
        try:
            with local_output(out) as local:  # a URL: trained in spill space, then uploaded with its card
                card = train_dedup_classifier(inputs, local, command=_command(), **options, **params)
                relabel_card(local, out, card)
        except ValueError as exc:  # no data, an empty class, a bad option: one line, exit 2
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(_summary(card))

    @train_app.command("quality-classifier")
    @_with_fasttext_options
    def quality_classifier(
        category: list[str] = typer.Option(
            [],
            "--category",
            "-c",
            help="LABEL=PATH (file or folder), repeatable; labels: rand wiki books science news stem life hum pop. `rand` (random web pages) is required.",
        ),
        stackexchange: list[str] = typer.Option(
            [],
            "--stackexchange",
            help="Folder of StackExchange dumps (Posts.xml, thread JSONL), sorted into stem/life/hum/pop by site name. Repeatable.",
        ),
        site_category: list[str] = typer.Option(
            [], "--site-category", help="SITE=LABEL: put a StackExchange site in a category (overrides the map)."
        ),
        output: str | None = typer.Option(
            None,
            "--output",
            "-o",
            help="Model file or URL to write (.bin; .ftz = quantized; s3://bucket/m.bin). The model card goes next to it.",
        ),
        recipe: Path | None = typer.Option(
            None, "--recipe", help="YAML recipe (categories, parameters); see classifiers/quality.yaml."
        ),
        eval_documents: list[str] = typer.Option(
            [],
            "--eval-documents",
            help="JSONL of documents with `text` and a 0/1 `label` (e.g. DCLM's): ROC AUC of quality_score in the card. Repeatable.",
        ),
        max_per_category: int | None = typer.Option(
            None, help="Distinct lines sampled per category before balancing (default 50000)."
        ),
        min_line_length: int | None = typer.Option(None, help="Shortest line used, in characters after stripping (default 1)."),
        held_out: float | None = typer.Option(None, help="Held-out fraction (default 0.1)."),
        languages: str | None = typer.Option(
            None, help="Comma-separated languages kept by document-level language ID (default en; 'all' = no filter)."
        ),
        lid_threshold: float | None = typer.Option(None, help="Language-ID probability needed (default 0.5)."),
        **fasttext: Any,
    ) -> None:
        """Train the 9-category line quality classifier (rand = random web vs high-quality sources)."""
        from curate.training.quality_classifier import train_quality_classifier

        data, base = _load_recipe(recipe)
        categories: dict[str, list[Any]] = {}
        for label, items in (data.get("categories") or {}).items():
            categories[label] = _relative_to(base, items if isinstance(items, list) else [items])
        cli_categories: dict[str, list[Any]] = {}
        for item in category:
            label, sep, path = item.partition("=")
            if not sep or not path:
                raise typer.BadParameter(f"--category {item!r}: expected LABEL=PATH")
            cli_categories.setdefault(label.strip(), []).append(path)
        categories.update(cli_categories)
        se = list(stackexchange) or _relative_to(base, data.get("stackexchange") or [])
        sites = dict(data.get("site_categories") or {})
        for item in site_category:
            site, sep, label = item.partition("=")
            if not sep:
                raise typer.BadParameter(f"--site-category {item!r}: expected SITE=LABEL")
            sites[site.strip()] = label.strip()
        out = output or (str(data["output"]) if data.get("output") else None)
        if out is None:
            raise typer.BadParameter("give --output (or a recipe with output)")
        options = dict(data.get("options", {}))
        if languages is not None:
            options["languages"] = (
                None if languages.strip().lower() == "all" else [x.strip() for x in languages.split(",") if x.strip()]
            )
        options.update(
            _fasttext_overrides(
                max_per_category=max_per_category, min_line_length=min_line_length, held_out=held_out, lid_threshold=lid_threshold
            )
        )
        evals = list(eval_documents) or _relative_to(base, data.get("eval_documents") or [])
        params = dict(data.get("parameters", {}))
        params.update(_fasttext_overrides(**fasttext))
        params.setdefault("quantize", str(out).endswith(".ftz"))
        with local_output(out) as local:  # a URL: trained in spill space, then uploaded with its card
            card = train_quality_classifier(
                categories,
                local,
                stackexchange=se,
                site_categories=sites,
                eval_documents=evals,
                command=_command(),
                **options,
                **params,
            )
            relabel_card(local, out, card)
        typer.echo(_summary(card))
