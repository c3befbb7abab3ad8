"""Source-format readers for classifier training data: a file or folder in, document texts out.

`read_documents(path)` walks a file or a folder (recursively, sorted, hidden files and
`*.SOURCES.tsv` / README / LICENSE files skipped) and picks a reader per file by its name, after
removing a compression suffix (`.gz`, `.zst`/`.zstd`, `.bz2`, `.xz`), and when the name says
nothing, by sniffing the first bytes:

| format | recognised by | document text |
|---|---|---|
| JSON lines | `.jsonl`, `.ndjson`, `.json` with one object per line | the text field (below) |
| JSON | `.json` holding one object or a list | S2ORC paper (below) or the text field |
| CSV / TSV | `.csv` / `.tsv` (`,` / tab) | the text field; no header -> the column with most characters |
| Parquet | `.parquet` | the text column (below), streamed by record batch |
| StackExchange dump | `Posts.xml` / `<posts>` root | questions (title + body) and answers; HTML bodies to text |
| JATS XML (PubMed Central) | `.nxml`, `<article>` root | title, abstract and body paragraphs (references skipped) |
| GROBID TEI | `.tei.xml`, `<TEI>` root | title, abstract, body headings and paragraphs (references skipped) |
| plain text | `.txt`, `.text`, `.md` or anything else | one document per ~200 paragraphs |

**Text field** of a record (JSONL, JSON, CSV/TSV, Parquet), unless `text_field` is given (for
JSON a dotted path may go through nested objects and lists: `sources.maintext` makes one
document of every element's `maintext`): the
first present and non-empty of `TEXT_FIELDS` = `text`, `contents`, `content`, `raw_content`,
`body`, `document`, `article`, `maintext`, `abstract`, `t` (HPLT). A list of strings is joined
with newlines. Records without one are recognised by shape: an S2ORC paper (`body_text` /
`abstract` paragraph lists, at top level or under `pdf_parse` / `grobid_parse` / `latex_parse`),
a StackExchange thread (`question` + `answers` with `body_html` / `body_text`).

Layout: every paragraph becomes one line (as a WET line usually is). Plain text that is
*hard-wrapped* (Project Gutenberg, arXiv abstracts: most lines end near a fixed width of 55-100
characters and no line is longer) is unwrapped: lines of a blank-line-separated paragraph are
joined with spaces. WikiText's tokenisation (` @-@ `, ` @,@ `, ` @.@ `, `<unk>`, spaces before
punctuation) is undone when a text contains those markers.

Nothing here raises on a bad record: it is skipped (and counted in `ReadStats`).
"""

from __future__ import annotations

import bz2
import csv
import gzip
import html
import io
import json
import lzma
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

TEXT_FIELDS: tuple[str, ...] = (
    "text",
    "contents",
    "content",
    "raw_content",
    "body",
    "document",
    "article",
    "maintext",
    "abstract",
    "t",
)
COMPRESSION_SUFFIXES = (".gz", ".zst", ".zstd", ".bz2", ".xz")
PARAGRAPHS_PER_TEXT_DOCUMENT = 200
SKIPPED_NAMES = re.compile(r"^(readme|license|licence|copying|notice)(\..*)?$|\.sources\.tsv$", re.IGNORECASE)


@dataclass
class ReadStats:
    """What a read met: documents per file and skipped records."""

    documents: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def add(self, path: str, n: int = 1) -> None:
        self.documents[path] = self.documents.get(path, 0) + n

    def skip(self, path: str, n: int = 1) -> None:
        self.skipped[path] = self.skipped.get(path, 0) + n


# --------------------------------------------------------------------------- files and streams


def iter_files(path: str | Path) -> list[Path]:
    """The files under `path` (itself when a file), sorted; hidden and README-like files skipped."""
    root = Path(path)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"training input not found: {path}")
    files = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if not p.is_file() or any(part.startswith(".") for part in rel.parts) or SKIPPED_NAMES.search(p.name):
            continue
        files.append(p)
    return files


