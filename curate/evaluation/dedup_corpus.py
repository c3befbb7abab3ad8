"""The labelled corpus of `curate eval dedup`: web pages whose every line is known to be
boilerplate (with its kind) or content, built from the real text in `../shared/data`.

Truth of the boilerplate comes from the sources themselves, never from a dedup rule we evaluate:
- HPLT pages (`hplt_w2t_sample100_{CC,IA-wide17}`): the text of their HTML `nav` / `header` /
  `footer` / `aside` elements (and elements whose id/class/role says nav, menu, footer, sidebar,
  breadcrumb), one line per link / list item / block: one *site* per page, ~30 languages.
- CCAligned documents: the lines that recur on several pages of the same domain (and language side).
Content comes from curated text (C4, Wikipedia en/es/ca, Wikinews en/fr, FineWeb-2 Danish, OSCAR
in many languages), code from the `<pre><code>` blocks of StackExchange posts.

Every site gets pages = its real chrome around real content, with the variations real sites show:

| label | what |
|---|---|
| `boilerplate:exact` | a real chrome line, verbatim on every page |
| `boilerplate:digit` | `© YEAR Name`, a real chrome word with a counter `(N)`, a dated line: only digits vary |
| `boilerplate:word` | a real chrome line with one word replaced from a per-site pool (another author, month...) |
| `boilerplate:template` | a breadcrumb / real chrome line filled with the page's own title |
| `boilerplate:menu` | the site's menu items on one line, reordered or truncated on some pages |
| `content:once` | a content line that occurs once in its shard |
| `content:quote` | a sentence quoted on 2-4 pages of other sites |
| `content:translation` | a paragraph left untranslated in another language version of a page |
| `content:code` | a code block repeated on 2-3 pages |
| `content:repeated` | any other content line that happens to occur more than once in its shard |

Sites, content documents, quotes and code are split into `train` / `valid` / `test` by a seeded
hash, so the test shards share no site, no chrome line source and no content document with the
shards a model is trained or tuned on. A truth file is JSONL, one document per line:
`{"id", "url", "shard", "site", "lang", "split", "lines": [...], "labels": [...]}` (label "" for
blank lines); users can write their own and run `curate eval dedup --truth FILE`.
"""

from __future__ import annotations

import csv
import html
import json
import random
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import xxhash

from curate.training.readers import open_text, read_jsonl

SPLITS = ("train", "valid", "test")
BOILERPLATE_KINDS = ("exact", "digit", "word", "template", "menu")
NEAR_DUP_KINDS = ("word", "template", "menu")  # what digit folding cannot catch
CONTENT_KINDS = ("once", "quote", "translation", "code", "repeated")
SITES_PER_SHARD = 8
CORPUS_VERSION = 1

# HPLT / OpenLID 639-3 codes -> the 2-letter codes of the content pools
_LANG2 = {
    "eng": "en", "deu": "de", "spa": "es", "fra": "fr", "ita": "it", "por": "pt", "nld": "nl", "rus": "ru",
    "jpn": "ja", "zho": "zh", "kor": "ko", "pol": "pl", "ces": "cs", "slk": "sk", "dan": "da", "swe": "sv",
    "ron": "ro", "bul": "bg", "tur": "tr", "arb": "ar", "cat": "ca", "fin": "fi", "hun": "hu", "vie": "vi",
    "tha": "th", "pes": "fa", "hin": "hi", "lit": "lt", "srp": "sr", "bos": "bs", "ukr": "uk", "ell": "el",
}  # fmt: skip


