"""WARC input for the Helium pipeline: `response` records with HTML -> main text, one paragraph a line.

A WET file holds CommonCrawl's own text conversion, which keeps menus, cookie banners and footers
(line dedup then has to fight them). Reading the WARC instead lets us extract the main content
(Resiliparse `main_content`, as kyutai-labs/dactory does for Helium-1; or Trafilatura).

Per `response` record, in order (each step is a pure function below, with test vectors):

1. HTTP status: not 2xx -> drop reason `http_status` (redirects, 404 pages).
2. Content type: the HTTP `Content-Type` (or, when absent, a sniff of the first bytes) must be HTML
   or XHTML -> else drop reason `not_html`; an HTML-declared payload that is binary (NUL bytes,
   a PNG/GIF/PDF/gzip signature) -> drop reason `binary_payload`.
3. Charset: the HTTP header's `charset=`, else the first `<meta charset>` / `http-equiv` in the
   first 4 KiB, else detection (Resiliparse `detect_encoding`); a declared charset that fails to
   decode falls back to detection; bytes that decode under none of them are replaced (U+FFFD) and
   the document is flagged `invalid_utf8`, as for WET.
4. Extraction (`extractor`): paragraphs become lines (whitespace collapsed, blank lines removed);
   nothing left -> drop reason `empty_extraction`; an extractor that raises -> an error in
   `errors.jsonl` (`extraction_failed`), never a crash.

A payload cut short (the record ends before its Content-Length) is the existing `truncated_record`
error. Records of other types (request, metadata, revisit, warcinfo) are skipped, as WET readers
skip everything but `conversion`. With `input_format: auto` both `conversion` and `response`
records are read, so WET and WARC files mix in one run.

Columns: `extractor` (resiliparse | trafilatura; null for WET documents), `http_status` (int32),
`content_type` (the HTTP header's media type, lowercased, without parameters).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from curate.core.issues import Issue
from curate.helium.wet import (
    MAX_RECORD_BYTES,
    RecordHandler,
    WetDocument,
    conversion_document,
    document_from_headers,
    read_records,
)

EXTRACTORS = ("resiliparse", "trafilatura")
INPUT_FORMATS = ("wet", "warc", "auto")
WARC_COLUMNS: dict[str, pa.DataType] = {"extractor": pa.string(), "http_status": pa.int32(), "content_type": pa.string()}

DROP_HTTP_STATUS = "http_status"
DROP_NOT_HTML = "not_html"
DROP_BINARY = "binary_payload"
DROP_EMPTY_EXTRACTION = "empty_extraction"
WARC_DROP_REASONS = (DROP_HTTP_STATUS, DROP_NOT_HTML, DROP_BINARY, DROP_EMPTY_EXTRACTION)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/xml+xhtml"})
_BINARY_SIGNATURES = (b"\x89PNG", b"GIF8", b"%PDF", b"\x1f\x8b", b"\xff\xd8\xff", b"PK\x03\x04", b"RIFF", b"\x00\x00\x01\x00")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_HTML_SNIFF = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body|title|meta|div|p)\b", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"[ \t\r\f\v\u00a0\u200b\ufeff]+")


# --- pure rules -------------------------------------------------------------------------------


def media_type(content_type: str | None) -> str:
    """'Text/HTML; charset=UTF-8' -> 'text/html' ('' when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_success(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def looks_binary(body: bytes) -> bool:
    """A known binary signature, or a NUL byte in the first KiB (HTML in UTF-16 is not supported)."""
    head = body[:1024]
    return head.startswith(_BINARY_SIGNATURES) or b"\x00" in head


def is_html(content_type: str | None, body: bytes) -> bool:
    """HTML by the declared media type; with no declared type, by sniffing the first bytes."""
    declared = media_type(content_type)
    if declared:
        return declared in HTML_TYPES
    return bool(_HTML_SNIFF.match(body.lstrip(b"\xef\xbb\xbf")[:2048]))


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except (LookupError, ValueError):
        return None


def declared_charset(content_type: str | None, body: bytes) -> str | None:
    """The charset named by the HTTP header, else by the first <meta> of the first 4 KiB; a name
    Python does not know counts as undeclared."""
    match = _HEADER_CHARSET.search(content_type or "")
    if match and (codec := _codec(match.group(1))):
        return codec
    match = _META_CHARSET.search(body[:4096])
    if match:
        return _codec(match.group(1).decode("ascii", "replace"))
    return None


def detect_charset(body: bytes) -> str | None:
    from resiliparse.parse.encoding import detect_encoding

    return _codec(detect_encoding(body[: 64 * 1024]))


def decode_html(body: bytes, content_type: str | None) -> tuple[str, str, bool]:
    """(text, charset used, had undecodable bytes). Declared charset, then detection, then UTF-8
    with U+FFFD replacements. A BOM wins over everything (as browsers do)."""
    if body.startswith(codecs.BOM_UTF8):
        text = body[3:].decode("utf-8", errors="replace")
        return text, "utf-8", "\ufffd" in text and b"\xef\xbf\xbd" not in body
    tried: list[str] = []
    for charset in (declared_charset(content_type, body), detect_charset(body), "utf-8"):
        if charset is None or charset in tried:
            continue
        tried.append(charset)
        try:
            return body.decode(charset), charset, False
        except (UnicodeDecodeError, LookupError):
            continue
    return body.decode("utf-8", errors="replace"), "utf-8", True


def paragraph_lines(text: str | None) -> str:
    """Extractor output -> one paragraph a line: whitespace runs collapsed, lines stripped, blank
    lines removed (the line is the unit of line dedup)."""
    if not text:
        return ""
    lines = (_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def extract_resiliparse(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    return extract_plain_text(
        tree,
        preserve_formatting=True,
        main_content=True,
        list_bullets=False,
        alt_texts=False,
        links=False,
        form_fields=False,
        noscript=False,
    )


def extract_trafilatura(html: str) -> str:
    from trafilatura import extract

    # deduplicate=False: trafilatura's dedup is an LRU cache shared across calls, which would make
    # the output depend on which documents a worker saw before (line dedup is curate's job)
    return extract(html, favor_precision=True, include_comments=False, include_tables=True, deduplicate=False) or ""


EXTRACT: dict[str, Callable[[str], str]] = {"resiliparse": extract_resiliparse, "trafilatura": extract_trafilatura}


def extract_main_text(html: str, extractor: str = "resiliparse") -> str:
    """Main content of an HTML page, one paragraph a line."""
    return paragraph_lines(EXTRACT[extractor](html))


# --- record handling --------------------------------------------------------------------------


def _status(record: Any) -> int | None:
    http = record.http_headers
    if http is None:
        return None
    try:
        return int(http.get_statuscode())
    except (TypeError, ValueError):
        return None


def response_handler(extractor: str) -> RecordHandler:
    if extractor not in EXTRACTORS:
        raise ValueError(f"--extractor must be one of {', '.join(EXTRACTORS)}, not {extractor!r}")

    def handle(record: Any, source: str, index: int, offset: int) -> Iterator[WetDocument | Issue]:
        headers = record.rec_headers
        http = record.http_headers
        content_type = http.get_header("Content-Type") if http is not None else None
        status = _status(record)
        body = record.content_stream().read(MAX_RECORD_BYTES + 1)
        if len(body) > MAX_RECORD_BYTES:
            yield Issue(source, "record_too_large", f"payload over {MAX_RECORD_BYTES} bytes", "error", index, offset)
            return
        missing = getattr(record.raw_stream, "limit", 0) or 0
        if record.length is None or missing > 0:
            reason = (
                f"record cut short: {missing} of {record.length} bytes missing" if record.length else "record headers cut short"
            )
            yield Issue(source, "truncated_record", reason, "error", index, offset)
            return
        doc = document_from_headers(
            headers,
            source,
            index,
            text="",
            invalid_utf8=False,
            nbytes=len(body),
            extractor=extractor,
            http_status=status,
            content_type=media_type(content_type) or None,
        )
        if http is None or not is_success(status):
            doc.drop_reason = DROP_HTTP_STATUS
        elif not is_html(content_type, body):
            doc.drop_reason = DROP_NOT_HTML
        elif looks_binary(body):
            doc.drop_reason = DROP_BINARY
        if doc.drop_reason:
            yield doc
            return
        html, _, invalid = decode_html(body, content_type)
        try:
            text = extract_main_text(html, extractor)
        except Exception as exc:  # a broken page must not stop the file
            yield Issue(source, "extraction_failed", f"{extractor}: {type(exc).__name__}: {exc}"[:300], "error", index, offset)
            return
        doc.text, doc.invalid_utf8 = text, invalid
        if not text:
            doc.drop_reason = DROP_EMPTY_EXTRACTION
        yield doc

    return handle


def record_handlers(input_format: str, extractor: str = "resiliparse") -> dict[str, RecordHandler]:
    """Record type -> handler for an input format: wet (conversion), warc (response), auto (both)."""
    if input_format == "wet":
        return {"conversion": conversion_document}
    if input_format == "warc":
        return {"response": response_handler(extractor)}
    if input_format == "auto":
        return {"conversion": conversion_document, "response": response_handler(extractor)}
    raise ValueError(f"--input-format must be one of {', '.join(INPUT_FORMATS)}, not {input_format!r}")


def read_warc(
    path: str, source: str | None = None, input_format: str = "warc", extractor: str = "resiliparse"
) -> Iterator[WetDocument | Issue]:
    """Read one WARC (or, with `auto`, WET or mixed) file into documents and issues."""
    return read_records(path, source, record_handlers(input_format, extractor))
