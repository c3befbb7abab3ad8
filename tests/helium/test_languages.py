"""Many languages: `--languages all`, per-language LID thresholds, per-language quality models."""

from __future__ import annotations

from pathlib import Path

import pytest
from datatrove.data import Document

from curate.cli.helium import parse_quality_models
from curate.helium.steps.base import DROP_REASON
from curate.helium.steps.language import LanguageFilter
from curate.helium.steps.quality_per_language import PerLanguageQualityFilter
from curate.helium.warc_sample import ARTICLES, SITES
from curate.training.quality_per_language import load_recipe, quality_models_option, train_quality_classifiers


def _docs() -> list[Document]:
    return [Document(text=" ".join(ARTICLES[lang]), id=lang, metadata={}) for lang in sorted(ARTICLES)]


def test_all_languages_and_per_language_thresholds() -> None:
    docs = _docs()
    list(LanguageFilter(["all"], 0.5).run(iter(docs)))
    assert [d.metadata["language"] for d in docs] == sorted(ARTICLES)
    assert not any(d.metadata.get(DROP_REASON) for d in docs)
    docs = _docs()
    list(LanguageFilter(["de", "fr"], 0.5, thresholds={"fr": 1.01}).run(iter(docs)))
    kept = [d.id for d in docs if not d.metadata.get(DROP_REASON)]
    assert kept == ["de"]  # fr is above 0.5 but not above its own threshold; others are not wanted


def test_quality_model_option() -> None:
    assert parse_quality_models(["m.bin", "fr=fr.bin", "de=/x/de=1.bin"]) == ("m.bin", {"fr": "fr.bin", "de": "/x/de=1.bin"})
    assert parse_quality_models(["/path/with=sign.bin"]) == ("/path/with=sign.bin", {})
    with pytest.raises(ValueError, match="only one model"):
        parse_quality_models(["a.bin", "b.bin"])
    with pytest.raises(ValueError, match="twice"):
        parse_quality_models(["fr=a.bin", "fr=b.bin"])


@pytest.fixture(scope="module")
def per_language_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("qpl")
    boilerplate = [line for menu, aside, footer in SITES.values() for line in (*menu, aside, *footer)]
    rand = [f"{b} | page {i} | {i * 7 % 13} comments" for i, b in enumerate(boilerplate * 6)]
    (root / "rand.txt").write_text("\n".join(rand) + "\n")
    sources = {}
    for lang in ("de", "fr"):
        paragraphs = [f"{a} {b}" for a in ARTICLES[lang] for b in ARTICLES[lang] if a != b]
        (root / f"wiki-{lang}.txt").write_text("\n\n".join(paragraphs) + "\n")
        sources[lang] = {"wiki": [str(root / f"wiki-{lang}.txt")], "rand": [str(root / "rand.txt")]}
    cards = train_quality_classifiers(sources, root / "models", filter_language=False, epoch=25)
    assert set(cards) == {"de", "fr"} and all(Path(c["path"]).exists() for c in cards.values())
    return quality_models_option(cards)


def test_per_language_quality_models_pick_by_language(per_language_models: dict[str, str]) -> None:
    step = PerLanguageQualityFilter(per_language_models, None, 0.5)
    docs = [
        Document(text=f"{ARTICLES['fr'][0]} {ARTICLES['fr'][1]}", id="fr", metadata={"language": "fr"}),
        Document(text=f"{ARTICLES['de'][2]} {ARTICLES['de'][3]}", id="de", metadata={"language": "de"}),
        Document(text="Privacy policy\nTerms of use\nCookie settings", id="de-bp", metadata={"language": "de"}),
        Document(text=ARTICLES["it"][0], id="it", metadata={"language": "it"}),
    ]
    list(step.run(iter(docs)))
    by_id = {d.id: d for d in docs}
    assert by_id["fr"].metadata["quality_model"] == "fr" and by_id["de"].metadata["quality_model"] == "de"
    assert by_id["fr"].metadata["quality_score"] > 0.5 and by_id["de"].metadata["quality_score"] > 0.5
    assert by_id["de-bp"].metadata[DROP_REASON] == "quality"
    # no model for Italian and no default: kept, unscored
    assert "quality_score" not in by_id["it"].metadata and not by_id["it"].metadata.get(DROP_REASON)


def test_per_language_recipe_file(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("languages:\n  fr: {categories: {wiki: [a.txt], rand: [b.txt]}}\nparams: {epoch: 3}\n")
    assert load_recipe(recipe) == ({"fr": {"wiki": ["a.txt"], "rand": ["b.txt"]}}, {"epoch": 3})
    recipe.write_text("params: {}\n")
    with pytest.raises(ValueError, match="languages"):
        load_recipe(recipe)
