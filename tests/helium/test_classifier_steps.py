"""The two pipeline steps: contract with toy fastText models trained on the spot (behaviour known
exactly), then end to end with the real dedup model trained on ../shared/data/text: near-duplicate
boilerplate built from real CCAligned menus and footers is removed, article text stays."""

from __future__ import annotations

import copy
import csv
import gzip
import json
import pickle
import re
import sys
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa
import pytest
from datatrove.data import Document

from curate.helium.dedup import LineDeduplicator
from curate.helium.normalize import get_normalizer
from curate.helium.quality import QUALITY_LABELS
from curate.helium.steps.base import DROP_REASON
from curate.helium.steps.classifiers import QUALITY_STRUCT, FuzzyLineDedup, QualityFilter
from tests.classifier_models import dedup_model, workdir
from tests.conftest import shared_path


def _train_toy(name: str, rows: list[tuple[str, str]]) -> str:
    from curate.training.common import train_fasttext_file

    folder = workdir("toy")
    data = folder / f"{name}.txt"
    data.write_text("".join(f"__label__{label} {text}\n" for label, text in rows * 20))
    path = folder / f"{name}.bin"
    kwargs = {"epoch": 25, "lr": 0.5, "wordNgrams": 2, "dim": 8, "bucket": 1000, "thread": 1, "seed": 0, "verbose": 0}
    train_fasttext_file(data, path, kwargs)
    return str(path)


@pytest.fixture(scope="module")
def toy_dedup() -> str:
    """dup <=> the line contains the word 'menu' (lines are lowercased for the dedup model)."""
    rows = [("dup", f"menu item {w}") for w in "alpha beta gamma delta epsilon zeta eta theta".split()]
    rows += [("unique", f"the article says {w} about things") for w in "alpha beta gamma delta epsilon zeta eta theta".split()]
    return _train_toy("toy_dedup", rows)


@pytest.fixture(scope="module")
def toy_quality() -> str:
    """rand <=> 'zzz' words, wiki <=> 'www' words; no other label is known to the model."""
    rows = [("rand", f"zzz {w} zzz") for w in "a b c d e f g h".split()] + [
        ("wiki", f"www {w} www") for w in "a b c d e f g h".split()
    ]
    return _train_toy("toy_quality", rows)


def docs_of(*texts: str) -> list[Document]:
    return [Document(text=t, id=str(i)) for i, t in enumerate(texts)]


# --------------------------------------------------------------------------- fuzzy step


def test_fuzzy_step_block_rule_on_documents(toy_dedup):
    step = FuzzyLineDedup(toy_dedup, threshold=0.5, min_block=3)
    docs = docs_of(
        "MENU one\nMenu two\nmenu three\nthe article says alpha about things\nmenu four",  # leading run of 3 goes
        "menu one\nthe article says beta about things\nmenu two\nmenu three",  # runs of 1 and 2 stay
        "menu one\n\n  \nmenu two\nmenu three\nthe article says gamma about things",  # blank lines: transparent, kept
        "menu one\nmenu two\nmenu three\n\nmenu four",  # nothing left but a blank line -> dropped
    )
    step.process_batch(docs)
    assert docs[0].text == "the article says alpha about things\nmenu four"
    assert docs[0].metadata["lines_removed_fuzzy"] == 3
    assert docs[1].text == "menu one\nthe article says beta about things\nmenu two\nmenu three"
    assert docs[1].metadata["lines_removed_fuzzy"] == 0
    assert docs[2].text == "\n  \nthe article says gamma about things"
    assert docs[2].metadata["lines_removed_fuzzy"] == 3
    assert docs[3].metadata["lines_removed_fuzzy"] == 4
    assert docs[3].metadata[DROP_REASON] == "empty_after_fuzzy"
    assert all(DROP_REASON not in d.metadata for d in docs[:3])


def test_fuzzy_step_threshold_and_min_block(toy_dedup):
    text = "menu a\nmenu b\nthe article says alpha about things"
    loose = docs_of(text)
    FuzzyLineDedup(toy_dedup, threshold=0.5, min_block=2).process_batch(loose)
    assert loose[0].text == "the article says alpha about things"
    everything = docs_of(text)
    FuzzyLineDedup(toy_dedup, threshold=0.0, min_block=1).process_batch(everything)
    assert everything[0].metadata[DROP_REASON] == "empty_after_fuzzy"
    with pytest.raises(ValueError):
        FuzzyLineDedup(toy_dedup, threshold=1.5)
    with pytest.raises(ValueError):
        FuzzyLineDedup(toy_dedup, min_block=0)


def test_fuzzy_step_through_run_passes_dropped_documents(toy_dedup):
    step = FuzzyLineDedup(toy_dedup)
    dropped = Document(text="menu a\nmenu b\nmenu c", id="x", metadata={DROP_REASON: "language"})
    kept = Document(text="menu a\nmenu b\nmenu c\nthe article says zeta about things", id="y")
    out = list(step.run(iter([dropped, kept])))
    assert [d.id for d in out] == ["x", "y"]
    assert out[0].text == "menu a\nmenu b\nmenu c" and "lines_removed_fuzzy" not in out[0].metadata
    assert out[1].text == "the article says zeta about things"
    assert step.stats["lines_removed_fuzzy"].total == 3


