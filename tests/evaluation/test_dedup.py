"""`curate eval dedup`: metrics on small vectors, chains on tiny truth files, chrome extraction, CLI errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from curate.cli import app
from curate.evaluation.dedup import Chain, choose, content_groups, evaluate_chains, exact_masks, meets_content_limits, score
from curate.evaluation.dedup_corpus import TruthDoc, TruthError, chrome_lines, read_truth, split_of, write_truth
from tests.classifier_models import workdir

BP, ONCE = "boilerplate:exact", "content:once"


def doc(i: int, lines: list[str], labels: list[str], shard: str = "s") -> TruthDoc:
    return TruthDoc(str(i), f"https://x/{i}", shard, "x", "en", "test", lines, labels)


def test_score_hand_computed():
    labels = [
        [BP, "boilerplate:word", ONCE, ONCE, "", "content:quote"],
        ["boilerplate:menu", "content:quote", "boilerplate:digit"],
        [BP, ONCE],
    ]
    removed = [
        np.array([1, 1, 0, 1, 0, 1], bool),
        np.array([0, 1, 1], bool),
        np.array([1, 1], bool),
    ]
    left = [np.array([0, 1, 1, 1, 1, 1], bool), np.array([1, 1, 1], bool), np.array([1, 1], bool)]
    quote = ("s", "q")
    groups = [[None, None, None, None, None, quote], [None, quote, None], [None, None]]
    m = score(labels, removed, left, groups)
    assert m["boilerplate_lines"] == 5 and m["boilerplate_removed"] == 0.8  # 4 of 5
    assert m["boilerplate_removed_by_kind"] == {"digit": 1.0, "exact": 1.0, "menu": 0.0, "word": 1.0}
    # near-duplicates left by ccnet exact: the word line (doc 0) and the menu line (doc 1)
    assert m["near_dup_left_by_ccnet"] == 2 and m["near_dup_removed"] == 0.5
    assert m["content_once_lines"] == 3 and m["content_once_lost"] == round(2 / 3, 4)
    # both copies of the quote are removed: the quote is lost (1 of 1 distinct repeated lines)
    assert m["content_repeated_distinct_lines"] == 1 and m["content_repeated_lost"] == 1.0
    assert m["content_repeated_copies_removed"] == 1.0
    assert m["documents_emptied"] == 1 and m["content_documents_emptied"] == 1  # doc 2
    assert m["content_documents_losing"] == 1  # its once-in-shard line is gone
    assert not meets_content_limits(m)


def test_repeated_content_with_one_copy_kept_is_not_lost():
    labels = [["content:code"], ["content:code"]]
    groups = [[("s", "pip install x")], [("s", "pip install x")]]
    m = score(labels, [np.array([False]), np.array([True])], None, groups)
    assert m["content_repeated_lost"] == 0.0 and m["content_repeated_copies_removed"] == 0.5
    assert m["documents_emptied"] == 1 and m["content_documents_emptied"] == 1
    assert m["content_documents_losing"] == 0  # its only content line is kept in document 0
    assert meets_content_limits(m)
    m = score(labels, [np.array([True]), np.array([True])], None, groups)
    assert m["content_documents_emptied"] == 2 and m["content_documents_losing"] == 2 and not meets_content_limits(m)
    with pytest.raises(ValueError):
        score([[BP, ONCE]], [np.array([True])])


def test_choose_respects_content_limits():
    base = {"content_repeated_lost": 0.0, "content_documents_losing": 0, "boilerplate_removed": 0.9}
    rows = [
        {**base, "threshold": 0.5, "min_block": 1, "near_dup_removed": 0.9, "content_once_lost": 0.02},
        {**base, "threshold": 0.7, "min_block": 2, "near_dup_removed": 0.6, "content_once_lost": 0.004},
        {**base, "threshold": 0.9, "min_block": 3, "near_dup_removed": 0.3, "content_once_lost": 0.0},
    ]
    assert choose(rows)["threshold"] == 0.7
    assert choose([rows[0]])["threshold"] == 0.5  # nothing within limits: least content lost


def test_exact_chains_on_a_tiny_shard():
    docs = [
        doc(0, ["Home", "Intro one.", "© 2019 Site"], [BP, ONCE, "boilerplate:digit"]),
        doc(1, ["Home", "Body two.", "© 2020 Site"], [BP, ONCE, "boilerplate:digit"]),
        doc(2, ["Home", "Other shard.", "© 2020 Site"], [BP, ONCE, "boilerplate:digit"], shard="t"),
    ]
    assert [m.tolist() for m in exact_masks(docs, "strip", "keep-first")] == [[0, 0, 0], [1, 0, 0], [0, 0, 0]]
    assert [m.tolist() for m in exact_masks(docs, "ccnet", "keep-first")] == [[0, 0, 0], [1, 0, 1], [0, 0, 0]]
    assert [m.tolist() for m in exact_masks(docs, "ccnet", "drop-all")] == [[1, 0, 1], [1, 0, 1], [0, 0, 0]]
    assert content_groups(docs)[0][1] == ("s", "Intro one.")
    rows = evaluate_chains(docs, [Chain("strip", "strip"), Chain("ccnet drop-all", "ccnet", "drop-all")])
    assert [r["boilerplate_removed"] for r in rows] == [round(1 / 6, 4), round(4 / 6, 4)]
    assert all(r["content_once_lost"] == 0.0 and r["cpu_s_per_mb"] >= 0 for r in rows)


def test_fuzzy_chain_uses_the_step(tmp_path):
    from curate.training.common import train_fasttext_file

    rows = [("dup", f"menu item {w}") for w in "alpha beta gamma delta epsilon zeta".split()]
    rows += [("unique", f"the article says {w} about things") for w in "alpha beta gamma delta epsilon zeta".split()]
    data = tmp_path / "toy.txt"
    data.write_text("".join(f"__label__{label} {text}\n" for label, text in rows * 20))
    model = tmp_path / "toy.bin"
    train_fasttext_file(
        data, model, {"epoch": 25, "lr": 0.5, "wordNgrams": 2, "dim": 8, "bucket": 1000, "thread": 1, "seed": 0, "verbose": 0}
    )
    lines = ["menu item one", "menu item two", "the article says hello about things", "menu item three"]
    labels = ["boilerplate:menu", "boilerplate:menu", ONCE, "boilerplate:menu"]
    docs = [doc(0, lines, labels)]
    out = evaluate_chains(docs, [Chain("fuzzy block 2", None, "keep-first", str(model), 0.5, 2)])[0]
    assert out["boilerplate_removed_by_kind"]["menu"] == round(2 / 3, 4)  # the lone menu line is not a block
    assert out["content_once_lost"] == 0.0 and out["fuzzy_over_predict"] is not None


def test_chrome_lines_from_html():
    page = """<html><body><header><a href=/>Home</a><a href=/n>News</a></header>
    <div class="main-menu"><ul><li>Shop</li><li>Blog</li></ul></div>
    <main><p>Article text that is content.</p></main>
    <footer><p>&copy; 2020 Example</p><script>var x = 1;</script></footer></body></html>"""
    got = chrome_lines(page)
    assert got == {"top": ["Home", "News", "Shop", "Blog"], "bottom": ["© 2020 Example"]}


def test_splits_are_seeded_and_cover_all():
    keys = [f"site:{i}" for i in range(400)]
    splits = [split_of(k, 0) for k in keys]
    assert splits == [split_of(k, 0) for k in keys]
    assert {s: splits.count(s) for s in ("train", "valid", "test")}["test"] > 80


def test_truth_file_roundtrip_and_errors(tmp_path):
    docs = [doc(0, ["Home", "", "Text."], [BP, "", ONCE])]
    path = write_truth(tmp_path / "t.jsonl", docs)
    assert read_truth(path) == docs
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"lines": ["a"], "labels": ["menu"]}) + "\n")
    with pytest.raises(TruthError, match="bad.jsonl:1"):
        read_truth(bad)


def test_cli_on_a_truth_file_and_user_errors(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(app, ["eval", "dedup", "--truth", str(tmp_path / "none.jsonl"), "--output", str(tmp_path / "o")])
    assert missing.exit_code == 2 and "truth file not found" in missing.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    assert runner.invoke(app, ["eval", "dedup", "--truth", str(bad), "--output", str(tmp_path / "o")]).exit_code == 2
    truth = write_truth(tmp_path / "t.jsonl", [doc(0, ["Home", "Text."], [BP, ONCE]), doc(1, ["Home", "More."], [BP, ONCE])])
    out = workdir("eval-dedup-cli")
    result = runner.invoke(app, ["eval", "dedup", "--truth", str(truth), "--output", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    # the spread chain (>= 4 pages of a host) finds nothing on two pages
    assert [r["boilerplate_removed"] for r in report["rows"]] == [0.5, 0.5, 1.0, 0.5]
    assert "exact ccnet drop-all" in (out / "report.md").read_text()
    result = runner.invoke(app, ["eval", "dedup", "--truth", str(truth), "--output", str(out), "--near-dup-spread", "2"])
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "report.json").read_text())["rows"]
    assert rows[-1]["chain"] == "strip + spread >= 2" and rows[-1]["boilerplate_removed"] == 1.0  # both "Home" lines
    assert rows[-1]["content_once_lost"] == 0.0
    one = runner.invoke(app, ["eval", "dedup", "--truth", str(truth), "--output", str(out), "--near-dup-spread", "1"])
    assert one.exit_code == 2 and "--near-dup-spread" in one.output