def default_shared() -> Path:
    """`../shared/data` next to the repository (the project's convention)."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def split_of(key: str, seed: int) -> str:
    """train 50 % / valid 20 % / test 30 %, by a seeded hash of a stable key."""
    bucket = xxhash.xxh3_64_intdigest(key.encode("utf-8", "surrogatepass"), seed=seed) % 10
    return "train" if bucket < 5 else "valid" if bucket < 7 else "test"


def clean_line(text: str) -> str:
    return " ".join(text.replace("\x00", " ").split())


# ---------------------------------------------------------------------------------------------
# reading the shared data


def _jsonl(path: Path) -> Iterator[dict]:
    return read_jsonl(path) if path.exists() else iter(())


class _ChromeParser(HTMLParser):
    """Text lines inside navigation / header / footer / sidebar elements of an HTML page."""

    REGION = {"nav": "top", "header": "top", "footer": "bottom", "aside": "bottom"}
    HINT = re.compile(r"(^|[\s_-])(nav|navbar|navigation|menu|topbar|breadcrumbs?|footer|sidebar|copyright)($|[\s_-])", re.I)
    BREAK = {"a", "li", "p", "div", "br", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "tr", "option", "ul", "ol", "dt", "dd", "button", "section", "span"}  # fmt: skip
    SKIP = {"script", "style", "noscript", "svg", "template", "select"}
    VOID = {"br", "img", "meta", "link", "input", "hr", "source", "wbr", "col", "area", "base", "embed", "param", "track"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, int, str]] = []  # (tag, depth at open, region)
        self.depth: Counter[str] = Counter()
        self.skip = 0
        self.buf: list[str] = []
        self.lines: dict[str, list[str]] = {"top": [], "bottom": []}

    def _flush(self) -> None:
        text = clean_line("".join(self.buf))
        self.buf = []
        if text and self.open and 1 <= len(text) <= 200 and any(c.isalpha() for c in text):
            region = self.open[0][2]
            if text not in self.lines[region]:
                self.lines[region].append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip += 1
        if tag in self.BREAK:
            self._flush()
        if tag in self.VOID:
            return
        self.depth[tag] += 1
        region = self.REGION.get(tag)
        if region is None:
            hint = " ".join(v or "" for k, v in attrs if k in ("id", "class", "role"))
            match = self.HINT.search(hint)
            if match:
                region = "bottom" if match.group(2).lower() in ("footer", "sidebar", "copyright") else "top"
        if region is not None:
            self._flush()
            self.open.append((tag, self.depth[tag], region))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skip:
            self.skip -= 1
        if tag in self.BREAK:
            self._flush()
        if tag in self.VOID or not self.depth[tag]:
            return
        if self.open and self.open[-1][0] == tag and self.open[-1][1] == self.depth[tag]:
            self._flush()
            self.open.pop()
        self.depth[tag] -= 1

    def handle_data(self, data: str) -> None:
        if self.open and not self.skip:
            self.buf.append(data)


def chrome_lines(markup: str) -> dict[str, list[str]]:
    """{"top": [...], "bottom": [...]}: the navigation / footer lines of one HTML page."""
    parser = _ChromeParser()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # a broken page gives what was parsed so far
        pass
    parser._flush()
    return parser.lines


@dataclass
class SiteSource:
    key: str
    host: str
    lang: str
    top: list[str]
    bottom: list[str]


def hplt_sites(shared: Path) -> list[SiteSource]:
    out = []
    for name in ("hplt_w2t_sample100_CC.jsonl.zst", "hplt_w2t_sample100_IA-wide17.jsonl.zst"):
        for rec in _jsonl(shared / "text" / "web_raw" / name):
            markup = rec.get("h")
            if not isinstance(markup, str) or not markup:
                continue
            lines = chrome_lines(markup)
            if len(lines["top"]) + len(lines["bottom"]) < 4 or len(lines["top"]) < 2:
                continue
            url = str(rec.get("u") or "")
            host = urlsplit(url).hostname or f"hplt{len(out)}"
            lang = _LANG2.get(str(rec.get("lang") or "")[:3], "")
            out.append(SiteSource(f"hplt:{url}", host, lang, lines["top"][:30], lines["bottom"][:15]))
    return out


def ccaligned_sites(shared: Path) -> list[SiteSource]:
    """Per (domain, language side): lines on >= 2 pages (and >= 30 % of pages) are the site's chrome."""
    pages: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
    for path in sorted((shared / "text" / "web_raw").glob("ccaligned_documents_*.tsv.gz")):
        side = path.name.split("-")[-1].split(".")[0].split("_")[0]
        with open_text(path) as fh:
            for row in fh:
                cols = row.rstrip("\n").split("\t")
                if len(cols) < 5:
                    continue
                for lang, text in (("en", cols[2]), (side, cols[4])):
                    lines = [clean_line(x) for x in text.split("|")]
                    pages[(cols[0], lang)].append([x for x in lines if x])
    out = []
    for (domain, lang), docs in sorted(pages.items()):
        if len(docs) < 2:
            continue
        df = Counter(line for doc in docs for line in set(doc))
        need = max(2, int(0.3 * len(docs)))
        chrome = {line for line, n in df.items() if n >= need and len(line) <= 200 and any(c.isalpha() for c in line)}
        best = max(docs, key=lambda d: sum(x in chrome for x in d))
        first_content = next((i for i, x in enumerate(best) if x not in chrome), len(best))
        top = list(dict.fromkeys(x for x in best[:first_content] if x in chrome))
        bottom = list(dict.fromkeys(x for x in best[first_content:] if x in chrome and x not in top))
        if len(top) + len(bottom) >= 4 and len(top) >= 2:
            out.append(SiteSource(f"ccaligned:{domain}:{lang}", domain, lang if len(lang) == 2 else "", top[:30], bottom[:15]))
    return out


