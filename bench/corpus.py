"""Deterministic benchmark corpus: CommonCrawl-like WET files built from the real text in
`../shared/data/text/` (never copied into the repository; the corpus lives under `build/`).

Real WET files are 60-150 MB each and cannot be shipped, so the corpus is synthesized from real
documents (CommonCrawl/Dolma/FineWeb/C4/DCLM/RedPajama web text, CCAligned and HPLT raw web text
with menus, OSCAR in ~166 languages, Wikipedia/Wikinews/Wikisource/books/science) wrapped the way
CommonCrawl pages look, with the repetition that line-level dedup is there to remove:

- pages belong to *sites* (Zipf-distributed sizes); every site has a header (site name, menu built
  from real short web lines: CCAligned/HPLT navigation items), and a footer (links, a copyright
  line with the site's year) repeated on each of its pages;
- some pages carry per-page lines that vary (dates, "Page N of M", view counters);
- ~4% of pages are exact copies of an earlier page of the same segment (another URL);
- ~6% are near-duplicates of an earlier page (years and numbers changed);
- bodies are real documents: long ones (books, papers) are cut into page-sized chunks.

Layout: `<out>/crawl-data/CC-BENCH-2026-48/segments/<segment>/wet/<file>.warc.wet.gz`, a few
segments so that `--shard-by segment` gives a few shards, each segment a few files, gzip per record
(`curate.helium.wet_writer.write_wet`). Within a segment, source documents are drawn without
replacement from a per-segment permutation (recycled only when the segment outgrows the pool), so
dedup finds the planted repetition, not an artefact of a small pool.

Everything is seeded: the same (size, seed) gives byte-identical files. A `manifest.json` records
the parameters and the totals (uncompressed payload bytes, pages); an existing corpus whose
manifest matches is reused.

    python -m bench.corpus --size-mb 200 --out build/bench-corpus/200mb
"""

from __future__ import annotations

import argparse
import base64
import csv
import gzip
import io
import json
import math
import random
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from curate.helium.wet_writer import WetPage, write_wet

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_TEXT = REPO_ROOT.parent / "shared" / "data" / "text"
CORPUS_VERSION = 1
CRAWL = "CC-BENCH-2026-48"
MB = 1_000_000

TEXT_KEYS = ("text", "t", "contents", "content", "raw_content", "maintext")
MAX_PAGE_CHARS = 12_000  # longer sources (books, papers) are cut into page-sized chunks
MIN_PAGE_CHARS = 200

# two-letter hints -> ISO 639-3 as CommonCrawl writes WARC-Identified-Content-Language
ISO3 = {
    "en": "eng", "fr": "fra", "es": "spa", "de": "deu", "da": "dan", "ca": "cat", "te": "tel", "zh": "zho",
    "it": "ita", "pt": "por", "nl": "nld", "ru": "rus", "pl": "pol", "sv": "swe", "fi": "fin", "cs": "ces",
    "sk": "slk", "ja": "jpn", "ko": "kor", "ar": "ara", "tr": "tur", "af": "afr",
}  # fmt: skip


@dataclass
class SourceDoc:
    text: str
    lang: str  # two-letter hint when the source says, else ""
    origin: str


# ---------------------------------------------------------------------------------------------
# reading the shared text


def _open_text(path: Path) -> io.TextIOBase:
    """Text stream of a plain, .gz or .zst file; invalid UTF-8 is replaced (HPLT has some)."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    if path.suffix == ".zst":
        import zstandard

        raw = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"))
        return io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _base_name(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".zst"):
        name = name.removesuffix(suffix)
    return name


def _lang_hint(record: dict) -> str:
    """The source's language code (ISO 639-1 or -3, script suffix dropped), else ""."""
    meta = record.get("metadata")
    candidates = [record.get("lang"), record.get("language"), meta.get("language") if isinstance(meta, dict) else None]
    for value in candidates:
        if isinstance(value, str) and value:
            code = value.split("_")[0].lower()
            return code if len(code) in (2, 3) else ""
    return ""


def warc_language(code: str) -> str:
    """WARC-Identified-Content-Language value (ISO 639-3) for a source code, "" if unknown."""
    return ISO3.get(code, "") if len(code) == 2 else code


