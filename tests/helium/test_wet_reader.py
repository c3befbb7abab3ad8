"""WET reading on every real file in ../shared/data/wet and on generated broken input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from curate.core.issues import Issue
from curate.helium.wet import WetDocument, read_wet
from curate.helium.wet_writer import WetPage, write_wet
from tests.conftest import shared_path


def _read(path: Path | str) -> tuple[list[WetDocument], list[Issue]]:
    docs, issues = [], []
    for item in read_wet(str(path)):
        (docs if isinstance(item, WetDocument) else issues).append(item)
    return docs, issues


def test_real_wet_2014_without_language_header() -> None:
    docs, issues = _read(shared_path("wet", "real", "CC-MAIN-20140820021334-00006.warc.wet"))
    assert len(docs) == 3 and not issues
    assert [d.url.split("/")[2] for d in docs] == ["0pointer.de", "0pointer.de", "0x20.be"]
    assert all(d.warc_language == "" and d.date.startswith("2014-08") for d in docs)
    assert [d.record_index for d in docs] == [1, 2, 3]


def test_real_wet_2024_gzip_with_language_header() -> None:
    docs, issues = _read(shared_path("wet", "real", "whirlwind.warc.wet.gz"))
    assert not issues
    (doc,) = docs
    assert doc.url == "https://an.wikipedia.org/wiki/Escopete"
    assert doc.warc_language == "spa"
    assert "Escopete" in doc.text
    assert len(doc.id) == 36  # urn:uuid: stripped


MALFORMED_ERRORS = {
    "gowarc_corrupted-mid-record.warc.gz.open": "unreadable_stream",
    "gowarc_corrupted-trailing-bytes.warc.gz.open": "unreadable_stream",
    "ia-web-commons_IAH-blackbook-truncated.arc": "unreadable_stream",
    "ia-web-commons_double-single-inflate-error.gz": "unreadable_stream",
    "warcio_example-wrong-chunks.warc.gz": "unreadable_stream",
}


def test_every_malformed_file_is_reported_and_never_raises() -> None:
    folder = shared_path("wet", "malformed")
    files = sorted(p for p in folder.iterdir() if p.is_file())
    assert len(files) == 18
    for path in files:
        docs, issues = _read(path)
        assert issues, f"{path.name}: every file here is odd in some way and must be reported"
        assert all(i.source == str(path) for i in issues)
        expected_error = MALFORMED_ERRORS.get(path.name)
        errors = [i for i in issues if i.severity == "error"]
        if expected_error:
            assert [i.kind for i in errors] == [expected_error], path.name
            assert errors[0].record_index is not None and errors[0].offset is not None
        else:
            assert not errors, f"{path.name}: {errors}"


def test_non_chunked_gzip_is_recovered_by_streaming_gunzip() -> None:
    docs, issues = _read(shared_path("wet", "malformed", "warcio_example-bad-non-chunked.warc.gz"))
    kinds = [i.kind for i in issues]
    assert kinds[0] == "non_chunked_gzip"
    assert "revisit" in issues[-1].reason  # records after the first were read


def test_trailing_garbage_keeps_records_before_it() -> None:
    _, issues = _read(shared_path("wet", "malformed", "gowarc_corrupted-trailing-bytes.warc.gz.open"))
    error = next(i for i in issues if i.severity == "error")
    assert error.record_index == 22
    assert "response x22" in issues[-1].reason


def test_invalid_utf8_is_replaced_and_flagged(tmp_path: Path) -> None:
    path = write_wet(tmp_path / "a.warc.wet.gz", [WetPage("http://x/1", "placeholder")])
    raw = gzip.decompress(path.read_bytes()).replace(b"placeholder", b"place\xff\xfeolde")  # same length
    plain = tmp_path / "b.warc.wet"
    plain.write_bytes(raw)
    (doc,), issues = _read(plain)
    assert doc.invalid_utf8 and doc.text == "place\ufffd\ufffdolde" and not issues


def test_truncated_gzip_keeps_complete_records(tmp_path: Path) -> None:
    pages = [WetPage(f"http://x/{i}", f"page {i}\n" * 200) for i in range(10)]
    path = write_wet(tmp_path / "t.warc.wet.gz", pages)
    cut = tmp_path / "cut.warc.wet.gz"
    cut.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.6)])
    docs, issues = _read(cut)
    assert 3 <= len(docs) < 10
    assert [d.url for d in docs] == [f"http://x/{i}" for i in range(len(docs))]
    errors = [i for i in issues if i.severity == "error"]
    assert len(errors) == 1 and errors[0].record_index == len(docs) + 1  # +1: the warcinfo record


@pytest.mark.parametrize("content", [b"", b"\x00" * 100, b"not a warc at all\n" * 3])
def test_empty_and_garbage_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.warc.wet"
    path.write_bytes(content)
    docs, issues = _read(path)
    assert not docs and issues


def test_any_cut_point_loses_at_most_the_cut_record_and_reports_it(tmp_path: Path) -> None:
    pages = [WetPage(f"http://x/{i}", f"line {i} of page\n" * 50) for i in range(6)]
    data = write_wet(tmp_path / "t.warc.wet.gz", pages).read_bytes()
    plain = gzip.decompress(data)
    for blob, name in ((data, "c.warc.wet.gz"), (plain, "c.warc.wet")):
        for fraction in [i / 23 for i in range(1, 23)]:
            cut = tmp_path / name
            cut.write_bytes(blob[: int(len(blob) * fraction)])
            docs, issues = _read(cut)
            assert [d.url for d in docs] == [f"http://x/{i}" for i in range(len(docs))]
            assert all(d.text == pages[i].text for i, d in enumerate(docs)), "a yielded document is always complete"
            errors = [i for i in issues if i.severity == "error"]
            if len(docs) < len(pages):
                assert len(errors) <= 1