def inner_name(path: str | Path) -> str:
    """File name without its compression suffix, lowercased: `a.jsonl.gz` -> `a.jsonl`."""
    name = Path(path).name.lower()
    for suffix in COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def open_binary(path: str | Path) -> IO[bytes]:
    """Open a file for reading, decompressing by suffix."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith((".zst", ".zstd")):
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)  # type: ignore[return-value]
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    if name.endswith(".xz"):
        return lzma.open(path, "rb")
    return open(path, "rb")


def open_text(path: str | Path) -> io.TextIOWrapper:
    """Text stream (UTF-8, invalid bytes replaced, BOM removed, newlines as written)."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", errors="replace", newline="")


def read_jsonl(path: str | Path) -> Iterator[dict]:
    """The JSON objects of a (compressed) JSONL file; lines that are not a JSON object are skipped."""
    with open_text(path) as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record


def _sniff(path: Path) -> str:
    with open_binary(path) as fh:
        head = fh.read(4096).decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if head.startswith("<"):
        return _sniff_xml(head)
    if head.startswith("{") or head.startswith("["):
        return "json"
    return "text"


def _sniff_xml(head: str) -> str:
    if re.search(r"<posts[\s>]", head):
        return "stackexchange"
    if re.search(r"<TEI[\s>]", head):
        return "tei"
    if re.search(r"<article[\s>]", head):
        return "jats"
    return "xml"


def detect_format(path: str | Path) -> str:
    """One of: jsonl, json, csv, tsv, parquet, stackexchange, jats, tei, text."""
    path = Path(path)
    name = inner_name(path)
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".json"):
        return "json"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".tsv"):
        return "tsv"
    if name.endswith(".parquet"):
        return "parquet"
    if name == "posts.xml" or name.endswith("_posts.xml"):
        return "stackexchange"
    if name.endswith(".nxml"):
        return "jats"
    if name.endswith(".tei.xml"):
        return "tei"
    if name.endswith((".txt", ".text", ".md")):
        return "text"
    kind = _sniff(path)
    return "text" if kind == "xml" else kind


# --------------------------------------------------------------------------- text clean-up

_WIKITEXT_MARKERS = re.compile(r" @[-,.]@ |<unk>")
_SPACE_BEFORE_PUNCT = re.compile(r" ([,.;:!?)\]}'%])")
_SPACE_AFTER_OPEN = re.compile(r"([(\[{$]) ")
_SPACES = re.compile(r"[ \t\u00a0]+")


def undo_wikitext_tokenization(text: str) -> str:
    """WikiText-2/103 style ` @-@ `, ` @,@ `, ` @.@ `, `<unk>`, ` , ` back to plain prose."""
    text = text.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".").replace("<unk>", "")
    text = text.replace(" 's", "'s").replace(" n't", "n't").replace(" 're", "'re").replace(" 've", "'ve")
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _SPACE_AFTER_OPEN.sub(r"\1", text)
    lines = []
    for line in text.split("\n"):
        stripped = line.strip()
        # headings: " = Title = ", " = = Section = = "
        if stripped.startswith("=") and stripped.endswith("="):
            stripped = stripped.strip("= ").strip()
        lines.append(_SPACES.sub(" ", stripped))
    return "\n".join(lines)


def looks_hard_wrapped(lines: list[str]) -> bool:
    """Most lines end near one fixed width (55-100 chars) and none is longer than that width."""
    lengths = [len(line.rstrip()) for line in lines if line.strip()]
    if len(lengths) < 5:
        return False
    width = max(lengths)
    if not 55 <= width <= 100:
        return False
    near_width = sum(1 for n in lengths if n >= 0.7 * width)
    return near_width >= 0.5 * len(lengths)