def test_steps_are_cheap_to_pickle_and_load_lazily(toy_dedup, toy_quality, tmp_path):
    missing = FuzzyLineDedup(tmp_path / "nope.bin")  # no model is loaded at construction
    with pytest.raises(FileNotFoundError):
        missing.process_batch(docs_of("a\nb"))
    for step in (FuzzyLineDedup(toy_dedup), QualityFilter(toy_quality)):
        step.process_batch(docs_of("menu a\nwww a www"))  # loads the model in this process
        blob = pickle.dumps(step)
        assert len(blob) < 20_000, "a step must not carry its model when sent to a Ray actor"
        clone = pickle.loads(blob)
        clone.process_batch(docs_of("menu b\nzzz b zzz"))


def test_wrong_model_kind_is_refused(toy_dedup, toy_quality):
    with pytest.raises(ValueError, match="not a quality classifier"):
        QualityFilter(toy_dedup).process_batch(docs_of("x"))
    with pytest.raises(ValueError, match="not a dedup classifier"):
        FuzzyLineDedup(toy_quality).process_batch(docs_of("x"))


# --------------------------------------------------------------------------- quality step


def test_quality_step_scores_columns_and_keep_rule(toy_quality):
    step = QualityFilter(toy_quality, threshold=0.5)
    assert step.columns == {"quality": QUALITY_STRUCT, "quality_score": pa.float32()}
    assert [f.name for f in QUALITY_STRUCT] == list(QUALITY_LABELS)
    docs = docs_of(
        "www a www\nwww b www",  # all wiki
        "zzz a zzz\nzzz b zzz",  # all rand
        "zzz a zzz\n\nwww b www www www www www",  # 9 chars rand, 27 chars wiki -> quality ~ 0.75
        "   \n",  # no text
    )
    step.process_batch(docs)
    for d in docs:
        assert set(d.metadata["quality"]) == set(QUALITY_LABELS)
        assert d.metadata["quality"]["pop"] == 0.0 and d.metadata["quality"]["science"] == 0.0
    assert docs[0].metadata["quality_score"] > 0.95 and DROP_REASON not in docs[0].metadata
    assert docs[1].metadata["quality_score"] < 0.05 and docs[1].metadata[DROP_REASON] == "quality"
    q = docs[2].metadata["quality"]
    assert docs[2].metadata["quality_score"] == pytest.approx(1 - q["rand"], abs=1e-6)
    assert docs[2].metadata["quality_score"] == pytest.approx(27 / 36, abs=0.05)
    assert docs[3].metadata["quality_score"] == 0.0 and docs[3].metadata[DROP_REASON] == "quality"
    # values are plain floats: the writer builds the struct column from them
    table = pa.table({"quality": [d.metadata["quality"] for d in docs]}, schema=pa.schema([("quality", QUALITY_STRUCT)]))
    assert table.num_rows == 4


def test_quality_step_category_bounds(toy_quality):
    text = "zzz a zzz\nwww b www www www www www"
    keep = docs_of(text)
    QualityFilter(toy_quality, threshold=0.5, category_min={"wiki": 0.5}).process_batch(keep)
    assert DROP_REASON not in keep[0].metadata
    need_more_wiki = docs_of(text)
    QualityFilter(toy_quality, threshold=0.5, category_min={"wiki": 0.9}).process_batch(need_more_wiki)
    assert need_more_wiki[0].metadata[DROP_REASON] == "quality"
    too_much_wiki = docs_of(text)
    QualityFilter(toy_quality, threshold=0.0, category_max={"wiki": 0.5}).process_batch(too_much_wiki)
    assert too_much_wiki[0].metadata[DROP_REASON] == "quality"
    with pytest.raises(ValueError):
        QualityFilter(toy_quality, category_min={"wikipedia": 0.1})


# --------------------------------------------------------------------------- end to end

_NAV = re.compile(
    r"\b(home|contact|about|privacy|copyright|rights reserved|terms|sitemap|site map|log ?in|sign (in|up)|register|search|menu|"
    r"products?|services|blog|faq|cart|account|download|follow us|share|subscribe|newsletter|cookies?)\b|©",
    re.IGNORECASE,
)


