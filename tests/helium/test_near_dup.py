"""The near-duplicate spread rule (curate.helium.near_dup) on hand-made vectors, and its pipeline step."""

from __future__ import annotations

import numpy as np
import pytest
from datatrove.data import Document

import curate.helium.near_dup as near_dup
from curate.helium.fuzzy import label_keys
from curate.helium.near_dup import (
    FOLD_KEYS,
    MASK,
    KeySpread,
    NearDupKeys,
    document_key_hashes,
    document_keys,
    host_of,
    is_list_line,
    list_key,
    list_segments,
    spread_mask,
)
from curate.helium.steps.exact_dedup import ExactLineDedup


def test_fold_keys_are_the_label_rule_keys() -> None:
    lines = ["Posted by Anna on 12 May 2019", "Home | News | Contact", "x", ""]
    assert document_keys(lines, FOLD_KEYS) == [label_keys(lines[0]), label_keys(lines[1]), [], []]


def test_document_keys_vectors() -> None:
    lines = [
        "Big storm hits coast of Maine today, officials say",
        "Home > World news > Big storm hits coast",
        "No comments",
        "X:1",
        "12.03.2019",
        "Posted in News: Big storm hits",
    ]
    keys = document_keys(lines)
    # the tail "big storm hits coast" starts line 0: the head is a key (a breadcrumb filled with the title)
    assert f"e:home world news {MASK}" in keys[1]
    assert f"e:posted in news {MASK}" in keys[5]  # a footer filled with the title
    assert not any(k.startswith("e:") for k in keys[0])  # its tail starts no other line
    assert {f"m:{MASK} comments", f"m:no {MASK}"} <= set(keys[2])  # 2-word lines
    assert keys[3] == []  # a lone letter after folding: no key
    assert keys[4] == ["s:00.00.0000"]
    assert not any(k.startswith(("p:", "l:")) for k in keys[0])  # a sentence: no prefix / list key
    menu = document_keys(["Home | World | Politics | Business | Sport", "Story 7: how to make a cake at home"])
    assert "p:home world politics business" in menu[0]  # a list: its head is a key (a menu cut short)
    assert "l:home\x01|\x015" in menu[0]  # and its shape: first item, separator, 5 items
    assert not any(k.startswith(("p:", "l:")) for k in menu[1])  # a title is not a list
    assert document_keys(lines, NearDupKeys(shape=False))[4] == []
    assert not any(k.startswith(("e:", "p:", "l:")) for k in document_keys(lines, FOLD_KEYS)[1])


def test_echo_takes_the_longest_tail_and_needs_another_line() -> None:
    # a line's own head is not an echo
    assert not any(k.startswith("e:") for k in document_keys(["red fox red fox jumps"])[0])
    # the longest tail that starts another line; a head of one letter is no key
    keys = document_keys(["News: the big red fox", "the big red fox ran away", "x the big red"])
    assert [k for k in keys[0] if k.startswith("e:")] == [f"e:news {MASK}"]
    assert not any(k.startswith("e:") for k in keys[2])  # head "x": < 2 characters
    long_line = " ".join(["word"] * 31) + " the big red fox"
    assert not any(k.startswith("e:") for k in document_keys([long_line, "the big red fox ran"])[0])  # > 30 words


def test_list_key_is_head_separator_and_length() -> None:
    a = list_key("News / Attualità / Cerberus is a large dog")
    b = list_key("News / Scienza e tecnica / In the second book")
    assert a == b == "l:news\x01/\x013"  # the section and the title change, the shape stays
    assert list_key("News / Attualità / Cerberus / Dog") == "l:news\x01/\x014"  # another depth: another key
    assert list_key("Начало - Резултати за 2019 - The Hunza valley") == "l:начало\x01-\x013"
    assert list_key("Home | News") is None  # one separator: not a list
    assert list_key("1 | 2 | 3") is None  # first item folds to nothing
    assert list_segments("a | b · c | d") == ("|", ["a", "b · c", "d"])
    assert list_segments("a | b · c · d") == ("·", ["a | b", "c", "d"])


def test_key_hashes_match_the_string_keys() -> None:
    """`document_key_hashes` (numpy, batched) gives equal hashes exactly to equal string keys of one group."""
    docs = [
        ["Home > World news > Big storm hits coast", "Big storm hits coast of Maine today", "No comments", "X:1", ""],
        ["Home > Sport > Local team wins", "Local team wins the cup again", "No events", "12.03.2019", "  "],
        ["HOME | Shop | Cart (2) | Help | Contact us", "Ünïcode wörds, ДА нет; 東京 タワー", "Posted in News: Local team"],
        ["home | shop | cart (3) | help", "ΟΔΟΣ Σ σ", "x_y 3d 4", "a\ud800b c", "Posted in News: Big storm"],
    ]
    groups = ["a.example", "a.example", "a.example", "b.example"]
    keys = NearDupKeys()
    hashed = document_key_hashes(docs, groups, keys)
    for lines, (line_idx, hashes) in zip(docs, hashed):
        strings = document_keys(lines, keys)
        for i, ks in enumerate(strings):  # as many distinct hashes as distinct keys, on the same lines
            assert len(set(hashes[line_idx == i].tolist())) == len(set(ks))
    # batching does not change a document's hashes
    for d in range(len(docs)):
        one = document_key_hashes([docs[d]], [groups[d]], keys)[0]
        assert one[0].tolist() == hashed[d][0].tolist() and one[1].tolist() == hashed[d][1].tolist()
    # spreads by hash == spreads by string keys
    spread = KeySpread(keys, batch_bytes=60)
    for lines, group in zip(docs, groups):
        spread.observe(lines, group)
    spread.freeze()
    counts: dict[tuple[str, str], int] = {}
    for lines, group in zip(docs, groups):
        for k in {k for ks in document_keys(lines, keys) for k in ks}:
            counts[(group, k)] = counts.get((group, k), 0) + 1
    for lines, group in zip(docs, groups):
        expected = [max((counts[(group, k)] for k in ks), default=0) for ks in document_keys(lines, keys)]
        assert spread.line_spread(lines, group).tolist() == expected


