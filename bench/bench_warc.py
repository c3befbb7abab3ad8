"""Benchmark of the WARC chain (issue 14, item 5): `make bench`, or

    .venv/bin/python -m bench.bench_warc [--size-mb 100] [--only curate_resiliparse,datatrove]

Input: WARC files of real HTML pages (the HPLT samples in ../shared/data/text/web_raw: ~40
languages, HTML as crawled) plus the project's multilingual sample pages, repeated under new URLs
up to `--size-mb` MB of HTTP payload (env BENCH_WARC_MB), with a few redirects and images. Each
measurement runs alone in its own subprocess, one worker:

- curate: `run_helium(input_format=warc)`: read + extract (Resiliparse, or Trafilatura) + exact
  line dedup + LID (lid.176, all languages, p >= 0.65) + Parquet write, Ray start included;
- datatrove 0.9 (installed in the venv): `WarcReader` -> `Trafilatura` (its extractor, default
  options) -> `LanguageFilter` (all languages, 0.65, the same local lid.176.ftz) -> `ParquetWriter`,
  one task. datatrove has no line dedup in this chain (its MinHash stages are issue 14 item 3):
  the comparison favours datatrove;
- floors: Resiliparse / Trafilatura extraction alone on already-decoded HTML.

Throughput: MB of HTTP payload (response bodies) per second; "per core" divides by the CPU time of
the process tree (`bench_helium.TreeCpu`: Ray's processes and datatrove's extractor sandbox
included). Each chain is also run on one page (`*_fixed`: Ray start, model loads, actor setup),
and the last column removes that fixed cost, i.e. the throughput a long run converges to.
Target: curate >= 2x datatrove per core. Wall times are only meaningful on an idle machine. Results: a markdown table on stdout,
`bench/results/warc.json` and `bench/results/warc.md`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.bench_helium import BUILD, MB, REPO_ROOT, RESULTS, measure, row

SHARED = REPO_ROOT.parent / "shared" / "data"
CORPUS = BUILD / "bench-warc"
MEASUREMENTS = (
    "extract_resiliparse",
    "extract_trafilatura",
    "curate_fixed",
    "curate_resiliparse",
    "curate_trafilatura",
    "datatrove_fixed",
    "datatrove",
)
TINY = BUILD / "bench-warc-tiny"  # one small page: the fixed cost of a run (Ray start, model load, ...)


def build_corpus(out: Path, size_mb: float, files: int = 4) -> dict[str, Any]:
    """WARC files of real + sample HTML, deterministic; returns the manifest."""
    import zstandard

    from curate.helium.warc_sample import JUNK, build_sample_pages
    from curate.helium.warc_writer import HtmlPage, write_warc

    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("size_mb") == size_mb:
            return manifest
    shutil.rmtree(out, ignore_errors=True)
    base: list[HtmlPage] = []
    for name in ("hplt_w2t_sample100_CC.jsonl.zst", "hplt_w2t_sample100_IA-wide17.jsonl.zst"):
        with open(SHARED / "text" / "web_raw" / name, "rb") as fh:
            reader = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(fh), encoding="utf-8", errors="replace")
            for line in reader:
                r = json.loads(line)
                base.append(HtmlPage(r["u"], r["h"].encode("utf-8", "replace"), "text/html; charset=utf-8"))
    base += [p.page for p in build_sample_pages(96)]
    pages: list[HtmlPage] = []
    total = 0
    i = 0
    while total < size_mb * MB:
        p = base[i % len(base)]
        pages.append(HtmlPage(f"{p.url}?copy={i // len(base)}", p.body, p.content_type, p.status))
        total += len(p.body)
        i += 1
        if i % 97 == 0:
            pages.append(JUNK[(i // 97) % len(JUNK)])
    per = -(-len(pages) // files)
    paths = [
        str(write_warc(out / f"segments/seg-{k % 2}/warc/bench-{k:03d}.warc.gz", pages[k * per : (k + 1) * per]))
        for k in range(files)
    ]
    manifest = {"size_mb": size_mb, "payload_bytes": sum(len(p.body) for p in pages), "records": len(pages), "paths": paths}
    manifest_path.write_text(json.dumps(manifest))
    return manifest


def _html_texts(paths: list[str]) -> list[str]:
    from warcio.archiveiterator import ArchiveIterator

    from curate.helium.warc import decode_html, is_html, is_success, looks_binary

    out = []
    for path in paths:
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type != "response" or rec.http_headers is None:
                    continue
                ct = rec.http_headers.get_header("Content-Type")
                body = rec.content_stream().read()
                if is_success(int(rec.http_headers.get_statuscode())) and is_html(ct, body) and not looks_binary(body):
                    out.append(decode_html(body, ct)[0])
    return out


def tiny_input() -> list[str]:
    from curate.helium.warc_sample import build_sample_pages
    from curate.helium.warc_writer import write_warc

    page = build_sample_pages(1)[0].page
    return [str(write_warc(TINY / "segments/seg-0/warc/tiny.warc.gz", [page]))]


def run_one(name: str, manifest: dict[str, Any]) -> dict[str, Any]:
    paths, payload = manifest["paths"], manifest["payload_bytes"]
    corpus = CORPUS
    if name.endswith("_fixed"):  # the same chain on one page: what a run costs whatever its size
        paths, payload, corpus = tiny_input(), 0, TINY
        name = name.removesuffix("_fixed")
        fixed = True
    else:
        fixed = False
    if name.startswith("extract_"):
        from curate.helium.warc import extract_main_text

        extractor = name.removeprefix("extract_")
        texts = _html_texts(paths)
        nbytes = sum(len(t.encode("utf-8")) for t in texts)
        r = row(name, f"floor: {extractor} extraction alone (decoded HTML)", "floor", len(texts), nbytes)
        with measure(r):
            for t in texts:
                extract_main_text(t, extractor)
        return r
    if name.startswith("curate"):
        from curate.helium.config import HeliumConfig
        from curate.helium.pipeline import run_helium

        extractor = "resiliparse" if fixed else name.removeprefix("curate_")
        out = BUILD / "bench-out" / name
        shutil.rmtree(out, ignore_errors=True)
        config = HeliumConfig(input_format="warc", extractor=extractor, languages=["all"], lid_threshold=0.65, lid_thresholds={})
        label = (
            "curate fixed cost (same chain, one page)"
            if fixed
            else f"curate WARC chain ({extractor}): read+extract+line dedup+LID+write, 1 worker"
        )
        r = row(name + ("_fixed" if fixed else ""), label, "fixed" if fixed else "chain", 0, payload)
        with measure(r, tree=True):
            stats = run_helium(paths, out, config, workers=1, resume=False)
        r.update(docs=stats["documents"]["in"], kept=stats["documents"]["kept"])
        shutil.rmtree(out, ignore_errors=True)
        return r
    if name == "datatrove":
        import datatrove.utils.lid as dt_lid
        from datatrove.executor import LocalPipelineExecutor
        from datatrove.pipeline.extractors import Trafilatura
        from datatrove.pipeline.filters import LanguageFilter
        from datatrove.pipeline.readers import WarcReader
        from datatrove.pipeline.writers import ParquetWriter

        from curate.core.models import bundled_model_path

        model = str(bundled_model_path("lid.176.ftz"))
        dt_lid.cached_asset_path_or_download = lambda *a, **k: model  # the same local lid.176.ftz
        work = BUILD / "bench-out" / "datatrove-warc"
        shutil.rmtree(work, ignore_errors=True)
        pipeline = [
            WarcReader(str(corpus), glob_pattern="**/*.warc.gz"),
            Trafilatura(),
            LanguageFilter(languages=None, language_threshold=0.65),
            ParquetWriter(str(work / "output"), compression="zstd"),
        ]
        label = (
            "datatrove fixed cost (same chain, one page)"
            if fixed
            else "datatrove 0.9: WarcReader -> Trafilatura -> LanguageFilter -> ParquetWriter, 1 task"
        )
        r = row(name + ("_fixed" if fixed else ""), label, "fixed" if fixed else "chain", 0, payload)
        executor = LocalPipelineExecutor(
            pipeline=pipeline, tasks=1, workers=1, logging_dir=str(work / "logs"), skip_completed=False
        )
        with measure(r, tree=True):
            stats = executor.run()
        stats_json = json.loads(stats.to_json()) if hasattr(stats, "to_json") else []
        for stage in stats_json if isinstance(stats_json, list) else []:
            if isinstance(stage, dict) and "Parquet" in stage.get("name", ""):
                r["kept"] = int(stage.get("stats", {}).get("total", 0) or 0)
            if isinstance(stage, dict) and "Warc" in stage.get("name", ""):
                r["docs"] = int(stage.get("stats", {}).get("documents", {}).get("total", 0) or 0)
        shutil.rmtree(work, ignore_errors=True)
        return r
    raise ValueError(name)


def derive(r: dict[str, Any]) -> dict[str, Any]:
    mb = r["bytes"] / MB
    r["mb_s"] = round(mb / r["wall_s"], 2) if r.get("wall_s") and mb else None
    r["mb_s_per_core"] = round(mb / r["cpu_s"], 2) if r.get("cpu_s") and mb else None
    return r


def markdown(rows: list[dict[str, Any]], manifest: dict[str, Any]) -> str:
    out = [
        f"WARC input: {manifest['payload_bytes'] / MB:.1f} MB of HTTP payload, {manifest['records']:,} response records",
        "",
        "| what | docs in | kept | wall s | CPU s | MB/s | MB/s per core | MB/s per core, fixed cost removed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    by = {r["key"]: r for r in rows}
    for r in rows:
        fixed = by.get(r["key"].split("_")[0] + "_fixed") if r["group"] == "chain" else None
        if fixed and r["cpu_s"] > fixed["cpu_s"]:
            r["mb_s_per_core_steady"] = round(r["bytes"] / MB / (r["cpu_s"] - fixed["cpu_s"]), 2)
        out.append(
            f"| {r['label']} | {r.get('docs', '')} | {r.get('kept', '')} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} "
            f"| {r['mb_s']} | {r['mb_s_per_core']} | {r.get('mb_s_per_core_steady', '')} |"
        )
    if "datatrove" in by:
        for key in ("curate_resiliparse", "curate_trafilatura"):
            if key in by and by["datatrove"]["mb_s_per_core"]:
                ratio = by[key]["mb_s_per_core"] / by["datatrove"]["mb_s_per_core"]
                line = f"\n{key} vs datatrove, per core: {ratio:.2f}x"
                if by[key].get("mb_s_per_core_steady") and by["datatrove"].get("mb_s_per_core_steady"):
                    steady = by[key]["mb_s_per_core_steady"] / by["datatrove"]["mb_s_per_core_steady"]
                    line += f" ({steady:.2f}x with each side's fixed cost removed)"
                out.append(line + " (target >= 2x)")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=float(os.environ.get("BENCH_WARC_MB", 100)))
    parser.add_argument("--only", default=",".join(MEASUREMENTS))
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    manifest = build_corpus(CORPUS, args.size_mb)
    if args.measure:  # child process: one measurement, JSON on the last line
        print(json.dumps(run_one(args.measure, manifest)))
        return 0
    rows = []
    for name in [n for n in args.only.split(",") if n]:
        started = time.perf_counter()
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), RAY_ADDRESS="")
        proc = subprocess.run(
            [sys.executable, "-m", "bench.bench_warc", "--size-mb", str(args.size_mb), "--measure", name],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            print(f"{name} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
            continue
        rows.append(derive(json.loads(proc.stdout.strip().splitlines()[-1])))
        print(f"{name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    table = markdown(rows, manifest)
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "warc.json").write_text(
        json.dumps({"manifest": {k: v for k, v in manifest.items() if k != "paths"}, "rows": rows}, indent=1)
    )
    (RESULTS / "warc.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
