"""`curate eval boilerplate`: boilerplate left in the corpus after extraction + exact line dedup,
WARC path (main-content extraction) vs WET path (full-page text conversion), on the same pages.

Truth comes from the HTML: the text of `<header>`, `<nav>`, `<aside>` and `<footer>` elements is
boilerplate (lines of those elements, whitespace-normalised); every other line of the full-page
text is content. Two page sets:

- `sample`: the project's multilingual sample (`curate.helium.warc_sample`, 8 languages, 3 site
  templates); the WET path is Resiliparse's full-page conversion (`main_content=False`, what a WET
  file holds);
- `hplt`: real pages of the HPLT samples in ../shared (HTML + HPLT's own warc2text text, ~40
  languages); the WET path is the full-page conversion of the HTML, and HPLT's warc2text text is
  shown as a third path (warc2text already skips some page chrome). Only pages whose HTML has at
  least one of those elements count.

Both paths then go through curate's exact line dedup (keep-first, one shard, pages in order), as
in the pipeline. Reported per path and extractor: boilerplate characters left (and as a share of
the output), content characters kept (share of the content of the full-page text).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.helium.warc import decode_html, extract_main_text, paragraph_lines

_WS = re.compile(r"\s+")
BOILERPLATE_TAGS = "header, nav, aside, footer"


def norm(line: str) -> str:
    return _WS.sub(" ", line).strip()


@dataclass
class EvalPage:
    html: str
    wet_text: str  # the WET path's text (full-page conversion)
    boilerplate: frozenset[str]  # normalised lines
    other_text: str | None = None  # another conversion of the same page (HPLT's warc2text)


def truth_lines(html: str) -> frozenset[str]:
    """Lines of the text of the page's header / nav / aside / footer elements."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    out: set[str] = set()
    if tree.body is None:
        return frozenset()
    for node in tree.body.query_selector_all(BOILERPLATE_TAGS):
        text = extract_plain_text(node.html, main_content=False, preserve_formatting=True)
        out.update(n for line in text.split("\n") if (n := norm(line)))
    return frozenset(out)


def full_page_text(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text

    return paragraph_lines(extract_plain_text(html, main_content=False, preserve_formatting=True))


def sample_pages() -> Iterator[EvalPage]:
    from curate.helium.warc_sample import build_sample_pages

    for sp in build_sample_pages(96):
        html, _, _ = decode_html(sp.page.body, sp.page.content_type)
        yield EvalPage(html, full_page_text(html), truth_lines(html))


def hplt_pages(shared: Path) -> Iterator[EvalPage]:
    import zstandard

    for name in ("hplt_w2t_sample100_CC.jsonl.zst", "hplt_w2t_sample100_IA-wide17.jsonl.zst"):
        with open(shared / "text" / "web_raw" / name, "rb") as fh:
            reader = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(fh), encoding="utf-8", errors="replace")
            for line in reader:
                row = json.loads(line)
                truth = truth_lines(row["h"])
                if truth:
                    yield EvalPage(row["h"], full_page_text(row["h"]), truth, paragraph_lines(row["t"]))


def dedup_texts(texts: list[str]) -> list[str]:
    """Exact line dedup over the pages in order, one shard (keep-first, strip, exact set)."""
    from curate.helium.dedup import LineDeduplicator, split_lines
    from curate.helium.normalize import get_normalizer

    dedup = LineDeduplicator("keep-first", get_normalizer("strip"), "exact", 100_000, 1e-3)
    out = []
    for text in texts:
        lines = split_lines(text)
        removed = dedup.removed_mask(lines)
        out.append("\n".join(line for line, gone in zip(lines, removed) if not gone))
    return out


def score(pages: list[EvalPage], outputs: list[str]) -> dict[str, Any]:
    bp_left = content_kept = total_out = content_total = bp_total = 0
    for page, text in zip(pages, outputs):
        for line in text.split("\n"):
            n = norm(line)
            if not n:
                continue
            total_out += len(n)
            if n in page.boilerplate:
                bp_left += len(n)
            else:
                content_kept += len(n)
        for line in page.wet_text.split("\n"):
            n = norm(line)
            if n and n in page.boilerplate:
                bp_total += len(n)
            elif n:
                content_total += len(n)
    return {
        "output_chars": total_out,
        "boilerplate_chars_left": bp_left,
        "boilerplate_share_of_output": round(bp_left / total_out, 4) if total_out else 0.0,
        "boilerplate_left_vs_wet_input": round(bp_left / bp_total, 4) if bp_total else 0.0,
        "content_chars_kept": content_kept,
        "content_kept_vs_wet_input": round(content_kept / content_total, 4) if content_total else 0.0,
    }


def evaluate(shared: Path | None = None, extractors: tuple[str, ...] = ("resiliparse", "trafilatura")) -> dict[str, Any]:
    sets: dict[str, list[EvalPage]] = {"sample": list(sample_pages())}
    if shared is not None and (shared / "text" / "web_raw").exists():
        sets["hplt"] = list(hplt_pages(shared))
    result: dict[str, Any] = {}
    for name, pages in sets.items():
        rows = {"wet (full-page text)": score(pages, dedup_texts([p.wet_text for p in pages]))}
        rows["wet, no dedup"] = score(pages, [p.wet_text for p in pages])
        if all(p.other_text is not None for p in pages):
            rows["warc2text (HPLT's own text)"] = score(pages, dedup_texts([p.other_text or "" for p in pages]))
        for extractor in extractors:
            extracted = [extract_main_text(p.html, extractor) for p in pages]
            rows[f"warc {extractor}"] = score(pages, dedup_texts(extracted))
            rows[f"warc {extractor}, no dedup"] = score(pages, extracted)
        result[name] = {"pages": len(pages), "paths": rows}
    return result


def markdown(result: dict[str, Any]) -> str:
    out = []
    for name, data in result.items():
        out.append(f"\n{name} ({data['pages']} pages)\n")
        out.append("| path | output chars | boilerplate left | share of output | vs WET input | content kept |")
        out.append("|---|---|---|---|---|---|")
        for path, r in data["paths"].items():
            out.append(
                f"| {path} | {r['output_chars']:,} | {r['boilerplate_chars_left']:,} | {r['boilerplate_share_of_output']:.1%} "
                f"| {r['boilerplate_left_vs_wet_input']:.1%} | {r['content_kept_vs_wet_input']:.1%} |"
            )
    return "\n".join(out)


def register(eval_app: Any) -> None:
    import typer

    def boilerplate(
        shared: Path = typer.Option(Path("../shared/data"), "--shared", help="The shared data folder (HPLT samples)."),
        output: Path | None = typer.Option(None, "--output", "-o", help="Write the result as JSON here."),
    ) -> None:
        """Boilerplate left after extraction + line dedup: WARC (main content) vs WET (full page)."""
        result = evaluate(shared if shared.exists() else None)
        typer.echo(markdown(result))
        if output:
            output.write_text(json.dumps(result, indent=1, sort_keys=True))

    eval_app.command("boilerplate")(boilerplate)