ARTICLES = [
    "The council approved the budget after a long night of debate.",
    "Voters in the northern district go to the polls on Sunday.",
    "Heavy rain pushed the river above its banks near the old mill.",
    "Engineers say the bridge will reopen to traffic in the spring.",
    "A local bakery won the regional prize for its rye bread.",
    "Schools will close early on Friday because of the heat.",
    "The museum shows letters written by the town's first mayor.",
    "Fishermen report the best herring season in a decade.",
]


def test_list_lines() -> None:
    assert is_list_line("Home | News | Sport") and is_list_line("Начало - Резултати - The 1974 Hunza")
    assert is_list_line("Home › Shop › Shoes")
    assert not is_list_line("Home | News")  # one separator: could be a title "Site | Page"
    assert not is_list_line("x/y/z")  # no spaces around the separator: a path, not a list
    assert is_list_line("Well - it was - fine")  # a shape, not a meaning: prose with two dashes counts
    assert not is_list_line("How to make a cake: a guide for beginners.")


def _site(n: int, host: str = "news.example") -> list[tuple[str, list[str]]]:
    pages = []
    for i in range(n):
        pages.append(
            (
                f"https://{host}/p{i}",
                [
                    f"Home | News | {'Sport' if i % 2 else 'Weather'} | Contact",
                    f"Posted by {['Anna', 'Bob', 'Carla', 'Dan', 'Eve', 'Finn', 'Gus', 'Hal'][i % 8]} in Politics",
                    ARTICLES[i],
                    f"© {2015 + i} News Example",
                ],
            )
        )
    return pages


def _spreads(pages: list[tuple[str, list[str]]], keys: NearDupKeys = NearDupKeys(), by_host: bool = True) -> list[np.ndarray]:
    spread = KeySpread(keys)
    for url, lines in pages:
        spread.observe(lines, host_of(url) if by_host else "")
    spread.freeze()
    return [spread.line_spread(lines, host_of(url) if by_host else "") for url, lines in pages]


def test_spread_counts_documents_per_host() -> None:
    pages = _site(6) + [("https://other.example/q", ["Posted by Zoe in Politics", "Home | News | Weather | Contact"])]
    spreads = _spreads(pages)
    assert spreads[0].tolist() == [6, 6, 1, 6]  # menu (word set), byline (one word masked), content, © year
    assert spreads[-1].tolist() == [1, 1]  # the same lines on another host count on their own
    shard_wide = _spreads(pages, by_host=False)
    assert shard_wide[-1].tolist() == [7, 7]
    # a line repeated inside one document counts once
    assert _spreads([("https://a.example/", ["Hello there friend", "Hello there friend"])])[0].tolist() == [1, 1]


def test_spread_mask_threshold() -> None:
    assert spread_mask(np.array([0, 1, 5, 6, 9]), 6).tolist() == [False, False, False, True, True]
    with pytest.raises(ValueError, match="min_spread"):
        spread_mask(np.array([1]), 1)


def test_compaction_and_freeze_keep_the_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    pages = _site(8)
    expected = _spreads(pages)
    monkeypatch.setattr(near_dup, "COMPACT_EVERY", 3)  # merge after nearly every document
    assert [s.tolist() for s in _spreads(pages)] == [s.tolist() for s in expected]
    spread = KeySpread()
    for url, lines in pages:
        spread.observe(lines, host_of(url))
    spread.freeze(6)  # keys below 6 documents are dropped: their lines read 0
    got = spread.line_spread(pages[0][1], host_of(pages[0][0]))
    assert got.tolist() == [int(v) if v >= 6 else 0 for v in expected[0]]


def test_host_of() -> None:
    assert host_of("https://www.Example.org:8080/a?b") == "example.org"
    assert host_of("") == "" and host_of("not a url") == ""


def test_exact_step_with_the_spread_rule() -> None:
    pages = _site(7)
    step = ExactLineDedup("keep-first", "strip", "exact", 1000, 1e-3, near_dup_spread=6)
    assert step.needs_observe_pass
    for url, lines in pages:
        step.observe("\n".join(lines), url)
    docs = [Document(text="\n".join(lines), id=url, metadata={"url": url}) for url, lines in pages]
    for doc in docs:
        step.process(doc)
    # first page: nothing is an exact repeat yet, the menu / byline / footer variants go by spread
    assert docs[0].text == pages[0][1][2]
    assert docs[0].metadata["lines_removed_exact"] == 0 and docs[0].metadata["lines_removed_near_dup"] == 3
    # third page: its menu is an exact repeat of the first page's (counted once, as exact)
    assert docs[2].metadata["lines_removed_exact"] == 1 and docs[2].metadata["lines_removed_near_dup"] == 2
    assert all(d.text == lines[2] for d, (_, lines) in zip(docs, pages))
    off = ExactLineDedup("keep-first", "strip", "exact", 1000, 1e-3)
    assert not off.needs_observe_pass
    with pytest.raises(ValueError, match="near_dup_spread"):
        ExactLineDedup("keep-first", "strip", "exact", 1000, 1e-3, near_dup_spread=1)