OSCAR_PLACEHOLDER = "insert_hash_here"


@dataclass
class ContentDoc:
    key: str
    lang: str
    lines: list[str]


def _content_lines(text: str) -> list[str]:
    return [x for x in (clean_line(p) for p in text.replace("\r", "\n").split("\n")) if len(x) >= 25]


def content_docs(shared: Path) -> list[ContentDoc]:
    text = shared / "text"
    out: list[ContentDoc] = []

    def add(key: str, lang: str, body: str) -> None:
        lines = _content_lines(body)
        if lines and lang:
            out.append(ContentDoc(key, lang, lines[:14]))

    for i, rec in enumerate(_jsonl(text / "web_filtered" / "c4_en_train-00000-of-01024_first1000.jsonl")):
        add(f"c4:{i}", "en", str(rec.get("text", "")))
    for i, rec in enumerate(_jsonl(text / "hq" / "wiki" / "wikicorpus2006_raw_en_es_ca_hf_dummy.jsonl.gz")):
        add(f"wikicorpus:{i}", str(rec.get("lang", "")), str(rec.get("text", "")))
    for i, rec in enumerate(_jsonl(text / "hq" / "news" / "en_wikinewssum_101_plain.jsonl")):
        add(f"wikinews-en:{i}", "en", str(rec.get("text", "")))
    for i, rec in enumerate(_jsonl(text / "hq" / "news" / "fr_wikinews_2012_keyphrase-corpus_100.jsonl")):
        add(f"wikinews-fr:{i}", "fr", str(rec.get("text", "")))
    for i, rec in enumerate(_jsonl(text / "web_filtered" / "oscar2019_unshuffled_deduplicated_hf_dummy_166langs.jsonl.gz")):
        if OSCAR_PLACEHOLDER in str(rec.get("text", "")):
            continue  # a dummy row of the sample ("af_dedup.txt.gz insert_hash_here"), not content
        add(f"oscar:{i}", str(rec.get("lang", "")).split("_")[0][:3], str(rec.get("text", "")))
    danish = text / "web_filtered" / "fineweb-c_dan_Latn_1000docs_edu-annotated.csv"
    if danish.exists():
        csv.field_size_limit(sys.maxsize)
        with open(danish, encoding="utf-8", errors="replace") as fh:
            for i, row in enumerate(csv.DictReader(fh)):
                add(f"fineweb2-da:{i}", "da", row.get("text") or "")
    return out


_CODE = re.compile(r"<pre[^>]*>\s*<code[^>]*>(.*?)</code>\s*</pre>", re.S | re.I)


def code_blocks(shared: Path) -> list[list[str]]:
    """Code blocks (2-8 non-blank lines of <= 150 characters) from StackExchange posts."""
    out = []
    for path in sorted((shared / "text" / "hq" / "stackexchange").rglob("*Posts.xml")):
        raw = path.read_text(encoding="utf-8", errors="replace")
        for body in re.findall(r' Body="([^"]*)"', raw):
            for block in _CODE.findall(html.unescape(body)):
                lines = [x.rstrip() for x in html.unescape(re.sub(r"<[^>]+>", "", block)).split("\n") if x.strip()]
                lines = [x.replace("\t", "    ").replace("\r", "") for x in lines]
                if 2 <= len(lines) <= 8 and all(len(x) <= 150 for x in lines):
                    out.append(lines)
    return out