def _read_jsonl(path: Path) -> Iterator[SourceDoc]:
    with _open_text(path) as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            text = next((record[k] for k in TEXT_KEYS if isinstance(record.get(k), str) and record[k].strip()), None)
            if text is None and isinstance(record.get("abstract"), str):
                text = record["abstract"]
            if text:
                yield SourceDoc(text, _lang_hint(record), path.name)


def _read_tsv(path: Path) -> Iterator[SourceDoc]:
    with _open_text(path) as fh:
        for line in fh:
            cols = line.rstrip("\n").split("\t")
            if path.name.startswith("ccaligned") and len(cols) >= 3:
                # CCAligned: domain, url, WET lines joined with "|" (menus and footers included)
                yield SourceDoc(cols[2].replace("|", "\n"), "", path.name)
            elif path.name.startswith("hplt") and len(cols) >= 2:
                try:  # HPLT web-to-text: url, base64 of the extracted text
                    text = base64.b64decode(cols[1]).decode("utf-8", errors="replace")
                except ValueError:
                    continue
                yield SourceDoc(text, "zh" if "_zh" in path.name else "", path.name)


def _read_csv(path: Path) -> Iterator[SourceDoc]:
    csv.field_size_limit(sys.maxsize)
    with _open_text(path) as fh:
        for row in csv.DictReader(fh):
            text = row.get("text") or ""
            if text.strip():
                yield SourceDoc(text, (row.get("language_code") or "")[:2], path.name)


def _read_plain(path: Path) -> Iterator[SourceDoc]:
    """Books and WikiText: one long text, cut into chunks on blank lines later."""
    with _open_text(path) as fh:
        yield SourceDoc(fh.read(), "en", path.name)


def _read_parquet(path: Path) -> Iterator[SourceDoc]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    for key in ("contents", "text", "content"):
        if key in table.column_names:
            for text in table.column(key).to_pylist():
                if isinstance(text, str) and text.strip():
                    yield SourceDoc(text, "", path.name)
            return


def _chunks(text: str) -> Iterator[str]:
    """Cut a long text into page-sized chunks on line boundaries."""
    if len(text) <= MAX_PAGE_CHARS:
        yield text
        return
    lines, size = [], 0
    for line in text.split("\n"):
        lines.append(line)
        size += len(line) + 1
        if size >= MAX_PAGE_CHARS and (not line.strip() or size >= 2 * MAX_PAGE_CHARS):
            yield "\n".join(lines)
            lines, size = [], 0
    if lines:
        yield "\n".join(lines)


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def source_files(root: Path = SHARED_TEXT) -> list[Path]:
    if not root.is_dir():
        raise FileNotFoundError(f"real text not found at {root} (expected ../shared/data/text relative to the repository)")
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith((".SOURCES.tsv", ".md")))