def unwrap_paragraphs(lines: list[str]) -> list[str]:
    """Join the lines of each blank-line-separated paragraph into one line."""
    out: list[str] = []
    current: list[str] = []
    for line in lines:
        if line.strip():
            current.append(line.strip())
        elif current:
            out.append(" ".join(current))
            current = []
    if current:
        out.append(" ".join(current))
    return out


def normalize_layout(text: str) -> str:
    """Apply the layout rules of this module to one document text."""
    if _WIKITEXT_MARKERS.search(text):
        text = undo_wikitext_tokenization(text)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if looks_hard_wrapped(lines):
        lines = unwrap_paragraphs(lines)
    return "\n".join(line.strip() for line in lines if line.strip())


# --------------------------------------------------------------------------- HTML to text

_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|li|ul|ol|pre|blockquote|h[1-6]|tr|table|hr|dd|dt|dl|section|article|header|footer|figure|figcaption)\b[^>]*>",
    re.IGNORECASE,
)
_SKIPPED_ELEMENT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_PRE_ELEMENT = re.compile(r"(<pre\b[^>]*>.*?</pre\s*>)", re.IGNORECASE | re.DOTALL)
_ANY_TAG = re.compile(r"<[^>]*>")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def html_to_text(markup: str) -> str:
    """Block elements (p, li, headings, table rows, br, ...) become lines; inline markup is
    dropped, entities decoded. Inside <pre> every source line stays a line (code); elsewhere
    newlines in the markup are soft wraps. Regex-based: StackExchange bodies are well-formed
    and simple, and this is ~10x faster than html.parser."""
    markup = _COMMENT.sub(" ", _SKIPPED_ELEMENT.sub(" ", markup))
    parts = []
    for i, piece in enumerate(_PRE_ELEMENT.split(markup)):
        if i % 2 == 0:
            piece = piece.replace("\r", " ").replace("\n", " ")
        parts.append(_BLOCK_TAG.sub("\n", piece))
    text = html.unescape(_ANY_TAG.sub("", "".join(parts)))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


# --------------------------------------------------------------------------- records