# ---------------------------------------------------------------------------------------------
# sites and pages


@dataclass
class TruthDoc:
    id: str
    url: str
    shard: str
    site: str
    lang: str
    split: str
    lines: list[str]
    labels: list[str]

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False)


@dataclass
class Site:
    source: SiteSource
    name: str
    lang: str
    top: list[str]
    bottom: list[str]
    menu: list[str] = field(default_factory=list)
    menu_sep: str = " | "
    word_line: tuple[list[str], int] | None = None  # tokens, slot
    word_pool: list[str] = field(default_factory=list)
    template_line: str = ""
    breadcrumb: bool = False
    year: int = 2019
    counter_word: str = ""


_WORDY = re.compile(r"^[^\W\d_]{3,}$")


def make_site(src: SiteSource, rng: random.Random, pool_langs: list[str]) -> Site:
    name = re.sub(r"^www\.", "", src.host).split(".")[0].capitalize() or "Site"
    lang = src.lang if src.lang in pool_langs else "en"
    site = Site(src, name, lang, list(src.top), list(src.bottom))
    chrome = site.top + site.bottom
    short = [x for x in site.top if len(x) <= 25]
    if len(short) >= 4:
        site.menu = short[:8]
        site.menu_sep = rng.choice([" | ", " · ", " / ", " - ", " » "])
    vocab = sorted({t for line in chrome for t in line.split() if _WORDY.match(t)})
    rng.shuffle(vocab)
    candidates = [x for x in chrome if 2 <= len(x.split()) <= 10 and any(_WORDY.match(t) for t in x.split())]
    if candidates:
        tokens = rng.choice(candidates).split()
        slot = rng.choice([i for i, t in enumerate(tokens) if _WORDY.match(t)])
        pool = [w for w in vocab if w != tokens[slot]][:12]
        if len(pool) >= 4:
            site.word_line, site.word_pool = (tokens, slot), pool
    others = [x for x in candidates if site.word_line is None or x != " ".join(site.word_line[0])]
    if others and rng.random() < 0.7:
        site.template_line = rng.choice(others)
    site.breadcrumb = len(site.top) >= 2 and rng.random() < 0.6
    site.year = rng.randint(2008, 2022)
    site.counter_word = rng.choice(vocab) if vocab else "Cart"
    return site


def _title(lines: list[str], rng: random.Random) -> str:
    words = lines[0].split()
    return " ".join(words[: rng.randint(3, 6)]) if words else "Page"


def _menu_variant(site: Site, rng: random.Random) -> tuple[str, str]:
    items = list(site.menu)
    canonical = site.menu_sep.join(items)
    if rng.random() < 0.4:
        return canonical, "exact"
    if rng.random() < 0.5:
        i, j = rng.sample(range(len(items)), 2)
        items[i], items[j] = items[j], items[i]
    else:
        items = items[: rng.randint(3, len(items) - 1)]
    line = site.menu_sep.join(items)
    return line, ("exact" if line == canonical else "menu")


def make_page(site: Site, content: list[str], rng: random.Random) -> tuple[list[str], list[str]]:
    """(lines, labels) of one page: chrome around content (labels "boilerplate:KIND" / "content:once")."""
    lines: list[str] = []
    labels: list[str] = []

    def put(line: str, label: str) -> None:
        line = clean_line(line)
        if line:
            lines.append(line)
            labels.append(label)

    title = _title(content, rng)
    for line in site.top:
        if rng.random() < 0.92:
            put(line, "boilerplate:exact")
    if site.menu:
        menu_line, kind = _menu_variant(site, rng)
        put(menu_line, "boilerplate:" + kind)
    if site.breadcrumb:
        sep = rng.choice([" > ", " » ", " / "]) if not site.menu else site.menu_sep
        put(f"{site.top[0][:30]}{sep}{rng.choice(site.top[1:])[:30]}{sep}{title}", "boilerplate:template")
    if rng.random() < 0.15:
        lines.append("")
        labels.append("")
    for line in content:
        put(line, "content:once")
    if rng.random() < 0.3:
        lines.append("")
        labels.append("")
    if site.template_line:
        put(f"{site.template_line}: {title}", "boilerplate:template")
    for line in site.bottom:
        if rng.random() < 0.92:
            put(line, "boilerplate:exact")
    if site.word_line is not None:
        tokens, slot = site.word_line
        filled = list(tokens)
        filled[slot] = rng.choice(site.word_pool)
        put(" ".join(filled), "boilerplate:word")
    digit = rng.choice(
        [
            f"© {site.year + rng.randint(0, 3)} {site.name}",
            f"{site.counter_word} ({rng.randint(0, 99)})",
            f"{rng.randint(1, 28)}.{rng.randint(1, 12):02d}.{site.year + rng.randint(0, 3)}",
            f"{rng.randint(2, 9999)} {site.counter_word}",
        ]
    )
    put(digit, "boilerplate:digit")
    return lines, labels