def load_source_docs(root: Path = SHARED_TEXT) -> list[SourceDoc]:
    """Every usable document of the shared text, in a fixed order."""
    readers = {
        ".jsonl": _read_jsonl,
        ".tsv": _read_tsv,
        ".csv": _read_csv,
        ".txt": _read_plain,
        ".parquet": _read_parquet,
    }
    docs: list[SourceDoc] = []
    for path in source_files(root):
        base = _base_name(path)
        reader = next((fn for ext, fn in readers.items() if base.endswith(ext)), None)
        if reader is None or "raw-wikitext" in base:  # XML dumps, TEI, raw wikitext: markup, not page text
            continue
        try:
            for doc in reader(path):
                for chunk in _chunks(_clean(doc.text)):
                    if len(chunk) >= MIN_PAGE_CHARS:
                        docs.append(SourceDoc(chunk, doc.lang, doc.origin))
        except Exception as exc:  # a source we cannot parse is skipped, loudly
            print(f"corpus: skipped {path.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
    return docs


def boilerplate_blocks(docs: list[SourceDoc]) -> list[list[str]]:
    """Runs of real short web lines (navigation items, links, footers), one list per raw web page
    (CCAligned, HPLT, Dolma CC, RedPajama), so that a site's menu is coherent and in one language."""
    blocks = []
    for doc in docs:
        if not doc.origin.startswith(("ccaligned", "hplt", "dolma_CC", "redpajama")):
            continue
        short = []
        for line in doc.text.split("\n"):
            line = line.strip()
            if 2 <= len(line) <= 40 and not line.endswith((".", "?", "!", ":")) and line not in short:
                short.append(line)
        if len(short) >= 6:
            blocks.append(short[:40])
    return blocks


# ---------------------------------------------------------------------------------------------
# sites and pages

SYLLABLES = "ka lo mi ne ri to su va de fa go hi ju be co da el an or in us at ex um ar on is".split()
TLDS = ["com", "org", "net", "de", "fr", "co.uk", "info", "es", "it", "nl", "blog", "io"]
FOOTER_LINKS = ["Privacy Policy", "Terms of Use", "Contact", "About us", "Cookie settings", "Sitemap", "Imprint"]


@dataclass
class Site:
    domain: str
    header: list[str]
    footer: list[str]
    year: int
    per_page: str  # template of a varying per-page line, may be ""


def make_site(rng: random.Random, blocks: list[list[str]], index: int) -> Site:
    name = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
    domain = f"{name}{index}.{rng.choice(TLDS)}"
    title = name.capitalize()
    block = rng.choice(blocks)
    n_menu = rng.randint(3, min(18, len(block) - 2))
    header = [f"{title} - {block[0]}", *block[1 : 1 + n_menu]]
    if rng.random() < 0.5:
        header.append(f"Home > {rng.choice(block)}")
    year = rng.randint(2008, 2024)
    footer = block[1 + n_menu :][: rng.randint(0, 6)]
    footer += rng.sample(FOOTER_LINKS, rng.randint(1, 4))
    footer.append(f"© {year} {title}. All rights reserved.")
    per_page = rng.choice(
        ["", "", "Posted on {date} by {author}", "Page {n} of {m}", "{n} views · {m} comments", "Last updated: {date}"]
    )
    return Site(domain, header, footer, year, per_page)


_NUMBER = re.compile(r"\d+")


def near_duplicate(text: str, rng: random.Random) -> str:
    """Same page, another day: years moved, other numbers changed (so hashes of those lines differ)."""
    shift = rng.choice([1, 2, 3])

    def bump(match: re.Match[str]) -> str:
        value = int(match.group())
        if 1990 <= value <= 2030:
            return str(value + shift)
        return str(value + rng.randint(1, 9)) if rng.random() < 0.5 else match.group()

    return _NUMBER.sub(bump, text)


def _per_page_line(site: Site, rng: random.Random) -> str:
    if not site.per_page:
        return ""
    date = f"{site.year + rng.randint(0, 2)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return site.per_page.format(
        date=date,
        author=rng.choice(["admin", "editor", "Anna", "J. Smith", "webmaster"]),
        n=rng.randint(1, 40),
        m=rng.randint(1, 400),
    )


@dataclass
class Plan:
    size_mb: float
    seed: int
    segments: int
    file_mb: float

    def to_dict(self) -> dict:
        return {
            "version": CORPUS_VERSION,
            "size_mb": self.size_mb,
            "seed": self.seed,
            "segments": self.segments,
            "file_mb": self.file_mb,
        }


def segment_name(seed: int, index: int) -> str:
    return f"17{seed % 100:02d}{index:03d}0000.{10 + index}"


