"""Recipe smoke tests: REAL fastText models trained on ../shared/data/text (small: capped
examples), with their held-out quality asserted and the DCLM document ROC AUC reported."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from curate.helium.quality import QUALITY_LABELS
from curate.training.cards import card_paths
from curate.training.dedup_classifier import train_dedup_classifier
from tests.classifier_models import dedup_model, quality_model, text_path, workdir


def test_quality_recipe_separates_web_from_high_quality_lines():
    path, card = quality_model()
    report = card["held_out"]
    trained = [label for label in QUALITY_LABELS if label != "pop"]
    assert card["labels"] == trained and card["untrained_labels"] == ["pop"]
    # balanced classes: chance accuracy is 1/8
    assert report["accuracy"] >= 0.55, report
    assert all(m["support"] >= 100 for m in report["per_class"].values())
    assert all(m["f1"] >= 0.35 for m in report["per_class"].values()), report["per_class"]
    # held-out lines of random web pages vs Wikipedia: ranked by 1 - p(rand)
    assert report["extra"]["roc_auc_wiki_vs_rand_lines"] >= 0.75, report["extra"]
    assert report["extra"]["roc_auc_hq_vs_rand_lines"] >= 0.75, report["extra"]


def test_quality_recipe_reports_dclm_document_auc(record_property):
    _, card = quality_model()
    evaluations = {e["path"].rsplit("/", 1)[-1]: e for e in card["document_evaluations"]}
    assert set(evaluations) == {"dclm_majority_data.jsonl", "dclm_agreement_data.jsonl"}
    for name, evaluation in evaluations.items():
        auc = evaluation["roc_auc_quality_score"]
        assert not math.isnan(auc) and 0.0 <= auc <= 1.0
        assert evaluation["documents"] == {"dclm_majority_data.jsonl": 499, "dclm_agreement_data.jsonl": 281}[name]
        record_property(f"dclm_auc_{name}", auc)
        print(f"\nDCLM {name}: ROC AUC of quality_score vs human labels = {auc:.4f} ({evaluation['documents']} documents)")


def test_model_card_files_next_to_the_model():
    path, card = quality_model()
    json_path, md_path = card_paths(path)
    assert json.loads(json_path.read_text()) == json.loads(json.dumps(card))
    markdown = md_path.read_text()
    assert "## Held-out evaluation" in markdown and "Confusion matrix" in markdown and "dclm_majority_data" in markdown
    assert len(card["model_sha256"]) == 64 and card["model_bytes"] == path.stat().st_size


def test_dedup_recipe_learns_duplicates_from_exact_dedup():
    _, card = dedup_model()
    report = card["held_out"]
    assert card["labels"] == ["dup", "unique"]
    counts = card["data"]["per_class"]
    used = {label: counts[label]["train"] + counts[label]["held_out"] for label in ("dup", "unique")}
    assert used["dup"] == used["unique"] >= 1000  # balanced
    assert counts["dup"]["distinct_lines"] < counts["unique"]["distinct_lines"]
    assert report["extra"]["roc_auc_p_dup"] >= 0.75, report
    assert report["per_class"]["dup"]["f1"] >= 0.65 and report["per_class"]["unique"]["f1"] >= 0.65, report


def test_recipes_are_deterministic():
    inputs = [
        text_path("web_raw", "dpk_filter_test1_cc-warc-docs.parquet"),
        text_path("web_raw", "dpk_doc_id_test_doc_id_1_cc-warc-docs.parquet"),
    ]
    folder = workdir("determinism")
    # min_recurrence 2: pages of 100 different sites, few lines recur in more documents
    kw = {"max_per_class": 500, "epoch": 3, "min_recurrence": 2}
    cards = [train_dedup_classifier(inputs, folder / f"run{i}" / "dedup.bin", **kw) for i in range(2)]
    for card in cards:
        card.pop("model")
    assert cards[0] == cards[1]
    other_seed = train_dedup_classifier(inputs, folder / "seed1" / "dedup.bin", **kw, seed=1)
    assert other_seed["model_sha256"] != cards[0]["model_sha256"]


def test_dedup_recipe_refuses_a_class_without_examples(tmp_path):
    lonely = tmp_path / "docs.jsonl"
    lonely.write_text(json.dumps({"text": "one line\nanother line"}) + "\n")
    with pytest.raises(ValueError, match="need both dup and unique"):
        train_dedup_classifier([str(lonely)], tmp_path / "m.bin")


def test_cli_trains_from_a_recipe(tmp_path):
    from curate.cli import app

    recipe = tmp_path / "dedup.yaml"
    recipe.write_text(
        "inputs:\n"
        f"  - {text_path('web_raw', 'dpk_filter_test1_cc-warc-docs.parquet')}\n"
        "options:\n  max_per_class: 300\n  min_recurrence: 2\nparameters:\n  epoch: 2\n  bucket: 2000\n"
    )
    output = tmp_path / "models" / "dedup.ftz"
    result = CliRunner().invoke(
        app, ["train", "dedup-classifier", "--recipe", str(recipe), "--output", str(output), "--dim", "8"]
    )
    assert result.exit_code == 0, result.output
    card = json.loads(card_paths(output)[0].read_text())
    assert card["parameters"]["quantize"] is True and card["parameters"]["dim"] == 8 and card["parameters"]["epoch"] == 2
    assert "model card:" in result.output and output.exists()

    result = CliRunner().invoke(
        app, ["train", "quality-classifier", "--category", "wiki=/nonexistent", "--output", str(tmp_path / "q.bin")]
    )
    assert result.exit_code != 0


def test_fasttext_training_is_repeatable_in_one_process(tmp_path):
    """fastText (this build) reads uninitialised heap memory while training: in a long-lived
    process repeated calls gave different models or "Encountered NaN". Training runs in a child
    process with a zero-filling heap; the same call must give the same bytes, even wordNgrams=1."""
    import hashlib

    from curate.training.common import train_fasttext_file

    data = tmp_path / "toy.txt"
    words = "alpha beta gamma delta epsilon zeta eta theta".split()
    rows = [f"__label__a menu item {w}" for w in words] + [f"__label__b the article says {w}" for w in words]
    data.write_text("\n".join(rows * 20) + "\n")
    digests = set()
    for i in range(4):
        junk = [bytearray(b"\x7f" * n) for n in (200, 2_000, 40_000, 300_000)]  # dirty this process's heap
        del junk
        out = tmp_path / f"m{i}.bin"
        kwargs = {"epoch": 5, "lr": 0.5, "wordNgrams": 1, "dim": 8, "thread": 1, "seed": 0, "verbose": 0}
        train_fasttext_file(data, out, kwargs)
        digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_cli_dedup_recipe_without_a_class_is_a_user_error(tmp_path):
    from curate.cli import app

    lonely = tmp_path / "docs.jsonl"
    lonely.write_text(json.dumps({"text": "one line\nanother line"}) + "\n")
    result = CliRunner().invoke(app, ["train", "dedup-classifier", "--input", str(lonely), "--output", str(tmp_path / "m.bin")])
    assert result.exit_code == 2 and "cannot train" in result.output