def build_corpus(shared: Path | None = None, seed: int = 0, max_sites: int | None = None) -> list[TruthDoc]:
    """The whole labelled corpus (every split), deterministic for a given shared folder and seed."""
    shared = Path(shared) if shared is not None else default_shared()
    if not (shared / "text" / "web_raw").is_dir():
        raise FileNotFoundError(f"shared data not found at {shared} (expected text/web_raw inside)")
    sources = hplt_sites(shared) + ccaligned_sites(shared)
    sources.sort(key=lambda s: xxhash.xxh3_64_intdigest(s.key.encode(), seed=seed))
    if max_sites:
        sources = sources[:max_sites]
    docs = content_docs(shared)
    codes = code_blocks(shared)
    pools: dict[str, dict[str, list[ContentDoc]]] = {s: defaultdict(list) for s in SPLITS}
    quotes: dict[str, list[str]] = {s: [] for s in SPLITS}
    for doc in docs:
        split = split_of("content:" + doc.key, seed)
        if xxhash.xxh3_64_intdigest(doc.key.encode(), seed=seed + 7) % 8 == 0:
            quotes[split].extend(x for x in doc.lines if 60 <= len(x) <= 300)
        else:
            pools[split][doc.lang].append(doc)
    code_by_split: dict[str, list[list[str]]] = {s: [] for s in SPLITS}
    for block in codes:
        code_by_split[split_of("code:" + "\n".join(block), seed)].append(block)
    out: list[TruthDoc] = []
    for split in SPLITS:
        rng = random.Random(f"{seed}:{split}")
        langs = sorted(pools[split])
        split_sources = [s for s in sources if split_of("site:" + s.key, seed) == split]
        cursor: dict[str, int] = defaultdict(int)
        order = {lang: rng.sample(items, len(items)) for lang, items in pools[split].items()}
        for n_shard, start in enumerate(range(0, len(split_sources), SITES_PER_SHARD)):
            shard = f"{split}-{n_shard:02d}"
            out.extend(
                _build_shard(
                    shard,
                    split,
                    split_sources[start : start + SITES_PER_SHARD],
                    rng,
                    langs,
                    order,
                    cursor,
                    quotes[split],
                    code_by_split[split],
                )
            )
    return out


def _next_content(lang: str, order: dict[str, list[ContentDoc]], cursor: dict[str, int]) -> ContentDoc:
    items = order[lang]
    doc = items[cursor[lang] % len(items)]
    cursor[lang] += 1
    return doc