def generate(
    out: Path,
    size_mb: float,
    seed: int = 0,
    segments: int = 4,
    file_mb: float = 16.0,
    root: Path = SHARED_TEXT,
    quiet: bool = False,
) -> dict:
    """Write the corpus (or reuse it when its manifest matches); returns the manifest."""
    plan = Plan(size_mb, seed, segments, file_mb)
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("plan") == plan.to_dict() and all((out / f["path"]).exists() for f in manifest["files"]):
            return manifest
    started = time.monotonic()
    docs = load_source_docs(root)
    blocks = boilerplate_blocks(docs)
    if not docs or not blocks:
        raise RuntimeError(f"no usable text under {root}")
    rng = random.Random(seed)
    n_sites = max(20, int(size_mb * 12))
    sites = [make_site(rng, blocks, i) for i in range(n_sites)]
    weights = [1.0 / (i + 1) ** 0.8 for i in range(n_sites)]  # Zipf-like site sizes
    target_segment = size_mb * MB / segments
    files_per_segment = max(1, math.ceil(target_segment / (file_mb * MB)))
    target_file = target_segment / files_per_segment

    files, total_bytes, total_pages, kinds = [], 0, 0, {"page": 0, "exact_duplicate": 0, "near_duplicate": 0}
    for s in range(segments):
        seg_rng = random.Random(f"{seed}:{s}")
        order = list(range(len(docs)))
        seg_rng.shuffle(order)
        cursor = 0
        history: list[tuple[Site, WetPage]] = []
        segment = segment_name(seed, s)
        wet_dir = out / "crawl-data" / CRAWL / "segments" / segment / "wet"
        for f in range(files_per_segment):
            pages: list[WetPage] = []
            size = 0
            while size < target_file:
                roll = seg_rng.random()
                site = sites[seg_rng.choices(range(n_sites), weights)[0]]
                if history and roll < 0.10:  # a copy of an earlier page of this segment, same site
                    site, base = seg_rng.choice(history)
                url = f"https://www.{site.domain}/{seg_rng.choice(['news', 'blog', 'p', 'en', 'articles', 'forum'])}/{total_pages + len(pages)}-{seg_rng.randrange(10**6)}.html"
                if history and roll < 0.04:
                    page = WetPage(url, base.text, base.language)
                    kinds["exact_duplicate"] += 1
                elif history and roll < 0.10:
                    page = WetPage(url, near_duplicate(base.text, seg_rng), base.language)
                    kinds["near_duplicate"] += 1
                else:
                    doc = docs[order[cursor % len(order)]]
                    cursor += 1
                    lines = list(site.header)
                    extra = _per_page_line(site, seg_rng)
                    if extra:
                        lines.append(extra)
                    lines.append(doc.text)
                    lines.extend(site.footer)
                    page = WetPage(url, "\n".join(lines), warc_language(doc.lang))
                    kinds["page"] += 1
                pages.append(page)
                if len(history) < 2000:
                    history.append((site, page))
                elif seg_rng.random() < 0.1:
                    history[seg_rng.randrange(len(history))] = (site, page)
                size += len(page.text.encode("utf-8"))
            name = f"CC-MAIN-20261125{s:02d}0000-20261125{s:02d}5959-{f:05d}.warc.wet.gz"
            write_wet(wet_dir / name, pages)
            rel = str((wet_dir / name).relative_to(out))
            files.append(
                {
                    "path": rel,
                    "segment": segment,
                    "pages": len(pages),
                    "payload_bytes": size,
                    "gz_bytes": (wet_dir / name).stat().st_size,
                }
            )
            total_bytes += size
            total_pages += len(pages)
            if not quiet:
                print(f"corpus: {rel}  {len(pages)} pages  {size / MB:.1f} MB", file=sys.stderr)
        if cursor > len(docs) and not quiet:
            print(f"corpus: segment {segment} recycled the source pool ({cursor} draws, {len(docs)} documents)", file=sys.stderr)
    manifest = {
        "plan": plan.to_dict(),
        "source": str(root),
        "source_documents": len(docs),
        "boilerplate_blocks": len(blocks),
        "sites": n_sites,
        "files": files,
        "segments": [segment_name(seed, s) for s in range(segments)],
        "pages": total_pages,
        "page_kinds": kinds,
        "payload_bytes": total_bytes,
        "gz_bytes": sum(f["gz_bytes"] for f in files),
        "generate_s": round(time.monotonic() - started, 1),
    }
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest


def corpus_paths(out: Path, manifest: dict) -> list[str]:
    return [str(out / f["path"]) for f in manifest["files"]]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=200.0, help="uncompressed payload size (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--segments", type=int, default=4)
    parser.add_argument("--file-mb", type=float, default=16.0, help="uncompressed payload per WET file")
    parser.add_argument("--out", type=Path, default=None, help="default build/bench-corpus/<size>mb-s<seed>")
    args = parser.parse_args(argv)
    out = args.out or REPO_ROOT / "build" / "bench-corpus" / f"{args.size_mb:g}mb-s{args.seed}"
    manifest = generate(out, args.size_mb, args.seed, args.segments, args.file_mb)
    print(json.dumps({k: v for k, v in manifest.items() if k != "files"}, indent=1))
    print(out)


if __name__ == "__main__":
    main()