def _join(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [_join(v) for v in value]
        return "\n".join(p for p in parts if p)
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return value["text"]
    return ""


def _s2orc_text(record: dict) -> str:
    """S2ORC / doc2json / CORD-19 style paper: title, abstract and body paragraphs."""
    containers = [record] + [record[k] for k in ("pdf_parse", "grobid_parse", "latex_parse") if isinstance(record.get(k), dict)]
    lines: list[str] = []
    title = record.get("title") or (record.get("metadata") or {}).get("title")
    if isinstance(title, str) and title.strip():
        lines.append(title.strip())
    body_found = False
    for container in containers:
        abstract = container.get("abstract")
        body = container.get("body_text")
        if isinstance(body, list) and body:
            if isinstance(abstract, list):
                lines.extend(_paragraphs(abstract))
            elif isinstance(abstract, str) and abstract.strip():
                lines.append(abstract.strip())
            lines.extend(_paragraphs(body))
            body_found = True
            break
    if not body_found:
        abstract = record.get("abstract")
        if isinstance(abstract, str) and abstract.strip():
            lines.append(abstract.strip())
    return "\n".join(lines)


def _paragraphs(items: list) -> list[str]:
    out: list[str] = []
    section = None
    for item in items:
        if not isinstance(item, dict):
            continue
        heading = item.get("section")
        if isinstance(heading, str) and heading.strip() and heading != section:
            out.append(heading.strip())
        section = heading
        text = item.get("text")
        if isinstance(text, str) and text.strip():
            out.append(" ".join(text.split()))
    return out


def _is_s2orc(record: dict) -> bool:
    keys = ("body_text", "pdf_parse", "grobid_parse", "latex_parse")
    return any(isinstance(record.get(k), (list, dict)) for k in keys)


def _post_text(post: dict) -> str:
    body = post.get("body_html")
    text = html_to_text(body) if isinstance(body, str) and body else (post.get("body_text") or "")
    title = post.get("title")
    return f"{title.strip()}\n{text}" if isinstance(title, str) and title.strip() else text


def _field_values(value: Any, path: list[str]) -> list[Any]:
    """Follow a dotted path; lists met on the way are traversed element by element."""
    if not path:
        return [value]
    if isinstance(value, list):
        return [v for item in value for v in _field_values(item, path)]
    if isinstance(value, dict) and path[0] in value:
        return _field_values(value[path[0]], path[1:])
    return []


def record_texts(record: Any, text_field: str | None = None) -> list[str]:
    """The document text(s) of one JSON record. `text_field` may be a dotted path through
    nested objects and lists (`sources.maintext`: every source's `maintext`, one document each)."""
    if text_field and "." in text_field and isinstance(record, dict) and text_field not in record:
        return [_join(v) for v in _field_values(record, text_field.split("."))]
    return [record_text(record, text_field)]


def record_text(record: Any, text_field: str | None = None) -> str:
    """The text of one JSON / CSV / Parquet record (see the module docstring)."""
    if isinstance(record, str):
        return record
    if not isinstance(record, dict):
        return ""
    if text_field:
        return _join(record.get(text_field))
    if _is_s2orc(record):
        return _s2orc_text(record)
    if isinstance(record.get("question"), dict) and isinstance(record.get("answers"), list):
        posts = [record["question"]] + [a for a in record["answers"] if isinstance(a, dict)]
        return "\n".join(t for t in (_post_text(p) for p in posts) if t)
    for name in TEXT_FIELDS:
        value = _join(record.get(name))
        if value.strip():
            return value
    return ""


# --------------------------------------------------------------------------- per-format readers


def _read_jsonl(path: Path, text_field: str | None, stats: ReadStats) -> Iterator[str]:
    with open_text(path) as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                stats.skip(str(path))
                continue
            yield from record_texts(record, text_field)


def _read_json(path: Path, text_field: str | None, stats: ReadStats) -> Iterator[str]:
    with open_text(path) as fh:
        content = fh.read()
    try:
        data = json.loads(content)
    except json.JSONDecodeError:
        # JSON lines under a .json name
        yield from _read_jsonl(path, text_field, stats)
        return
    records = data if isinstance(data, list) else [data]
    for record in records:
        yield from record_texts(record, text_field)


def _read_delimited(path: Path, delimiter: str, text_field: str | None, stats: ReadStats) -> Iterator[str]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with open_text(path) as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        lowered = [h.strip().lower() for h in header]
        wanted = [text_field.lower()] if text_field else list(TEXT_FIELDS)
        column = next((lowered.index(name) for name in wanted if name in lowered), None)
        rows: Iterable[list[str]] = reader
        if column is None:
            if text_field:
                raise ValueError(f"{path}: no column {text_field!r} in header {header}")
            # no header: the first row is data; take the column with the most characters
            first = [header] + [row for _, row in zip(range(50), reader)]
            widths: dict[int, int] = {}
            for row in first:
                for j, value in enumerate(row):
                    widths[j] = widths.get(j, 0) + len(value)
            column = max(widths, key=lambda j: widths[j]) if widths else 0
            rows = _chain(first, reader)
        for row in rows:
            if column < len(row):
                yield row[column]
            else:
                stats.skip(str(path))


def _chain(first: list[list[str]], rest: Iterable[list[str]]) -> Iterator[list[str]]:
    yield from first
    yield from rest


def _read_parquet(path: Path, text_field: str | None, stats: ReadStats) -> Iterator[str]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    lowered = {n.lower(): n for n in names}
    wanted = [text_field] if text_field else list(TEXT_FIELDS)
    column = next((lowered[w.lower()] for w in wanted if w.lower() in lowered), None)
    if column is None:
        raise ValueError(f"{path}: no text column among {names}; pass a text field")
    for batch in pf.iter_batches(columns=[column], batch_size=1024):
        for value in batch.column(0).to_pylist():
            yield _join(value) if value is not None else ""


def _read_stackexchange(path: Path, stats: ReadStats) -> Iterator[str]:
    """Posts.xml: questions (PostTypeId 1: title + body) and answers (2); other rows skipped."""
    with open_binary(path) as fh:
        for _, elem in ET.iterparse(fh, events=("end",)):
            if elem.tag != "row":
                continue
            kind = elem.get("PostTypeId")
            if kind in ("1", "2"):
                body = html_to_text(elem.get("Body") or "")
                title = (elem.get("Title") or "").strip()
                yield f"{title}\n{body}" if title else body
            elem.clear()


_XML_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_BUILTIN = {"amp", "lt", "gt", "quot", "apos"}


def _parse_xml(path: Path) -> ET.Element:
    with open_binary(path) as fh:
        data = fh.read()
    try:
        return ET.fromstring(data)
    except ET.ParseError:
        # named HTML entities declared only in the (unread) DTD: resolve them ourselves
        text = data.decode("utf-8", "replace")
        text = _XML_ENTITY.sub(lambda m: m.group(0) if m.group(1) in _XML_BUILTIN else html.unescape(m.group(0)), text)
        text = re.sub(r"<!DOCTYPE[^>]*>", "", text, count=1)
        return ET.fromstring(text.encode("utf-8"))


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _itertext(elem: ET.Element, skip: set[str]) -> str:
    parts: list[str] = []

    def walk(node: ET.Element) -> None:
        if _local(node.tag) in skip:
            if node.tail:
                parts.append(node.tail)
            return
        if node.text:
            parts.append(node.text)
        for child in node:
            walk(child)
        if node.tail and node is not elem:
            parts.append(node.tail)

    walk(elem)
    return " ".join("".join(parts).split())


def _block_lines(root: ET.Element, blocks: set[str], skip: set[str]) -> list[str]:
    """Text of every block element (outermost only) under `root`, in document order."""
    lines: list[str] = []

    def walk(node: ET.Element) -> None:
        name = _local(node.tag)
        if name in skip:
            return
        if name in blocks:
            text = _itertext(node, skip)
            if text:
                lines.append(text)
            return
        for child in node:
            walk(child)

    walk(root)
    return lines


def _find_all(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if _local(e.tag) == name]


def _read_jats(path: Path, stats: ReadStats) -> Iterator[str]:
    root = _parse_xml(path)
    skip = {"table-wrap", "fig", "ref-list", "xref-group", "disp-formula", "inline-formula", "table", "back"}
    lines: list[str] = []
    for title in _find_all(root, "article-title")[:1]:
        lines.append(_itertext(title, skip))
    for abstract in _find_all(root, "abstract"):
        lines.extend(_block_lines(abstract, {"p", "title"}, skip))
    for body in _find_all(root, "body"):
        lines.extend(_block_lines(body, {"p", "title"}, skip))
    yield "\n".join(line for line in lines if line)


def _read_tei(path: Path, stats: ReadStats) -> Iterator[str]:
    root = _parse_xml(path)
    skip = {"ref", "formula", "figure", "table", "note", "listBibl", "back"}
    lines: list[str] = []
    for title_stmt in _find_all(root, "titleStmt")[:1]:
        lines.extend(_block_lines(title_stmt, {"title"}, skip))
    for abstract in _find_all(root, "abstract"):
        lines.extend(_block_lines(abstract, {"p", "head"}, skip))
    for body in _find_all(root, "body"):
        lines.extend(_block_lines(body, {"p", "head"}, skip - {"ref"}))
    yield "\n".join(line for line in lines if line)


def _read_text(path: Path, stats: ReadStats) -> Iterator[str]:
    """Plain text, streamed: a document every PARAGRAPHS_PER_TEXT_DOCUMENT blank-line-separated
    paragraphs (so a 1 GB file never sits in memory). Hard-wrapping is decided on the file's first
    2,000 lines; WikiText markers per chunk."""
    with open_text(path) as fh:
        probe: list[str] = []
        for line in fh:
            probe.append(line.rstrip("\r\n"))
            if len(probe) >= 2000:
                break
        wrapped = looks_hard_wrapped(probe)

        def lines() -> Iterator[str]:
            yield from probe
            for rest in fh:
                yield rest.rstrip("\r\n")

        chunk: list[str] = []
        paragraphs = 0
        previous_blank = False
        for line in lines():
            blank = not line.strip()
            if blank and not previous_blank:
                paragraphs += 1
                if paragraphs >= PARAGRAPHS_PER_TEXT_DOCUMENT:
                    yield _finish_text_chunk(chunk, wrapped)
                    chunk, paragraphs = [], 0
            chunk.append(line)
            previous_blank = blank
        if any(line.strip() for line in chunk):
            yield _finish_text_chunk(chunk, wrapped)


def _finish_text_chunk(chunk: list[str], wrapped: bool) -> str:
    if wrapped:
        chunk = unwrap_paragraphs(chunk)
    text = "\n".join(chunk)
    if _WIKITEXT_MARKERS.search(text):
        text = undo_wikitext_tokenization(text)
    return "\n".join(line.strip() for line in text.split("\n") if line.strip())


def read_file(
    path: str | Path, text_field: str | None = None, stats: ReadStats | None = None, layout: bool = True
) -> Iterator[str]:
    """Document texts of one file (empty documents skipped). `layout=False` keeps the texts as
    stored (no unwrapping, no WikiText clean-up, blank lines kept; plain text in chunks of
    10,000 lines): the dedup recipe counts lines exactly as the pipeline sees them."""
    path = Path(path)
    stats = stats if stats is not None else ReadStats()
    fmt = detect_format(path)
    if not layout and fmt == "text":
        with open_text(path) as fh:
            chunk: list[str] = []
            for line in fh:
                chunk.append(line.rstrip("\r\n"))
                if len(chunk) >= 10_000:
                    stats.add(str(path))
                    yield "\n".join(chunk)
                    chunk = []
            if any(line.strip() for line in chunk):
                stats.add(str(path))
                yield "\n".join(chunk)
        return
    if fmt == "jsonl":
        raw: Iterable[str] = _read_jsonl(path, text_field, stats)
    elif fmt == "json":
        raw = _read_json(path, text_field, stats)
    elif fmt in ("csv", "tsv"):
        raw = _read_delimited(path, "," if fmt == "csv" else "\t", text_field, stats)
    elif fmt == "parquet":
        raw = _read_parquet(path, text_field, stats)
    elif fmt == "stackexchange":
        raw = _read_stackexchange(path, stats)
    elif fmt == "jats":
        raw = _read_jats(path, stats)
    elif fmt == "tei":
        raw = _read_tei(path, stats)
    else:
        # already laid out by _read_text
        for text in _read_text(path, stats):
            if text:
                stats.add(str(path))
                yield text
        return
    for text in raw:
        text = (normalize_layout(text) if layout else text) if text and text.strip() else ""
        if text:
            stats.add(str(path))
            yield text
        else:
            stats.skip(str(path))


def read_documents(path: str | Path, text_field: str | None = None, stats: ReadStats | None = None) -> Iterator[tuple[str, str]]:
    """(file, document text) for every document under a file or folder, in sorted file order."""
    for file in iter_files(path):
        for text in read_file(file, text_field, stats):
            yield str(file), text


def read_texts(path: str | Path, text_field: str | None = None) -> Iterator[str]:
    """Document texts of a file or folder (see the module docstring for formats and fields)."""
    for _, text in read_documents(path, text_field):
        yield text
