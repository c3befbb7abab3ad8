"""The near-duplicate label rule of the dedup-classifier recipe and its recurrence filter, on small vectors."""

from __future__ import annotations

import json

import pytest

from curate.helium.fuzzy import fold_key, fold_tokens, label_keys, spread_label
from curate.training.dedup_classifier import _sample_fold_rule


def test_fold_removes_digits_punctuation_and_case():
    assert fold_tokens("© 2019 Example GmbH. All rights reserved.") == ["example", "gmbh", "all", "rights", "reserved"]
    assert fold_key("Cart (2)") == fold_key("CART (13)") == "cart"
    assert fold_key("Page 3 of 10") == fold_key("Page 4 of 11") == "page of"
    assert fold_key("  ") == "" and label_keys("--- 2019 ---") == []
    assert fold_key("Über uns · Kontakt") == "über uns kontakt"


def test_label_keys_catch_word_variants_and_reordered_menus():
    a, b = set(label_keys("Posted by Anna in News")), set(label_keys("Posted by Bob in News"))
    assert "f:posted by anna in news" in a and "f:posted by bob in news" in b
    assert a & b == {"m:posted by \x00 in news"}  # one word changed: one shared masked key
    assert set(label_keys("Home | News | Contact")) & set(label_keys("News | Home | Contact")) == {"b:contact home news"}
    assert label_keys("Home News") == ["f:home news"]  # < 3 words: only the whole line
    long_line = " ".join(f"w{i}x" for i in range(20))
    assert [k[:2] for k in label_keys(long_line)] == ["f:", "b:"]  # > 12 words: no masked keys


@pytest.mark.parametrize(("spread", "expected"), [(1, "unique"), (2, None), (3, None), (4, "dup"), (40, "dup")])
def test_recurrence_filter(spread, expected):
    assert spread_label(spread, 4) == expected


def test_recurrence_filter_parameter():
    assert spread_label(2, 2) == "dup"
    with pytest.raises(ValueError):
        spread_label(3, 1)


def test_fold_rule_labels_documents(tmp_path):
    """Footer variants over 5 documents are dup; a quote on 2 documents is not used; the rest unique."""
    docs = []
    names = ["Anna", "Bob", "Carla", "Dmitri", "Eve"]
    for i, name in enumerate(names):
        lines = [
            f"Article {name} body sentence number {i} about topic {name.lower()}zz.",
            f"© {2010 + i} Example Site. Written by {name}",
        ]
        if i < 2:
            lines.append("A quoted sentence that two articles share verbatim.")
        docs.append({"text": "\n".join(lines)})
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    distinct, k, pairs = _sample_fold_rule({"all": [str(path)]}, True, None, 1, 100, 4, 0)
    pairs.pop("__stats__")
    labels = {text: label for label, text in pairs.values()}
    # every footer variant (another year, another name) is dup; the quote (2 documents) is not used
    assert distinct == {"dup": 5, "unique": 5, "skipped_between": 1}
    assert k == 5 and len(pairs) == 10
    dup = sorted(t for t, lab in labels.items() if lab == "dup")
    assert dup == sorted(f"© 0000 example site. written by {n.lower()}" for n in names)
    assert all(t.startswith("article") for t, lab in labels.items() if lab == "unique")
    assert not any("quoted" in t for t in labels)
    # with min_recurrence 2 the quote is taught as dup: the filter is what keeps it out
    distinct2, _, _ = _sample_fold_rule({"all": [str(path)]}, True, None, 1, 100, 2, 0)
    assert distinct2 == {"dup": 6, "unique": 5, "skipped_between": 0}