def ccaligned_sites() -> list[tuple[list[str], list[str]]]:
    """Real menus and footers: CCAligned keeps each page's WET lines joined by '|'. One page per
    web site; its menu = the short lines among its first 8, its footer = the short lines among its
    last 6, kept when they contain navigation words (so the selection does not depend on the model)."""
    csv.field_size_limit(sys.maxsize)
    pages: dict[str, list[str]] = {}
    for name in (
        "ccaligned_documents_en_XX-zz_TR.tsv.gz",
        "ccaligned_documents_en_XX-ak_GH.tsv.gz",
        "ccaligned_documents_en_XX-tz_MA.tsv.gz",
    ):
        with gzip.open(shared_path("text", "web_raw", name), "rt", encoding="utf-8", errors="replace") as fh:
            for row in csv.reader(fh, delimiter="\t"):
                pages.setdefault(urlparse(row[1]).netloc, [s.strip() for s in row[2].split("|") if s.strip()])
    sites = []
    for _, segments in sorted(pages.items()):
        if len(segments) < 12:
            continue
        menu = [s for s in segments[:8] if len(s) <= 60][:6]
        footer = [s for s in segments[-6:] if len(s) <= 80][-4:]
        if len(menu) >= 3 and len(footer) >= 3 and sum(map(bool, map(_NAV.search, menu))) >= 2 and any(map(_NAV.search, footer)):
            sites.append((menu, footer))
    return sites


def near_duplicate(line: str, variant: int) -> str:
    """Variants exact dedup misses: other digits (years, counters), another casing, a separator."""
    if variant == 0:
        return line
    if re.search(r"\d", line):
        return re.sub(r"\d", lambda m: str((int(m.group()) + variant) % 10), line)
    if "©" in line or "copyright" in line.lower():
        return f"{line} 20{10 + variant}"
    if variant == 1:
        return line + " |"
    return line.upper() if line.title() == line else line.title()


def test_end_to_end_near_duplicate_boilerplate_is_removed_article_stays():
    sites = ccaligned_sites()
    assert len(sites) >= 8
    articles = []
    with open(shared_path("text", "web_filtered", "c4_en_train-00000-of-01024_first1000.jsonl"), encoding="utf-8") as fh:
        for line in fh:
            articles.extend(p for p in json.loads(line)["text"].split("\n") if len(p) >= 150)
    # three pages per site: the same menu and footer, near-duplicated (and one more menu item on
    # page 2), around different article paragraphs; one shard in page order
    pages, kinds = [], []
    a = 0
    for s, (menu, footer) in enumerate(sites):
        for variant in range(3):
            top = [near_duplicate(x, variant) for x in menu]
            if variant == 1:
                top.insert(1, sites[(s + 1) % len(sites)][0][0])
            bottom = [near_duplicate(x, variant) for x in footer]
            body = articles[a : a + 3]
            a += 3
            pages.append(top + body + bottom)
            kinds.append(["boilerplate"] * len(top) + ["article"] * len(body) + ["boilerplate"] * len(bottom))
    # exact line dedup (keep-first) first, as in the pipeline: it removes the exact repeats only
    exact = LineDeduplicator("keep-first", get_normalizer("strip"), mode="exact")
    docs, left = [], []
    for i, (lines, kind) in enumerate(zip(pages, kinds)):
        removed = exact.removed_mask(lines)
        docs.append(Document(text="\n".join(x for x, r in zip(lines, removed) if not r), id=str(i)))
        left.append([(x, k) for x, k, r in zip(lines, kind, removed) if not r])
    boilerplate_left = sum(k == "boilerplate" for doc in left for _, k in doc)
    article_left = sum(k == "article" for doc in left for _, k in doc)
    assert article_left == sum(k == "article" for doc in kinds for k in doc), "exact dedup must not touch the articles"
    assert boilerplate_left >= 150, "exact dedup leaves the near duplicates"

    model_path, _ = dedup_model()
    step = FuzzyLineDedup(model_path, threshold=0.5, min_block=3)
    before = copy.deepcopy(docs)
    step.process_batch(docs)
    removed = {"boilerplate": 0, "article": 0}
    for doc, lines in zip(docs, left):
        kept = doc.text.split("\n")
        k = 0
        for text, kind in lines:  # removal keeps the order: walk both lists
            if k < len(kept) and kept[k] == text:
                k += 1
            else:
                removed[kind] += 1
        assert k == len(kept)
    assert sum(d.metadata["lines_removed_fuzzy"] for d in docs) == removed["boilerplate"] + removed["article"]
    print(
        f"\nfuzzy dedup after exact dedup: boilerplate {removed['boilerplate']}/{boilerplate_left} removed, article {removed['article']}/{article_left} removed"
    )
    assert removed["boilerplate"] >= 0.4 * boilerplate_left
    assert removed["article"] <= 0.05 * article_left
    # every article paragraph the step kept is unchanged, and documents were not dropped
    assert all(DROP_REASON not in d.metadata for d in docs)
    assert len(before) == len(docs)


def test_fuzzy_removed_lines_are_blocks(toy_dedup):
    rng = np.random.default_rng(1)
    words = ["menu x", "the article says eta about things"]
    for _ in range(30):
        flags = rng.random(12) < 0.6
        lines = [words[0] if f else words[1] for f in flags]
        doc = docs_of("\n".join(lines))
        FuzzyLineDedup(toy_dedup, min_block=3).process_batch(doc)
        runs = re.findall(r"(?:1)+", "".join("1" if f else "0" for f in flags))
        assert doc[0].metadata["lines_removed_fuzzy"] == sum(len(r) for r in runs if len(r) >= 3)
