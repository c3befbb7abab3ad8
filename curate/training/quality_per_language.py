"""Recipe: one quality classifier per language, each from that language's own sources.

`sources` maps a language to its categories (label -> paths, as for `train_quality_classifier`);
each language's model is trained by the same recipe with its documents restricted by language ID
to that language (`languages=(lang,)`), and saved as `OUTPUT_DIR/quality-LANG.bin` with its model
card. The pipeline then picks the model by the `language` column (`--quality-model LANG=PATH`, or
`quality_models` in the YAML; `quality_models_option` gives the mapping to paste).

A YAML recipe for it (`curate train quality-classifier --per-language RECIPE`):

    languages:
      fr: {categories: {wiki: [data/fr/wiki.jsonl], rand: [data/fr/cc.jsonl]}}
      de: {categories: {wiki: [data/de/wiki.jsonl], rand: [data/de/cc.jsonl]}}
    params: {epoch: 5}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from curate.training.quality_classifier import train_quality_classifier


def train_quality_classifiers(
    sources: Mapping[str, Mapping[str, Iterable[Any]]],
    output_dir: str | Path,
    lid_threshold: float = 0.5,
    filter_language: bool = True,
    **params: Any,
) -> dict[str, dict]:
    """Train one model per language; returns {language: model card}, the model path in `path`.
    `filter_language=False` trusts the sources' language (no document-level LID)."""
    if not sources:
        raise ValueError("no languages given")
    output_dir = Path(output_dir)
    cards: dict[str, dict] = {}
    for lang, categories in sorted(sources.items()):
        path = output_dir / f"quality-{lang}.bin"
        languages = (lang,) if filter_language else None
        card = train_quality_classifier(categories, path, languages=languages, lid_threshold=lid_threshold, **params)
        cards[lang] = {**card, "path": str(path)}
    return cards


def quality_models_option(cards: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """{language: model path}: the `quality_models` mapping of pipelines/helium.yaml."""
    return {lang: str(card["path"]) for lang, card in sorted(cards.items())}


def load_recipe(path: str | Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    import yaml

    raw = yaml.safe_load(Path(path).read_text()) or {}
    languages = raw.get("languages") or {}
    if not isinstance(languages, dict) or not languages:
        raise ValueError(f"{path}: a per-language recipe needs `languages: {{LANG: {{categories: ...}}}}`")
    sources = {lang: (spec or {}).get("categories") or {} for lang, spec in languages.items()}
    return sources, dict(raw.get("params") or {})


def register(train_app: Any) -> None:
    import typer

    @train_app.command("quality-classifiers")
    def quality_classifiers(
        recipe: Path = typer.Option(..., "--recipe", help="YAML: languages: {LANG: {categories: {LABEL: [PATH, ...]}}}, params."),
        output_dir: Path = typer.Option(..., "--output-dir", "-o", help="Folder for quality-LANG.bin and their model cards."),
    ) -> None:
        """Train one quality classifier per language from per-language sources (for --quality-model LANG=PATH)."""
        try:
            sources, params = load_recipe(recipe)
        except (OSError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        base = recipe.parent
        resolved = {
            lang: {label: [str(base / p) if not Path(p).is_absolute() else p for p in paths] for label, paths in cats.items()}
            for lang, cats in sources.items()
        }
        cards = train_quality_classifiers(resolved, output_dir, **params)
        for lang, path in quality_models_option(cards).items():
            typer.echo(f"{lang}: {path}")
        typer.echo("use: " + " ".join(f"--quality-model {lang}={path}" for lang, path in quality_models_option(cards).items()))