def _build_shard(shard, split, sources, rng, langs, order, cursor, quotes, codes) -> list[TruthDoc]:
    pages: list[TruthDoc] = []
    by_site: dict[str, list[TruthDoc]] = defaultdict(list)
    for src in sources:
        site = make_site(src, rng, [x for x in langs if len(order[x]) >= 20])
        for i in range(rng.randint(5, 24)):
            fresh = [x for x in langs if cursor[x] < len(order[x])]
            lang = site.lang if rng.random() < 0.75 or not fresh else rng.choice(fresh)
            content = _next_content(lang, order, cursor)
            lines, labels = make_page(site, content.lines, rng)
            doc = TruthDoc(
                f"{shard}/{site.source.host}/{i}",
                f"https://{site.source.host}/page/{i}",
                shard,
                src.key,
                lang,
                split,
                lines,
                labels,
            )
            # another language version of an earlier page, with a paragraph left untranslated
            earlier = by_site[src.key]
            if earlier and rng.random() < 0.2:
                origin = rng.choice(earlier)
                idx = [j for j, lab in enumerate(origin.labels) if lab.startswith("content:")]
                if idx:
                    take = idx[: rng.randint(1, 2)]
                    at = next((j for j, lab in enumerate(doc.labels) if lab.startswith("content:")), len(doc.lines))
                    for j in reversed(take):
                        origin.labels[j] = "content:translation"
                        doc.lines.insert(at, origin.lines[j])
                        doc.labels.insert(at, "content:translation")
            by_site[src.key].append(doc)
            pages.append(doc)
    rng.shuffle(pages)

    def insert(doc: TruthDoc, new_lines: list[str], label: str) -> None:
        body = [j for j, lab in enumerate(doc.labels) if lab.startswith("content:")]
        at = rng.choice(body) if body else len(doc.lines)
        doc.lines[at:at] = new_lines
        doc.labels[at:at] = [label] * len(new_lines)

    if len(pages) >= 4:
        for _ in range(max(1, len(pages) // 8)):
            if not quotes:
                break
            quote = clean_line(quotes[rng.randrange(len(quotes))])
            for doc in rng.sample(pages, rng.randint(2, 4)):
                insert(doc, [quote], "content:quote")
        for _ in range(max(1, len(pages) // 10)):
            if not codes:
                break
            block = codes[rng.randrange(len(codes))]
            for doc in rng.sample(pages, rng.randint(2, 3)):
                insert(doc, list(block), "content:code")
    # truth of "once": a content line occurring more than once in the shard is repeated content
    counts = Counter(line.strip() for doc in pages for line, lab in zip(doc.lines, doc.labels) if lab)
    for doc in pages:
        doc.labels = [
            "content:repeated" if lab == "content:once" and counts[line.strip()] > 1 else lab
            for line, lab in zip(doc.lines, doc.labels)
        ]
    for doc in pages:
        doc.lines = [line.replace("\n", " ").replace("\r", " ") for line in doc.lines]
    return pages


# ---------------------------------------------------------------------------------------------
# truth files


def write_truth(path: Path, docs: list[TruthDoc]) -> Path:
    from curate.core.storage import write_bytes_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, "".join(doc.to_json() + "\n" for doc in docs).encode("utf-8"))
    return path


class TruthError(ValueError):
    """A truth file that cannot be used (one clear line for the user)."""


def read_truth(path: str | Path) -> list[TruthDoc]:
    """Read a truth file; every label must be "" (blank line), boilerplate:KIND or content:KIND."""
    docs = []
    with open(path, encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
                lines, labels = rec["lines"], rec["labels"]
            except (ValueError, KeyError, TypeError) as exc:
                raise TruthError(f"{path}:{n}: not a truth record ({type(exc).__name__}: {exc})") from None
            if not isinstance(lines, list) or not isinstance(labels, list) or len(lines) != len(labels):
                raise TruthError(f"{path}:{n}: `lines` and `labels` must be lists of the same length")
            for lab in labels:
                if lab and not (lab.startswith("boilerplate:") or lab.startswith("content:")):
                    raise TruthError(f'{path}:{n}: label {lab!r} is not boilerplate:KIND, content:KIND or ""')
            docs.append(
                TruthDoc(
                    str(rec.get("id", n)), str(rec.get("url", "")), str(rec.get("shard", "all")), str(rec.get("site", "")),
                    str(rec.get("lang", "")), str(rec.get("split", "test")), [str(x) for x in lines], [str(x) for x in labels],
                )
            )  # fmt: skip
    return docs


def write_wet_shards(folder: Path, docs: list[TruthDoc]) -> list[Path]:
    """One WET file per shard under a CommonCrawl-like segment path (so `--shard-by segment` works)."""
    from curate.helium.wet_writer import WetPage, write_wet

    by_shard: dict[str, list[WetPage]] = defaultdict(list)
    for doc in docs:
        by_shard[doc.shard].append(WetPage(doc.url, "\n".join(doc.lines)))
    return [
        write_wet(folder / "crawl-data" / "CC-DEDUP-EVAL" / "segments" / shard / "wet" / f"{shard}.warc.wet.gz", pages)
        for shard, pages in sorted(by_shard.items())
    ]
