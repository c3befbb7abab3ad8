"""Training-data readers on the real files in ../shared/data/text (one per format), plus the
layout rules and the StackExchange site map."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma

import pytest
import zstandard

from curate.training.readers import (
    ReadStats,
    detect_format,
    html_to_text,
    iter_files,
    looks_hard_wrapped,
    read_documents,
    read_file,
    read_texts,
    undo_wikitext_tokenization,
)
from curate.training.stackexchange import SITE_CATEGORIES, category_of_site, site_of, stackexchange_categories
from tests.conftest import shared_path


def docs(*parts: str, **kwargs) -> list[str]:
    return list(read_texts(shared_path("text", *parts), **kwargs))


def lines_of(texts: list[str]) -> list[str]:
    return [line for t in texts for line in t.split("\n")]


def test_plain_text_gutenberg_is_unwrapped():
    texts = docs("hq", "books", "pg1342_pride_and_prejudice.txt")
    lines = lines_of(texts)
    assert any(line.startswith("It is a truth universally acknowledged, that a single man in possession") for line in lines)
    # paragraphs, not 70-column fragments
    long_lines = [line for line in lines if len(line) > 100]
    assert len(long_lines) > 0.4 * len(lines)
    assert all(line == line.strip() and line for line in lines)


def test_plain_text_verse_is_not_unwrapped():
    lines = lines_of(docs("hq", "books", "tinyshakespeare.txt"))
    assert "First Citizen:" in lines and "Before we proceed any further, hear me speak." in lines


def test_wikitext_tokenisation_is_undone():
    text = "\n".join(docs("hq", "wiki", "wikitext-2_valid.txt"))
    assert " @-@ " not in text and " @,@ " not in text and "<unk>" not in text
    assert undo_wikitext_tokenization(" = Robert Boulter = \n He had a guest @-@ starring role , in 2000 . ") == (
        "Robert Boulter\nHe had a guest-starring role, in 2000."
    )


def test_jsonl_gz_zst_and_dotted_text_field():
    web = docs("web", "dolma_cc_en_head-0091.jsonl.gz")
    assert len(web) == 10 and all(len(t) > 100 for t in web)
    hplt = docs("web_raw", "hplt_w2t_sample100_CC.jsonl.zst")  # text in field `t`, invalid UTF-8 inside
    assert 90 <= len(hplt) <= 100
    sources = docs("hq", "news", "en_wikinewssum_101_raw-wikitext_with_sources.jsonl", text_field="sources.maintext")
    assert len(sources) > 200  # one document per cited source
    plain = docs("hq", "news", "en_wikinewssum_101_plain.jsonl")
    assert len(plain) == 101


def test_csv_and_headerless_tsv():
    fineweb_edu = docs("web_filtered", "fineweb-edu_first150_llama3.3-edu-scores.csv")
    assert len(fineweb_edu) == 150 and fineweb_edu[0].startswith("The Independent Jane")
    # CCAligned TSV has no header: the column with the most characters (a page text, not a URL
    # or a domain) is taken
    ccaligned = docs("web_raw", "ccaligned_documents_en_XX-zz_TR.tsv.gz")
    assert len(ccaligned) == 41 and not any(t.startswith("http") for t in ccaligned)
    assert sum("|" in t for t in ccaligned) > 30


def test_parquet_text_column():
    texts = docs("web_raw", "dpk_filter_test1_cc-warc-docs.parquet")  # column `contents`
    assert len(texts) == 100
    markdown = docs("hq", "science", "dpk_pdf2md_expected_archive1_arxiv-2206.00785_2206.01062.parquet")
    assert len(markdown) == 2


def test_stackexchange_posts_xml():
    path = shared_path("text", "hq", "stackexchange", "life", "coffee.stackexchange.com_Posts.xml")
    assert detect_format(path) == "stackexchange"
    stats = ReadStats()
    texts = list(read_file(path, stats=stats))
    # 592 rows = 225 questions + 327 answers (+ none of the other kinds)
    assert len(texts) + sum(stats.skipped.values()) == 552
    assert texts[0].split("\n")[0] == "How should I store whole bean coffee?"
    assert "microroasted" in texts[0]
    assert not any("<p>" in t or "&lt;" in t or "&amp;" in t for t in texts)


def test_stackexchange_thread_jsonl():
    texts = docs("hq", "stackexchange", "stem", "futon6_mathoverflow.net__category-theory.jsonl")
    assert len(texts) == 50
    assert "Tensor product of coaugmented conilpotent coalgebras" in [t.split("\n")[0] for t in texts]
    assert not any("<p>" in t for t in texts)


def test_s2orc_jats_and_tei():
    s2orc = docs("hq", "science", "s2orc_json", "20200705_94551546.json")
    assert len(s2orc) == 1 and s2orc[0].count("\n") > 20
    doc2json = docs("hq", "science", "acl_grobid", "N18-3011.json")[0]
    tei = docs("hq", "science", "acl_grobid", "N18-3011.tei.xml")[0]
    for text in (doc2json, tei):
        assert text.startswith("Construction of the Literature Graph in Semantic Scholar")
        assert "We describe a deployed scalable system" in text
    jats = docs("hq", "science", "jats_pmc", "PMC5828200.nxml")[0]
    assert jats.startswith("Curcuminoid submicron particle ameliorates cognitive deficits")
    assert "Alzheimer" in jats and jats.count("\n") > 30
    for path in iter_files(shared_path("text", "hq", "science", "jats_pmc")):
        assert len(list(read_file(path))) == 1


def test_folder_walk_covers_every_shared_text_file():
    stats = ReadStats()
    total = sum(1 for _ in read_documents(shared_path("text", "hq", "science"), stats=stats))
    assert total > 200 and len(stats.documents) == len(iter_files(shared_path("text", "hq", "science")))


@pytest.mark.parametrize("suffix, opener", [(".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open), (".zst", None)])
def test_compressed_jsonl_and_field_fallbacks(tmp_path, suffix, opener):
    records = [{"contents": "first document\nsecond line"}, {"body": ["a list", "of strings"]}, {"other": 1}]
    payload = "".join(json.dumps(r) + "\n" for r in records).encode()
    path = tmp_path / f"x.jsonl{suffix}"
    if opener is None:
        path.write_bytes(zstandard.ZstdCompressor().compress(payload))
    else:
        with opener(path, "wb") as fh:
            fh.write(payload)
    stats = ReadStats()
    assert list(read_file(path, stats=stats)) == ["first document\nsecond line", "a list\nof strings"]
    assert stats.skipped == {str(path): 1}


def test_sniffing_and_csv_header(tmp_path):
    unnamed = tmp_path / "data"
    unnamed.write_text('{"text": "hello"}\n{"text": "world"}\n')
    assert detect_format(unnamed) == "json" and list(read_file(unnamed)) == ["hello", "world"]
    table = tmp_path / "t.csv"
    table.write_text('id,Content\n1,"one, with comma"\n2,two\n')
    assert list(read_file(table)) == ["one, with comma", "two"]
    (tmp_path / "README.md").write_text("not data")
    assert all(p.name != "README.md" for p in iter_files(tmp_path))


def test_html_to_text():
    html = "<p>Hello <b>world</b> &amp; more\nwrapped</p><pre><code>x = 1\ny = 2\n</code></pre><ul><li>one</li><li>two</li></ul>"
    assert html_to_text(html + "<script>bad()</script>end<br/>x") == "Hello world & more wrapped\nx = 1\ny = 2\none\ntwo\nend\nx"


def test_hard_wrap_detection():
    assert looks_hard_wrapped(["x" * 70, "y" * 68, "z" * 72, "w" * 65, "v" * 71, "short"])
    assert not looks_hard_wrapped(["x" * 300, "y" * 68, "z" * 72, "w" * 65, "v" * 71])  # a long paragraph line
    assert not looks_hard_wrapped(["Home", "About us", "Contact", "Blog", "Privacy"])  # a menu


def test_stackexchange_site_map():
    assert site_of("dumps/coffee.stackexchange.com/Posts.xml") == "coffee.stackexchange.com"
    assert site_of("hum/meta.history.stackexchange.com_Posts.xml") == "meta.history.stackexchange.com"
    assert category_of_site("meta.history.stackexchange.com") == "hum"
    assert category_of_site("mathoverflow.net") == "stem" and category_of_site("stackoverflow.com") == "stem"
    assert category_of_site("scifi.stackexchange.com") == "pop"
    assert category_of_site("unknown.stackexchange.com") is None
    assert category_of_site("unknown.stackexchange.com", {"unknown": "life"}) == "life"
    assert set(SITE_CATEGORIES.values()) == {"stem", "life", "hum", "pop"}
    found, unknown = stackexchange_categories(shared_path("text", "hq", "stackexchange"))
    names = {label: sorted(p.rsplit("/", 1)[-1] for p in paths) for label, paths in found.items()}
    assert names["life"] == ["beer.stackexchange.com_Posts.xml", "coffee.stackexchange.com_Posts.xml"]
    assert names["hum"] == ["meta.history.stackexchange.com_Posts.xml", "meta.music.stackexchange.com_Posts.xml"]
    assert len(names["stem"]) == 7 and not unknown
