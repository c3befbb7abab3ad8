"""`curate report DIR`: one self-contained HTML page that says what a run kept, dropped and why.

The page (`DIR/report.html`) needs nothing but a browser: CSS inline, plots as base64 PNG images
(matplotlib, Agg backend), no script, no external URL, and a Content-Security-Policy that forbids
any network access. Everything read from the run (file names, URLs, error reasons, lines of text)
is HTML-escaped, so a hostile WARC header cannot inject markup.

The kind of run is detected from what the folder holds:

- **text** (`curate helium`): `stats.json` with `documents`/`lines`, `documents/*.parquet`,
  optionally `rejected/*.parquet`, `errors.jsonl`, `run.json`, `_parts/*.json`;
- **speech** (`curate align`, `curate shards`, `curate inner-monologue`): `alignments/*.json`
  (or `align/alignments/*.json`), `shards/*.parquet` with `text_tokens`, a `stats.json` with
  `files` / `audio_seconds` / `pad_share`.

Every section has a stable `id` (`TEXT_SECTIONS`, `SPEECH_SECTIONS`) and is always present for
its kind; a section whose data is missing says so instead of disappearing. Every reader is
best-effort: a missing or odd key degrades one section, never the page.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from curate.helium.steps import STEPS
from curate.helium.warc import WARC_DROP_REASONS

REPORT_NAME = "report.html"
COMMON_SECTIONS = ("summary", "throughput", "errors")
TEXT_SECTIONS = ("summary", "funnel", "language-scores", "quality-scores", "duplicate-lines", "throughput", "errors")
SPEECH_SECTIONS = (
    "summary",
    "speech-hours",
    "speech-drops",
    "words-per-second",
    "alignment-confidence",
    "pad-share",
    "throughput",
    "errors",
)

# (stage key, title, its drop reasons) in pipeline order, as the steps declare them
TEXT_STAGES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("read", "Reading (unreadable records; WARC: status, type, extraction)", WARC_DROP_REASONS),
) + tuple((step.stage, step.title, step.drop_reasons) for step in STEPS)
QUALITY_LABELS = ("rand", "wiki", "books", "science", "news", "stem", "life", "hum", "pop")
DUP_SCAN_BYTES = 64 * 1024 * 1024  # payload bytes re-read to rank removed duplicate lines
TOP_LINES = 25
MAX_PARQUET_ROWS = 2_000_000  # score columns read for histograms (a sample beyond that)
MAX_ALIGNMENT_FILES = 20_000


# ----------------------------------------------------------------------------- reading the run


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _get(data: Any, *keys: str, default: Any = None) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return default
        data = data[key]
    return data


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _read_errors(run_dir: Path) -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = []
    for path in (run_dir / "errors.jsonl", run_dir / "align" / "errors.jsonl"):
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    try:
                        item = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(item, dict):
                        issues.append(item)
        except OSError:
            continue
    return issues


def _alignment_dirs(run_dir: Path) -> list[Path]:
    return [d for d in (run_dir / "alignments", run_dir / "align" / "alignments") if d.is_dir()]


def detect_kind(run_dir: Path) -> str:
    """`text` or `speech`, from what the folder holds."""
    stats = _load_json(run_dir / "stats.json") or {}
    if _alignment_dirs(run_dir) or "pad_share" in stats or "audio_seconds" in stats or isinstance(stats.get("files"), dict):
        return "speech"
    if (run_dir / "documents").is_dir() or "documents" in stats or "lines" in stats:
        return "text"
    if any((run_dir / "shards").glob("*.parquet")):
        return "speech"
    return "text"


def _parquet_columns(files: list[Path], wanted: Iterable[str], limit: int = MAX_PARQUET_ROWS) -> dict[str, list[Any]]:
    """The columns of `wanted` present in the files, concatenated (up to `limit` rows)."""
    import pyarrow.parquet as pq

    out: dict[str, list[Any]] = {}
    rows = 0
    for path in files:
        if rows >= limit:
            break
        try:
            pf = pq.ParquetFile(path)
            names = [c for c in wanted if c in pf.schema_arrow.names]
            if not names:
                continue
            table = pf.read(columns=names)
        except Exception:
            continue
        table = table.slice(0, limit - rows)
        rows += table.num_rows
        for name in names:
            out.setdefault(name, []).extend(table.column(name).to_pylist())
    return out


# ----------------------------------------------------------------------------- plots


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    plt = _plt()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _hbar(labels: list[str], values: list[float], title: str, xlabel: str, colors: list[str] | None = None) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(labels) + 1.2))
    y = list(range(len(labels)))[::-1]
    ax.barh(y, values, color=colors or "#4c72b0")
    ax.set_yticks(y, labels)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    top = max(values) if values else 0
    for yi, v in zip(y, values):
        ax.text(v + top * 0.01, yi, f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}", va="center", fontsize=8)
    ax.set_xlim(0, top * 1.15 or 1)
    return _png(fig)


def _hist(
    series: dict[str, list[float]],
    title: str,
    xlabel: str,
    bins: int = 40,
    value_range: tuple[float, float] | None = None,
    log: bool = False,
) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3))
    for label, values in series.items():
        if values:
            ax.hist(values, bins=bins, range=value_range, alpha=0.6, label=f"{label} ({len(values):,})", log=log)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count (log scale)" if log else "count")
    if len(series) > 1:
        ax.legend(fontsize=8)
    return _png(fig)


# ----------------------------------------------------------------------------- html helpers


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return _e(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.1f}"
    return _e(value)


def _table(header: list[str], rows: list[list[Any]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"num" if i >= numeric_from else "txt"}">{_fmt(c)}</td>' for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{_e(section_id)}"><h2>{_e(title)}</h2>{body}</section>'


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


# ----------------------------------------------------------------------------- text sections


def _funnel(stats: dict[str, Any]) -> str:
    docs = stats.get("documents") or {}
    lines = stats.get("lines") or {}
    n_in = int(_num(docs.get("in")))
    dropped = dict(docs.get("dropped") or {})
    rows: list[list[Any]] = [["Documents read", "in", n_in, "100.0%"]]
    bar_labels, bar_values, colors = ["in"], [float(n_in)], ["#4c72b0"]
    remaining = n_in
    known: set[str] = set()
    for key, name, reasons in TEXT_STAGES:
        if key == "read":  # unreadable records (errors), and the WARC reader's drops
            reason_list = [("errors", int(_num(docs.get("errors"))))]
            reason_list += [(r, int(_num(dropped.get(r)))) for r in reasons if dropped.get(r)]
            known.update(reasons)
            removed = sum(n for _, n in reason_list)
        else:  # a stage with many rules (Gopher, C4) lists only the rules that dropped something
            reason_list = [(r, int(_num(dropped.get(r)))) for r in reasons if len(reasons) == 1 or dropped.get(r)]
            known.update(reasons)
            removed = sum(n for _, n in reason_list)
        for reason, n in reason_list:
            rows.append([name, f"dropped: {reason}", -n, _pct(n, n_in)])
        remaining -= removed
        bar_labels.append(f"after {name.lower()}")
        bar_values.append(float(remaining))
        colors.append("#dd8452" if removed else "#b0b0b0")
    for reason, n in sorted(dropped.items()):
        if reason not in known:
            rows.append(["Other", f"dropped: {reason}", -int(_num(n)), _pct(_num(n), n_in)])
            remaining -= int(_num(n))
    kept = int(_num(docs.get("kept")))
    rows.append(["Output", "kept", kept, _pct(kept, n_in)])
    bar_labels.append("kept")
    bar_values.append(float(kept))
    colors.append("#55a868")
    out = "<h3>Documents</h3>" + _table(["stage", "step", "documents", "share of in"], rows, numeric_from=2)
    if remaining != kept:
        out += _note(
            f"Counts do not add up: {remaining:,} expected after every stage, {kept:,} kept (reconciled: {stats.get('reconciled')})."
        )
    out += _hbar(bar_labels, bar_values, "Documents remaining after each stage", "documents", colors)

    l_in = int(_num(lines.get("in")))
    exact = int(_num(lines.get("removed_exact")))
    near = int(_num(lines.get("removed_near_dup")))
    fuzzy = int(_num(lines.get("removed_fuzzy")))
    kept_nb = int(_num(lines.get("kept_nonblank")))
    rest = l_in - exact - near - fuzzy - kept_nb
    line_rows = [
        ["Lines read (incl. blank)", l_in, "100.0%"],
        ["removed by exact line dedup", -exact, _pct(exact, l_in)],
        ["removed by the near-duplicate spread rule", -near, _pct(near, l_in)],
        ["removed by fuzzy line dedup", -fuzzy, _pct(fuzzy, l_in)],
        ["blank, or in documents dropped later (language, quality, empty)", -rest, _pct(rest, l_in)],
        ["non-blank lines kept", kept_nb, _pct(kept_nb, l_in)],
    ]
    out += "<h3>Lines</h3>" + _table(["step", "lines", "share of in"], line_rows)
    out += _hbar(
        ["in", "after exact dedup", "after near-dup spread", "after fuzzy dedup", "kept (non-blank)"],
        [float(l_in), float(l_in - exact), float(l_in - exact - near), float(l_in - exact - near - fuzzy), float(kept_nb)],
        "Lines remaining after each stage",
        "lines",
        ["#4c72b0", "#dd8452", "#dd8452", "#dd8452", "#55a868"],
    )
    shards = stats.get("shards") or {}
    if isinstance(shards, dict) and shards:
        shard_rows = []
        for name, s in sorted(shards.items())[:200]:
            d = _get(s, "documents", default={}) or {}
            shard_rows.append(
                [
                    name,
                    _get(s, "files", default=0),
                    _num(d.get("in")),
                    _num(d.get("kept")),
                    sum(_num(v) for v in (d.get("dropped") or {}).values()),
                    _num(d.get("errors")),
                    _num(_get(s, "lines", "removed_exact")),
                ]
            )
        out += "<h3>Per shard</h3>" + _table(
            ["shard", "files", "docs in", "kept", "dropped", "errors", "lines removed exact"],
            [[r[0], *[int(x) for x in r[1:]]] for r in shard_rows],
        )
        if len(shards) > 200:
            out += _note(f"First 200 of {len(shards):,} shards.")
    return out


def _language_scores(kept: dict[str, list[Any]], rejected: dict[str, list[Any]], stats: dict[str, Any]) -> str:
    if "language_score" not in kept and "language_score" not in rejected:
        return _note("No language_score column in the outputs (language ID was off, or no documents were written).")
    series = {"kept": [float(x) for x in kept.get("language_score", []) if x is not None]}
    reasons = rejected.get("drop_reason", [])
    rej_scores = rejected.get("language_score", [])
    by_reason: dict[str, list[float]] = {}
    for reason, score in zip(reasons, rej_scores):
        if score is not None:
            by_reason.setdefault(f"rejected: {reason}", []).append(float(score))
    series.update(sorted(by_reason.items()))
    threshold = _get(stats, "config", "lid_threshold")
    out = _hist(series, "Language-ID score of the top language", "score", value_range=(0.0, 1.0), log=True)
    if not rejected:
        out += _note("Only kept documents are shown: rerun with --keep-rejected to see the scores of dropped ones.")
    langs = Counter(str(x) for x in kept.get("language", []) + rejected.get("language", []) if x is not None)
    if langs:
        out += "<h3>Top languages (kept + rejected)</h3>" + _table(
            ["language", "documents"], [[k, v] for k, v in langs.most_common(12)]
        )
    if threshold is not None:
        out += _note(f"Keep rule: top language in {_get(stats, 'config', 'languages')} with score >= {threshold}.")
    return out


def _quality_scores(kept: dict[str, list[Any]], rejected: dict[str, list[Any]]) -> str:
    if "quality_score" not in kept and "quality_score" not in rejected:
        return _note("No quality scores in the outputs: the quality stage was off for this run (--quality-model enables it).")
    series = {
        "kept": [float(x) for x in kept.get("quality_score", []) if x is not None],
        "rejected": [float(x) for x in rejected.get("quality_score", []) if x is not None],
    }
    out = _hist({k: v for k, v in series.items() if v}, "quality_score = 1 - P(rand)", "score", value_range=(0.0, 1.0))
    structs = [q for q in kept.get("quality", []) + rejected.get("quality", []) if isinstance(q, dict)]
    labels = [label for label in QUALITY_LABELS if any(label in q for q in structs)] or sorted({k for q in structs for k in q})
    if structs and labels:
        plt = _plt()
        cols = 3
        rows_n = math.ceil(len(labels) / cols)
        fig, axes = plt.subplots(rows_n, cols, figsize=(9, 2.2 * rows_n), squeeze=False)
        for i, label in enumerate(labels):
            ax = axes[i // cols][i % cols]
            values = [float(q[label]) for q in structs if q.get(label) is not None]
            ax.hist(values, bins=30, range=(0.0, 1.0), color="#8172b3")
            ax.set_title(label, fontsize=9)
            ax.tick_params(labelsize=7)
        for j in range(len(labels), rows_n * cols):
            axes[j // cols][j % cols].axis("off")
        fig.suptitle("Per-category scores (kept + rejected)", fontsize=10)
        fig.tight_layout()
        out += _png(fig)
    return out


def _scan_sources(run_dir: Path, stats: dict[str, Any], kept: dict[str, list[Any]]) -> list[tuple[str, str]]:
    """(source, shard) of every part, in shard order."""
    parts: list[tuple[str, str]] = []
    for path in sorted((run_dir / "_parts").glob("*.json")):
        rec = _load_json(path)
        if isinstance(rec, dict) and isinstance(rec.get("source"), str):
            parts.append((rec["source"], str(rec.get("shard", "all"))))
    if not parts:
        seen = dict.fromkeys(zip(kept.get("source", []), kept.get("shard", [])))
        parts = [(str(s), str(h)) for s, h in seen if s]
    return sorted(parts, key=lambda p: (p[1], p[0]))


def top_duplicate_lines(
    run_dir: Path, stats: dict[str, Any], kept: dict[str, list[Any]], max_bytes: int = DUP_SCAN_BYTES, top: int = TOP_LINES
) -> tuple[list[tuple[str, int, int]], dict[str, Any]]:
    """Re-read the run's input files and count, per shard, the lines that occur more than once
    (after the run's normalization): exactly what exact line dedup removes, apart from bloom-filter
    false positives. Returns ([(line, occurrences, copies removed)], info)."""
    from curate.helium.normalize import get_normalizer
    from curate.helium.wet import WetDocument, read_wet

    policy = _get(stats, "config", "dedup", default="keep-first")
    info: dict[str, Any] = {"policy": policy, "files": 0, "files_missing": 0, "bytes": 0, "truncated": False}
    if policy == "off":
        return [], info
    try:
        normalize = get_normalizer(_get(stats, "config", "normalization", default="strip"))
    except ValueError:
        normalize = str.strip
    totals: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    example: dict[str, str] = {}
    budget = max_bytes
    parts = _scan_sources(run_dir, stats, kept)
    by_shard: dict[str, list[str]] = {}
    for source, shard in parts:
        by_shard.setdefault(shard, []).append(source)
    for sources in by_shard.values():
        counts: Counter[str] = Counter()
        for source in sources:
            if budget <= 0:
                info["truncated"] = True
                break
            if "://" in source or not os.path.isfile(source):  # never touch the network from a report
                info["files_missing"] += 1
                continue
            info["files"] += 1
            for item in read_wet(source):
                if not isinstance(item, WetDocument):
                    continue
                budget -= item.nbytes
                info["bytes"] += item.nbytes
                for line in item.text.split("\n"):
                    if not line.strip():
                        continue
                    key = normalize(line)
                    counts[key] += 1
                    example.setdefault(key, line.strip())
                if budget <= 0:
                    info["truncated"] = True
                    break
        for key, n in counts.items():
            if n > 1:
                totals[key] += n
                removed[key] += n if policy == "drop-all" else n - 1
    rows = [(example[k][:300], totals[k], removed[k]) for k, _ in removed.most_common(top)]
    info["distinct_duplicated"] = len(removed)
    info["copies_removed"] = sum(removed.values())
    return rows, info


def _duplicate_lines(run_dir: Path, stats: dict[str, Any], kept: dict[str, list[Any]]) -> str:
    rows, info = top_duplicate_lines(run_dir, stats, kept)
    if info["policy"] == "off":
        return _note("Exact line dedup was off for this run (--dedup off): no line was removed as a duplicate.")
    if not info["files"]:
        return _note(
            "The run's input files are not readable from here (moved, or remote URLs, which a report never fetches), "
            "so the removed lines cannot be shown: outputs hold only what was kept. "
            f"Lines removed by exact dedup in this run: {int(_num(_get(stats, 'lines', 'removed_exact'))):,}."
        )
    how = (
        f"Re-derived by reading the run's input files again ({info['files']:,} files, {info['bytes'] / 1e6:,.1f} MB of text) and counting, "
        f"within each dedup shard, every non-blank line that occurs more than once after normalization "
        f"'{_get(stats, 'config', 'normalization', default='strip')}'. With policy '{info['policy']}', "
        + ("every copy of such a line is removed." if info["policy"] == "drop-all" else "all copies but the first are removed.")
        + " Exact counting: the run's bloom filter may have removed a few more lines (false positives)."
    )
    out = _note(how)
    if info["truncated"] or info["files_missing"]:
        out += _note(
            f"Partial: {'the scan stopped at its byte budget; ' if info['truncated'] else ''}"
            f"{info['files_missing']:,} input file(s) not readable here. The ranking covers the part that was read."
        )
    out += _note(
        f"{info['distinct_duplicated']:,} distinct duplicated lines, {info['copies_removed']:,} copies removed "
        f"(the run itself counted {int(_num(_get(stats, 'lines', 'removed_exact'))):,} lines removed by exact dedup)."
    )
    near = int(_num(_get(stats, "lines", "removed_near_dup")))
    if near:
        out += _note(
            f"The {near:,} lines removed by the near-duplicate spread rule (keys on many pages of a host) are not ranked here."
        )
    fuzzy = int(_num(_get(stats, "lines", "removed_fuzzy")))
    if fuzzy:
        out += _note(f"The {fuzzy:,} lines removed by fuzzy dedup (a classifier, not a count) are not ranked here.")
    if rows:
        out += _table(["line (as first seen)", "occurrences", "copies removed"], [list(r) for r in rows])
        out += _hbar(
            [r[0][:60] + ("..." if len(r[0]) > 60 else "") for r in rows[:12]],
            [float(r[2]) for r in rows[:12]],
            "Most removed lines",
            "copies removed",
            ["#c44e52"] * min(12, len(rows)),
        )
    return out


# ----------------------------------------------------------------------------- common sections


def _throughput(run_dir: Path, stats: dict[str, Any], kind: str) -> str:
    run = _load_json(run_dir / "run.json") or _load_json(run_dir / "align" / "run.json") or {}
    elapsed = _num(run.get("elapsed_s"))
    workers = run.get("workers")
    rows: list[list[Any]] = [["wall time (s)", round(elapsed, 3)], ["workers", workers if workers is not None else "-"]]
    if kind == "text":
        docs = stats.get("documents") or {}
        b_in, b_kept, d_in = _num(stats.get("bytes_in")), _num(stats.get("bytes_kept")), _num(docs.get("in"))
        rows += [["bytes in", int(b_in)], ["bytes kept", int(b_kept)]]
        if elapsed > 0:
            rows += [
                ["whole chain MB/s (input text)", round(b_in / 1e6 / elapsed, 3)],
                ["whole chain documents/s", round(d_in / elapsed, 1)],
            ]
            if isinstance(workers, int) and workers > 0:
                rows.append(["MB/s per worker", round(b_in / 1e6 / elapsed / workers, 3)])
    else:
        audio = _num(stats.get("audio_seconds")) or _num(_get(stats, "align", "audio_seconds"))
        rows.append(["audio seconds", round(audio, 1)])
        if elapsed > 0:
            rows.append(["real-time factor (audio s per wall s)", round(audio / elapsed, 2)])
    out = _table(["measure", "value"], rows)
    timings = stats.get("timings_s") or run.get("timings_s")
    if isinstance(timings, dict) and timings:
        stage_rows = []
        for stage, seconds in timings.items():
            s = _num(seconds)
            stage_rows.append(
                [stage, round(s, 3), round(_num(stats.get("bytes_in")) / 1e6 / s, 3) if s > 0 and kind == "text" else "-"]
            )
        out += "<h3>Per stage</h3>" + _table(["stage", "busy seconds (all workers)", "MB/s"], stage_rows)
        out += _hbar([r[0] for r in stage_rows], [_num(r[1]) for r in stage_rows], "Busy time per stage", "seconds")
    else:
        out += _note(
            "Per-stage times are not recorded by this run (stages run fused inside the same actors; run.json holds the wall time "
            "of the whole run only), so throughput is shown for the whole chain. `make bench` measures each stage alone."
        )
        if kind == "text":
            docs = stats.get("documents") or {}
            n_in = _num(docs.get("in"))
            dropped = docs.get("dropped") or {}
            stage_rows = []
            remaining = n_in - _num(docs.get("errors")) - sum(_num(dropped.get(r)) for r in TEXT_STAGES[0][2])
            for key, name, reasons in TEXT_STAGES[1:]:
                cfg = stats.get("config") or {}
                enabled = {
                    "exact": cfg.get("dedup", "keep-first") != "off",
                    "fuzzy": bool(cfg.get("fuzzy")),
                    "lid": cfg.get("lid", True),
                    "quality": bool(cfg.get("quality")),
                    "gopher_repetition": bool(cfg.get("gopher_repetition")),
                    "gopher_quality": bool(cfg.get("gopher_quality")),
                    "c4_lines": bool(cfg.get("c4_lines")),
                    "minhash": bool(cfg.get("minhash")),
                }[key]
                removed = sum(_num(dropped.get(r)) for r in reasons)
                stage_rows.append([name, "on" if enabled else "off", int(remaining), int(remaining - removed)])
                remaining -= removed
            out += "<h3>Documents through each stage</h3>" + _table(
                ["stage", "enabled", "documents in", "documents out"], stage_rows
            )
    return out


def _errors(issues: list[dict[str, Any]], stats: dict[str, Any]) -> str:
    if not issues:
        n = _num(_get(stats, "documents", "errors")) or _num(_get(stats, "files", "errors"))
        return _note(
            "No errors or warnings were reported."
            if not n
            else f"{int(n):,} errors counted in stats.json, but errors.jsonl is missing."
        )
    by_kind: Counter[tuple[str, str]] = Counter((str(i.get("kind", "?")), str(i.get("severity", "error"))) for i in issues)
    files_by_kind: dict[tuple[str, str], set[str]] = {}
    for i in issues:
        files_by_kind.setdefault((str(i.get("kind", "?")), str(i.get("severity", "error"))), set()).add(str(i.get("source", "")))
    rows = [[k, sev, n, len(files_by_kind[(k, sev)])] for (k, sev), n in sorted(by_kind.items(), key=lambda x: (-x[1], x[0]))]
    out = _table(["kind", "severity", "count", "files"], rows, numeric_from=2)
    n_err = sum(n for (_, sev), n in by_kind.items() if sev == "error")
    out += _note(
        f"{n_err:,} errors (records lost; counted in the funnel) and {len(issues) - n_err:,} warnings (everything was read)."
    )
    examples = []
    seen: set[tuple[str, str]] = set()
    for i in issues:
        key = (str(i.get("kind")), str(i.get("severity")))
        if key in seen:
            continue
        seen.add(key)
        examples.append(
            [
                key[0],
                os.path.basename(str(i.get("source", "")))[:80],
                i.get("record_index"),
                i.get("offset"),
                str(i.get("reason", ""))[:200],
            ]
        )
    out += "<h3>One example per kind</h3>" + _table(["kind", "file", "record", "offset", "reason"], examples, numeric_from=99)
    return out


# ----------------------------------------------------------------------------- speech sections


def _iter_alignments(run_dir: Path) -> Iterator[dict[str, Any]]:
    n = 0
    for folder in _alignment_dirs(run_dir):
        for path in sorted(folder.glob("*.json")):
            if n >= MAX_ALIGNMENT_FILES:
                return
            rec = _load_json(path)
            if isinstance(rec, dict):
                n += 1
                yield rec


def _speech_stats(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(align stats, shards stats): either may be empty."""
    top = _load_json(run_dir / "stats.json") or {}
    nested = _load_json(run_dir / "align" / "stats.json") or {}
    if isinstance(top.get("files"), dict):
        return top, {}
    align = nested if isinstance(nested.get("files"), dict) else (top.get("align") if isinstance(top.get("align"), dict) else {})
    return align, top


def _speech_sections(run_dir: Path) -> dict[str, str]:
    align, shards = _speech_stats(run_dir)
    records = list(_iter_alignments(run_dir))
    sections: dict[str, str] = {}

    hours_in = (_num(align.get("audio_seconds")) or _num(_get(shards, "align", "audio_seconds"))) / 3600
    out_s = sum(_num(r.get("duration")) for r in records)
    files = align.get("files") if isinstance(align.get("files"), dict) else {}
    rows = [
        ["files in", int(_num(files.get("in")))],
        ["files kept", int(_num(files.get("kept")) or len(records))],
        ["files with errors", int(_num(files.get("errors")))],
        ["hours in", round(hours_in, 4)],
        ["hours out (aligned files kept)", round(out_s / 3600, 4)],
    ]
    if shards.get("audio_seconds") is not None:
        rows.append(["hours in training shards", round(_num(shards.get("audio_seconds")) / 3600, 4)])
    if _get(align, "words", "out") is not None:
        rows.append(["words out", int(_num(_get(align, "words", "out")))])
    body = _table(["measure", "value"], rows)
    if hours_in or out_s:
        unit, scale = ("hours", 1.0) if max(hours_in, out_s / 3600) >= 1 else ("minutes", 60.0)
        body += _hbar(
            [f"{unit} in", f"{unit} out"],
            [round(hours_in * scale, 2), round(out_s / 3600 * scale, 2)],
            f"Audio {unit}",
            unit,
            ["#4c72b0", "#55a868"],
        )
    sections["speech-hours"] = body

    dropped = files.get("dropped") if isinstance(files.get("dropped"), dict) else {}
    if dropped:
        items = sorted(dropped.items(), key=lambda x: -_num(x[1]))
        body = _table(["reason", "files"], [[k, int(_num(v))] for k, v in items])
        body += _hbar(
            [k for k, _ in items], [_num(v) for _, v in items], "Files dropped by reason", "files", ["#dd8452"] * len(items)
        )
    else:
        body = _note("No file was dropped (or no alignment stats are present).")
    sections["speech-drops"] = body

    wps = [len(r.get("alignments") or []) / _num(r.get("duration")) for r in records if _num(r.get("duration")) > 0]
    if wps:
        body = _hist({"files": wps}, "Words per second of audio, per file", "words / s")
        body += _note(
            f"Median {sorted(wps)[len(wps) // 2]:.2f} words/s over {len(wps):,} files (conversational speech: about 2-3)."
        )
    else:
        body = _note("No alignments/*.json with a duration found.")
    sections["words-per-second"] = body

    probs = [float(p) for r in records for p in (r.get("word_probabilities") or []) if isinstance(p, (int, float))]
    means = [float(r["mean_word_probability"]) for r in records if isinstance(r.get("mean_word_probability"), (int, float))]
    if probs or means:
        series = {k: v for k, v in {"words": probs, "file means": means}.items() if v}
        body = _hist(series, "ASR word probability (alignment confidence)", "probability", value_range=(0.0, 1.0))
        timing = Counter(str(t) for r in records for t in (r.get("word_timing") or []))
        if timing:
            body += "<h3>How word times were set</h3>" + _table(["timing", "words"], [[k, v] for k, v in timing.most_common()])
    else:
        body = _note("No word probabilities in the alignments.")
    sections["alignment-confidence"] = body

    pad = shards.get("pad_share")
    frames = _num(shards.get("frames"))
    body = ""
    if pad is None:
        files_pq = sorted((run_dir / "shards").glob("*.parquet"))
        pad_id = _get(shards, "config", "pad", default=3)
        cols = _parquet_columns(files_pq, ["text_tokens"], limit=200_000) if files_pq else {}
        tokens = [t for row in cols.get("text_tokens", []) if row for t in row]
        if tokens:
            frames = float(len(tokens))
            pad = sum(1 for t in tokens if t == pad_id) / frames
            body += _note(f"Computed from shards/*.parquet text_tokens with PAD id {pad_id}.")
    if pad is not None:
        p = _num(pad)
        body = (
            _table(
                ["measure", "value"],
                [
                    ["text frames", int(frames)],
                    ["PAD share", f"{100 * p:.1f}%"],
                    ["EPAD frames", int(_num(shards.get("epad_frames")))],
                ],
            )
            + body
        )
        body += _hbar(
            ["PAD", "other tokens"],
            [round(100 * p, 2), round(100 * (1 - p), 2)],
            "Share of the text stream",
            "% of frames",
            ["#b0b0b0", "#4c72b0"],
        )
    else:
        body = _note("No training shards in this folder (run `curate shards` to build them): PAD share unknown.")
    sections["pad-share"] = body
    return sections


# ----------------------------------------------------------------------------- page

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}header p{margin:4px 0 0;color:#c9cfdb;font-size:13px}
main{max-width:1180px;margin:0 auto;padding:16px 32px 48px}
section{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:12px 20px 16px;margin:16px 0}
h2{font-size:18px;margin:6px 0 10px}h3{font-size:14px;margin:14px 0 6px;color:#444}
table{border-collapse:collapse;font-size:13px;margin:6px 0}th,td{border-bottom:1px solid #e6e8ec;padding:4px 10px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.txt{max-width:640px;overflow-wrap:anywhere}
th{background:#f0f2f5}.note{color:#555;font-size:13px;max-width:900px}img{max-width:100%;display:block;margin:8px 0}
nav a{color:#c9cfdb;margin-right:14px;font-size:13px}.ok{color:#2e7d32;font-weight:600}.bad{color:#c62828;font-weight:600}
"""


def _summary(run_dir: Path, kind: str, stats: dict[str, Any], label: str | None = None) -> str:
    rows: list[list[Any]] = [["run folder", label or str(run_dir)], ["kind", kind]]
    if kind == "text":
        docs = stats.get("documents") or {}
        rows += [
            ["input files", stats.get("files", "-")],
            ["shards", len(stats.get("shards") or {})],
            ["documents in", docs.get("in", "-")],
            ["documents kept", docs.get("kept", "-")],
            ["document errors", docs.get("errors", "-")],
            ["bytes in", stats.get("bytes_in", "-")],
            ["bytes kept", stats.get("bytes_kept", "-")],
            ["invalid UTF-8 documents", stats.get("invalid_utf8_documents", "-")],
        ]
    else:
        align, shards = _speech_stats(run_dir)
        files = align.get("files") if isinstance(align.get("files"), dict) else {}
        rows += [
            ["audio files in", files.get("in", "-")],
            ["files kept", files.get("kept", "-")],
            ["training windows", shards.get("windows", "-")],
        ]
    reconciled = stats.get("reconciled")
    cls = "ok" if reconciled else "bad"
    out = _table(["measure", "value"], rows, numeric_from=1)
    if reconciled is not None:
        out += f'<p>Counts reconciled (in = kept + dropped + errors): <span class="{cls}">{_e(reconciled)}</span></p>'
    missing = stats.get("missing_parts") or []
    if missing:
        out += _note(f"{len(missing):,} part(s) missing from this run (not finished): {', '.join(map(str, missing[:10]))}")
    return out


def build_report(run_dir: str | Path, label: str | None = None) -> str:
    """The HTML of the report of a run folder (`label`: how to name it on the page, default its path)."""
    run_dir = Path(run_dir)
    label = label or str(run_dir)
    stats = _load_json(run_dir / "stats.json")
    stats = stats if isinstance(stats, dict) else {}
    kind = detect_kind(run_dir)
    issues = _read_errors(run_dir)
    sections: dict[str, tuple[str, str]] = {}

    def add(section_id: str, title: str, make: Any) -> None:
        try:
            body = make()
        except Exception as exc:  # one broken section must not lose the page
            body = _note(f"This section could not be built: {type(exc).__name__}: {exc}")
        sections[section_id] = (title, body)

    add("summary", "Summary", lambda: _summary(run_dir, kind, stats, label))
    if kind == "text":
        wanted = ["language", "language_score", "quality", "quality_score", "source", "shard"]
        kept = _parquet_columns(sorted((run_dir / "documents").glob("*.parquet")), wanted)
        rejected = _parquet_columns(sorted((run_dir / "rejected").glob("*.parquet")), [*wanted, "drop_reason"])
        add("funnel", "Funnel: what was kept, what was dropped and why", lambda: _funnel(stats))
        add("language-scores", "Language-ID scores", lambda: _language_scores(kept, rejected, stats))
        add("quality-scores", "Quality scores", lambda: _quality_scores(kept, rejected))
        add("duplicate-lines", "Top removed duplicate lines", lambda: _duplicate_lines(run_dir, stats, kept))
    else:
        titles = {
            "speech-hours": "Audio hours in and out",
            "speech-drops": "Dropped files by reason",
            "words-per-second": "Words per second",
            "alignment-confidence": "Alignment confidence",
            "pad-share": "PAD share of the text stream",
        }
        try:
            speech = _speech_sections(run_dir)
        except Exception as exc:
            speech = {k: _note(f"Could not read the speech outputs: {type(exc).__name__}: {exc}") for k in titles}
        for key, title in titles.items():
            sections[key] = (title, speech.get(key, _note("No data.")))
    add("throughput", "Throughput", lambda: _throughput(run_dir, stats, kind))
    add("errors", "Errors and warnings by kind", lambda: _errors(issues, stats))

    order = TEXT_SECTIONS if kind == "text" else SPEECH_SECTIONS
    nav = "".join(f'<a href="#{_e(s)}">{_e(sections[s][0].split(":")[0])}</a>' for s in order)
    body = "".join(_section(s, *sections[s]) for s in order)
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>curate report: {_e(label.rstrip('/').rsplit('/', 1)[-1])}</title><style>{CSS}</style></head><body>"
        f"<header><h1>curate run report ({_e(kind)})</h1><p>{_e(label)} &middot; written {created}</p><nav>{nav}</nav></header>"
        f"<main>{body}</main></body></html>\n"
    )


def mirror_run(url: str, local: Path, max_rows: int = MAX_PARQUET_ROWS, max_json: int = MAX_ALIGNMENT_FILES) -> None:
    """Copy what the report reads of a run in a bucket into `local`: its JSON files (at most
    `max_json` per folder) and, per folder, Parquet files in order until `max_rows` rows (the
    report samples no more than that)."""
    import pyarrow.parquet as pq

    from curate.core import storage

    fs, root = storage.filesystem(url)
    root = root.rstrip("/")
    rows: dict[str, int] = {}
    jsons: dict[str, int] = {}
    for key in sorted(fs.find(root)):
        rel = key[len(root) + 1 :]
        folder = rel.rsplit("/", 1)[0] if "/" in rel else ""
        target = local / rel
        if rel.endswith(".parquet"):
            if rows.get(folder, 0) >= max_rows:
                continue
            with fs.open(key, "rb") as fh:
                rows[folder] = rows.get(folder, 0) + pq.ParquetFile(fh).metadata.num_rows
        elif rel.endswith((".json", ".jsonl")):
            jsons[folder] = jsons.get(folder, 0) + 1
            if jsons[folder] > max_json:
                continue
        else:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(key, str(target))


def write_report(run_dir: str | Path, output: str | Path | None = None) -> Any:
    """Write `DIR/report.html` (or `output`) atomically; returns its path. DIR and `output` may be
    URLs (s3://bucket/run): the page is built from a sampled local copy, then uploaded."""
    import tempfile

    from curate.core import storage
    from curate.core.storage import write_bytes_atomic

    if storage.is_remote(run_dir):
        if not storage.list_files(run_dir) and not storage.list_files(storage.join(run_dir, "_parts")):
            raise FileNotFoundError(f"not a run folder: {run_dir}")
        target = output or storage.join(run_dir, REPORT_NAME)
        with tempfile.TemporaryDirectory(dir=storage.spill_dir()) as tmp:
            mirror_run(str(run_dir), Path(tmp))
            write_bytes_atomic(target, build_report(tmp, label=str(run_dir)).encode("utf-8"))
        return target
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"not a run folder: {run_dir}")
    path = output if output and storage.is_remote(output) else Path(output) if output else run_dir / REPORT_NAME
    write_bytes_atomic(path, build_report(run_dir).encode("utf-8"))
    return path
