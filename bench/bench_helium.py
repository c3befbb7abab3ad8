"""Benchmark of the Helium text pipeline (issue 2, item 10): `make bench`, or

    .venv/bin/python -m bench.bench_helium [--size-mb 200] [--skip-datatrove] [--profile]

On one generated corpus (`bench/corpus.py`: CommonCrawl-like WET files built from the real text
in ../shared/data/text, default 200 MB of uncompressed payload), in one run, each measured alone
in its own subprocess:

- read: curate's `read_wet`; the floor, warcio's ArchiveIterator + UTF-8 decode alone;
- dedup: curate's `LineDeduplicator` (keep-first, bloom, per segment) over already-read texts,
  the `ExactLineDedup` step over already-read documents, and the floor: xxh3-128 of every line;
- LID: curate's `LanguageFilter` over already-read documents; the floor, raw batched fastText
  `model.predict` (lid.176.ftz, newlines -> spaces, k=1) over the same texts;
- whole chain: `curate.helium.pipeline.run_helium(..., HeliumConfig(), workers=1 and 2)`, Ray start included,
  and the exact-dedup chain (`normalization="strip", near_dup_spread=0`, workers=1): the same work as
  datatrove's chain below, which the speed targets compare against;
- datatrove 0.10.1, in its own venv (`build/venv-datatrove`, installed here when missing): the
  closest chain, `WarcReader` -> `SentenceDedupSignature`/`SentenceFindDedups`/`SentenceDedupFilter`
  (`split_sentences=False`, i.e. lines, normalization off, no minimum size) -> `LanguageFilter`
  (en, 0.85, the same local lid.176.ftz) -> `ParquetWriter`, each stage timed inside.

Throughput is uncompressed WET payload MB (10^6 bytes of conversion-record content) per second.
"per core" divides by CPU time actually used (user + system of the process and all its
descendants: Ray's raylet, GCS and worker processes included), so numbers stay comparable when
other jobs share the machine. Floor of the chain = read floor + LID floor (+ hashing, shown apart).
Results: a markdown table on stdout, `bench/results/helium.json` and `bench/results/helium.md`.

This file also runs under the datatrove venv's interpreter (`--measure datatrove`): it must not
import curate at module level.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "bench" / "results"
BUILD = REPO_ROOT / "build"
DT_VENV = BUILD / "venv-datatrove"
DT_REQUIREMENTS = [
    "datatrove[processing]==0.10.1",  # regex, xxhash, fasttext-numpy2-wheel, fasteners (LanguageFilter)
    "warcio",
    "fasttext-numpy2-wheel",
    "faust-cchardet",  # WarcReader
    "python-magic",  # WarcReader (needs libmagic1)
    "pyarrow",  # ParquetWriter
]
MODEL = REPO_ROOT / "models" / "lid.176.ftz"
MB = 1_000_000
# (summary name, row key, workers): the chains measured with Ray
CHAINS = (("curate_exact_w1", "exact_chain", 1), ("curate_w1", "chain", 1), ("curate_w2", "chain", 2))
LID_BATCH = 512
TARGET_VS_DATATROVE = 2.0
TARGET_VS_FLOOR = 0.75

# ---------------------------------------------------------------------------------------------
# measuring


def _proc_cpu_ticks(pid: int) -> tuple[int, int] | None:
    """(own utime+stime, reaped children's cutime+cstime) in clock ticks, from /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def _descendants(root: int) -> list[int]:
    """Live descendants of `root`, via /proc/<pid>/task/<tid>/children (cheap), else a /proc scan."""
    if not Path(f"/proc/{root}/task/{root}/children").exists():
        return _descendants_scan(root)
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as fh:
                    kids = [int(x) for x in fh.read().split()]
            except OSError:
                continue
            out.extend(kids)
            stack.extend(kids)
    return out


def _descendants_scan(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        for child in children.get(pid, []):
            out.append(child)
            stack.append(child)
    return out


def _own_ticks(pids: list[int]) -> dict[int, int]:
    out = {}
    for pid in pids:
        ticks = _proc_cpu_ticks(pid)
        if ticks:
            out[pid] = ticks[0]
    return out


class TreeCpu:
    """CPU seconds used by this process and every descendant during a window.

    Ray's local instance (GCS, raylet, workers) runs in descendants of the driver, some of which
    come and go, so a thread samples /proc every `interval` s and keeps, per process ever seen,
    the last own utime+stime (minus its value at the start); a process that lives less than one
    interval can be missed. The sampler's own thread time is subtracted. Linux only; elsewhere
    this process plus reaped children (getrusage).
    """

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.linux = Path("/proc/self/stat").exists()
        self._stop = threading.Event()
        self._base: dict[int, int] = {}
        self._last: dict[int, int] = {}
        self._sampler_s = 0.0

    def _sample(self) -> None:
        me = os.getpid()
        for pid, ticks in _own_ticks([me, *_descendants(me)]).items():
            self._last[pid] = max(ticks, self._last.get(pid, 0))

    def _loop(self) -> None:
        t0 = time.thread_time()
        while not self._stop.wait(self.interval):
            self._sample()
        self._sampler_s = time.thread_time() - t0

    def __enter__(self) -> TreeCpu:
        if self.linux:
            me = os.getpid()
            self._base = _own_ticks([me, *_descendants(me)])
            self._last = dict(self._base)
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        else:
            import resource

            self._r0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.linux:
            self._stop.set()
            self._thread.join()
            self._sample()

    def seconds(self) -> float:
        if not self.linux:
            import resource

            own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
            (own0, kids0) = self._r0
            return (own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime) - (
                own0.ru_utime + own0.ru_stime + kids0.ru_utime + kids0.ru_stime
            )
        hz = os.sysconf("SC_CLK_TCK")
        ticks = sum(last - self._base.get(pid, 0) for pid, last in self._last.items())
        return max(0.0, ticks / hz - self._sampler_s)


@contextmanager
def measure(row: dict[str, Any], tree: bool = False) -> Iterator[dict[str, Any]]:
    """Fill row['wall_s'] and row['cpu_s'] (this process only, or the whole process tree)."""
    if tree:
        with TreeCpu() as cpu:
            w0 = time.perf_counter()
            yield row
            row["wall_s"] = time.perf_counter() - w0
        row["cpu_s"] = cpu.seconds()
        return
    c0, w0 = time.process_time(), time.perf_counter()
    yield row
    row["wall_s"] = time.perf_counter() - w0
    row["cpu_s"] = time.process_time() - c0


def row(key: str, label: str, group: str, docs: int, nbytes: int, **extra: Any) -> dict[str, Any]:
    return {"key": key, "label": label, "group": group, "docs": docs, "bytes": nbytes, **extra}


def wet_files(corpus: Path) -> list[str]:
    return sorted(str(p) for p in corpus.rglob("*.warc.wet.gz"))


def segments_of(paths: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path in paths:
        parts = Path(path).parts
        segment = parts[parts.index("segments") + 1] if "segments" in parts else "all"
        out.setdefault(segment, []).append(path)
    return dict(sorted(out.items()))


def warm_page_cache(paths: list[str]) -> None:
    for path in paths:
        with open(path, "rb") as fh:
            while fh.read(1 << 22):
                pass


# ---------------------------------------------------------------------------------------------
# the measurements (each runs in its own subprocess)


def measure_read(corpus: Path) -> list[dict[str, Any]]:
    from warcio.archiveiterator import ArchiveIterator

    from curate.helium.wet import WetDocument, read_wet

    paths = wet_files(corpus)
    warm_page_cache(paths)
    rows = []

    floor = row("floor_read", "warcio parse + UTF-8 decode (floor)", "read", 0, 0, cores=1)
    with measure(floor):
        docs = nbytes = 0
        for path in paths:
            with open(path, "rb") as fh:
                for record in ArchiveIterator(fh):
                    if record.rec_type == "conversion":
                        payload = record.content_stream().read()
                        payload.decode("utf-8", errors="replace")
                        docs += 1
                        nbytes += len(payload)
    floor.update(docs=docs, bytes=nbytes)
    rows.append(floor)

    curate = row("curate_read", "curate `read_wet`", "read", 0, 0, cores=1)
    with measure(curate):
        docs = nbytes = 0
        for path in paths:
            for item in read_wet(path):
                if isinstance(item, WetDocument):
                    docs += 1
                    nbytes += item.nbytes
    curate.update(docs=docs, bytes=nbytes)
    rows.append(curate)
    return rows


def measure_steps(corpus: Path) -> list[dict[str, Any]]:
    """Dedup and LID alone, on documents read beforehand (reading not timed)."""
    import numpy as np
    import xxhash

    from curate.core.fasttext_model import load_fasttext
    from curate.helium.dedup import LineDeduplicator, split_lines
    from curate.helium.normalize import normalize_strip
    from curate.helium.pipeline import estimate_shard_lines, to_document
    from curate.helium.steps.exact_dedup import ExactLineDedup
    from curate.helium.steps.language import LanguageFilter
    from curate.helium.wet import WetDocument, read_wet

    shards = segments_of(wet_files(corpus))
    texts: dict[str, list[WetDocument]] = {
        shard: [d for p in paths for d in read_wet(p) if isinstance(d, WetDocument)] for shard, paths in shards.items()
    }
    all_docs = [d for docs in texts.values() for d in docs]
    n_docs, n_bytes = len(all_docs), sum(d.nbytes for d in all_docs)
    rows = []

    h = row("floor_hash", "xxh3-128 of every stripped line (floor)", "dedup", n_docs, n_bytes, cores=1)
    with measure(h):
        digest = xxhash.xxh3_128_intdigest
        for d in all_docs:
            for line in d.text.split("\n"):
                digest(line.strip().encode("utf-8", "surrogatepass"))
    rows.append(h)

    dd = row("curate_dedup", "curate `LineDeduplicator` keep-first bloom", "dedup", n_docs, n_bytes, cores=1)
    removed = lines = 0
    with measure(dd):
        for shard, docs in texts.items():
            dedup = LineDeduplicator("keep-first", normalize_strip, "bloom", estimate_shard_lines(shards[shard]), 1e-3)
            for d in docs:
                doc_lines = split_lines(d.text)
                mask = dedup.removed_mask(doc_lines)
                lines += len(doc_lines)
                removed += int(np.count_nonzero(mask))
    dd.update(lines=lines, lines_removed=removed)
    rows.append(dd)

    step = row("curate_dedup_step", "curate `ExactLineDedup` step (rebuilds text)", "dedup", n_docs, n_bytes, cores=1)
    documents = {shard: [to_document(d, shard) for d in docs] for shard, docs in texts.items()}
    with measure(step):
        for shard, docs in documents.items():
            stage = ExactLineDedup("keep-first", "strip", "bloom", estimate_shard_lines(shards[shard]), 1e-3)
            for _ in stage.run(iter(docs)):
                pass
    rows.append(step)
    del documents

    model = load_fasttext(str(MODEL))
    fl = row("floor_lid", "fastText `predict` batched, k=1 (floor)", "lid", n_docs, n_bytes, cores=1)
    english = 0
    with measure(fl):
        for i in range(0, n_docs, LID_BATCH):
            batch = [d.text.replace("\n", " ") for d in all_docs[i : i + LID_BATCH]]
            labels, probs = model.predict(batch, k=1)
            english += sum(1 for lab, p in zip(labels, probs) if lab[0] == "__label__en" and p[0] >= 0.85)
    fl.update(english=english)
    rows.append(fl)

    docs = [to_document(d, shard) for shard, ds in texts.items() for d in ds]
    lid = row("curate_lid", "curate `LanguageFilter`", "lid", n_docs, n_bytes, cores=1)
    step_lid = LanguageFilter(["en"], 0.85, str(MODEL), LID_BATCH)
    with measure(lid):
        kept = sum(1 for d in step_lid.run(iter(docs)) if not d.metadata.get("drop_reason"))
    lid.update(english=kept)
    rows.append(lid)
    return rows


def start_local_ray(workers: int) -> None:
    """curate's `init_ray(None, workers)`, but always a fresh local instance: a plain `ray.init()`
    joins a cluster that someone started on this host with `ray start` (it then refuses
    `num_cpus`), which would also put other jobs' processes in the measurement."""
    import inspect
    import logging

    import ray

    from curate.core import ray_runtime

    source = inspect.getsource(ray_runtime.init_ray)
    if 'address="local"' in source or "address='local'" in source:
        ray_runtime.init_ray(None, workers)  # curate already forces a local instance
        return
    ray.init(
        address="local",
        num_cpus=workers,
        include_dashboard=False,
        logging_level=logging.WARNING,
        log_to_driver=True,
        runtime_env={"env_vars": {"PYTHONHASHSEED": "0"}},
        _node_ip_address="127.0.0.1",
    )


def measure_chain(corpus: Path, workers: int, exact_only: bool = False) -> list[dict[str, Any]]:
    """The default chain, or with `exact_only` the exact-dedup chain (`strip`, no near-duplicate rule):
    the same work as datatrove's closest chain, which has no near-duplicate stage."""
    from curate.core.ray_runtime import shutdown_ray
    from curate.helium.config import HeliumConfig
    from curate.helium.pipeline import run_helium

    name = "exact_chain" if exact_only else "chain"
    what = "exact-dedup chain (`--normalization strip --near-dup-spread 0`)" if exact_only else "default chain"
    config = HeliumConfig(normalization="strip", near_dup_spread=0) if exact_only else HeliumConfig()
    out = BUILD / "bench-out" / f"helium-{name}-w{workers}"
    shutil.rmtree(out, ignore_errors=True)
    warm_page_cache(wet_files(corpus))
    whole = row(f"curate_{name}_w{workers}", f"curate `run_helium`, {what}, workers={workers}", "chain", 0, 0)
    start = row(f"curate_{name}_ray_start_w{workers}", f"Ray start, workers={workers}", "chain-detail", 0, 0)
    run = row(
        f"curate_{name}_run_w{workers}", f"curate `run_helium` after Ray start, {what}, workers={workers}", "chain-detail", 0, 0
    )
    with measure(whole, tree=True):
        with measure(start, tree=True):
            start_local_ray(workers)
        with measure(run, tree=True):
            stats = run_helium([str(corpus)], out, config, workers=workers, resume=False)
    shutdown_ray()
    docs = stats["documents"]
    for r in (whole, run):
        r.update(
            docs=docs["in"],
            bytes=stats["bytes_in"],
            cores=round(r["cpu_s"] / r["wall_s"], 2),
            workers=workers,
            kept=docs["kept"],
            dropped=docs["dropped"],
            lines_in=stats["lines"]["in"],
            lines_removed=stats["lines"]["removed_exact"] + stats["lines"].get("removed_near_dup", 0),
        )
    start.update(cores=round(start["cpu_s"] / max(start["wall_s"], 1e-9), 2))
    shutil.rmtree(out, ignore_errors=True)
    return [whole, start, run]


def measure_datatrove(corpus: Path, model: Path) -> list[dict[str, Any]]:
    """Runs under build/venv-datatrove: datatrove 0.10.1's closest chain, one task, one worker."""
    import datatrove
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.sentence_dedup import (
        SentDedupConfig,
        SentenceDedupFilter,
        SentenceDedupSignature,
        SentenceFindDedups,
    )
    from datatrove.pipeline.filters import LanguageFilter
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import ParquetWriter
    from datatrove.utils.text import TextNormConfig
    from datatrove.utils.word_tokenizers import WordTokenizer

    class LinesOnly(WordTokenizer):
        """SentenceDedup* load a word tokenizer (spaCy for English) in __init__, but with
        split_sentences=False, min_doc_words=0 and min_num_sentences=0 they never call it; this
        stub avoids installing spaCy for nothing. Any call would mean the chain differs: fail."""

        def word_tokenize(self, text: str) -> list[str]:
            raise AssertionError("word tokenizer used")

        sent_tokenize = span_tokenize = word_tokenize

    work = BUILD / "bench-out" / "datatrove"
    shutil.rmtree(work, ignore_errors=True)
    paths = wet_files(corpus)
    warm_page_cache(paths)
    payload = 0  # the same byte count as curate: conversion payload (decoded and re-encoded by datatrove)
    off = TextNormConfig(
        lowercase=False, norm_whitespace=False, remove_punctuation=False, norm_unicode_diacritics=False, norm_numbers=False
    )
    config = SentDedupConfig(n_sentences=1, split_sentences=False, min_doc_words=0, min_num_sentences=0, norm_config=off)

    def reader() -> WarcReader:
        return WarcReader(str(corpus), glob_pattern="**/*.warc.wet.gz")

    # the same local lid.176.ftz, nothing downloaded: datatrove's FastTextLID asks this function
    # for the model file (then loads it itself, lazily, after the executor deep-copies the steps)
    import datatrove.utils.lid as dt_lid

    dt_lid.cached_asset_path_or_download = lambda *args, **kwargs: str(model)
    lid = LanguageFilter(languages=["en"], language_threshold=0.85)

    stages = {
        "datatrove_stage1": [
            reader(),
            SentenceDedupSignature(output_folder=str(work / "sigs"), config=config, finder_workers=1, language=LinesOnly("en")),
        ],
        "datatrove_stage2": [SentenceFindDedups(data_folder=str(work / "sigs"), output_folder=str(work / "dups"), config=config)],
        "datatrove_stage3": [
            reader(),
            SentenceDedupFilter(data_folder=str(work / "dups"), config=config, language=LinesOnly("en")),
            lid,
            ParquetWriter(str(work / "output"), compression="zstd"),
        ],
    }
    labels = {
        "datatrove_stage1": "datatrove stage 1: WarcReader + SentenceDedupSignature",
        "datatrove_stage2": "datatrove stage 2: SentenceFindDedups",
        "datatrove_stage3": "datatrove stage 3: WarcReader + SentenceDedupFilter + LanguageFilter + ParquetWriter",
    }
    rows = []
    whole = row(
        "datatrove_chain",
        f"datatrove {datatrove.__version__ if hasattr(datatrove, '__version__') else '0.10.1'} chain, 1 task",
        "chain",
        0,
        0,
    )
    stage_stats: dict[str, Any] = {}
    with measure(whole, tree=True):
        for key, pipeline in stages.items():
            r = row(key, labels[key], "datatrove-detail", 0, 0)
            executor = LocalPipelineExecutor(
                pipeline=pipeline, tasks=1, workers=1, logging_dir=str(work / "logs" / key), skip_completed=False
            )
            with measure(r, tree=True):
                stats = executor.run()
            stage_stats[key] = json.loads(stats.to_json()) if hasattr(stats, "to_json") else str(stats)
            rows.append(r)
    for path in paths:  # payload bytes and record count, outside the timing
        from warcio.archiveiterator import ArchiveIterator

        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "conversion":
                    payload += len(record.content_stream().read())
    total_docs = 0
    kept = 0
    for stage in stage_stats.get("datatrove_stage1", []):
        if isinstance(stage, dict) and "Warc" in stage.get("name", ""):
            total_docs = int(stage.get("stats", {}).get("documents", {}).get("total", 0) or 0)
    for stage in stage_stats.get("datatrove_stage3", []):
        if isinstance(stage, dict) and "Parquet" in stage.get("name", ""):
            kept = int(stage.get("stats", {}).get("total", 0) or 0)
    step_seconds = {
        f"{key}: {step.get('name', '?').split(': ', 1)[-1]}": round(step.get("time_stats", {}).get("total", 0.0), 2)
        for key, steps in stage_stats.items()
        if isinstance(steps, list)
        for step in steps
        if isinstance(step, dict)
    }
    whole.update(
        docs=total_docs,
        bytes=payload,
        cores=round(whole["cpu_s"] / whole["wall_s"], 2),
        kept=kept,
        step_wall_seconds=step_seconds,
        stage_stats=stage_stats,
    )
    for r in rows:
        r.update(docs=total_docs, bytes=payload, cores=round(r["cpu_s"] / max(r["wall_s"], 1e-9), 2))
    shutil.rmtree(work, ignore_errors=True)
    return [whole, *rows]


def measure_profile(corpus: Path, limit: int = 30) -> list[dict[str, Any]]:
    """cProfile of curate's chain without Ray: the reader core (read + dedup) and the processor
    core (LID + Parquet + ledger) in one process, exactly the code the actors run."""
    import cProfile
    import io
    import pstats

    from curate.helium.config import HeliumConfig
    from curate.helium.pipeline import PartProcessorCore, ShardReaderCore, plan_parts

    out = BUILD / "bench-out" / "profile"
    shutil.rmtree(out, ignore_errors=True)
    config = HeliumConfig()
    shards = plan_parts(wet_files(corpus), config.shard_by)
    profiler = cProfile.Profile()
    r = row(
        "curate_chain_noray",
        "curate chain without Ray (ShardReaderCore + PartProcessorCore, cProfile on)",
        "profile",
        0,
        0,
        cores=1,
    )
    docs = nbytes = 0
    with measure(r):
        profiler.enable()
        processor = PartProcessorCore(config, str(out))
        for shard, parts in shards.items():
            reader = ShardReaderCore(shard, parts, config, set())
            next_unit = getattr(reader, "next_chunk", None) or reader.next_part  # chunks, or whole parts
            while True:
                info, batch = next_unit()
                if info is None:
                    break
                if batch is None:
                    continue
                result = processor.process(batch)
                docs += result["documents_in"]
                nbytes += result["bytes_in"]
        profiler.disable()
    r.update(docs=docs, bytes=nbytes)
    rows = [r]
    for sort in ("tottime", "cumulative"):
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).strip_dirs().sort_stats(sort).print_stats(limit)
        rows.append({"key": f"profile_{sort}", "group": "profile-text", "text": buf.getvalue()})
    stats = pstats.Stats(profiler)
    top = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:limit]  # type: ignore[attr-defined]
    r["top_tottime"] = [
        {"function": f"{Path(f).name}:{line}:{fn}", "tottime_s": round(tt, 3), "cumtime_s": round(ct, 3), "calls": nc}
        for (f, line, fn), (cc, nc, tt, ct, _callers) in top
    ]
    shutil.rmtree(out, ignore_errors=True)
    return rows


# ---------------------------------------------------------------------------------------------
# orchestration


def ensure_datatrove_venv() -> Path:
    python = DT_VENV / "bin" / "python"
    stamp = DT_VENV / ".stamp-bench"
    if python.exists() and stamp.exists():
        return python
    print(f"bench: installing datatrove 0.10.1 into {DT_VENV} (once)", file=sys.stderr)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DT_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *DT_REQUIREMENTS], check=True)
    stamp.write_text(" ".join(DT_REQUIREMENTS) + "\n")
    return python


def run_measurement(
    python: str, measurement: str, corpus: Path, timeout: float, extra: list[str] | None = None
) -> list[dict[str, Any]]:
    out = BUILD / "bench-out" / f"{measurement}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    cmd = [
        python,
        str(Path(__file__).resolve()),
        "--measure",
        measurement,
        "--corpus",
        str(corpus),
        "--rows-out",
        str(out),
        *(extra or []),
    ]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("RAY_DISABLE_USAGE_STATS", "1")
    started = time.perf_counter()
    print(f"bench: {measurement} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, timeout=timeout, capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise RuntimeError(f"measurement {measurement} failed (rc {proc.returncode}):\n{tail}")
    print(f"bench: {measurement} done in {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    return json.loads(out.read_text())


def derive(r: dict[str, Any]) -> dict[str, Any]:
    if "wall_s" in r and r.get("bytes"):
        r["mb"] = r["bytes"] / MB
        r["mb_s"] = r["mb"] / r["wall_s"]
        r["docs_s"] = r["docs"] / r["wall_s"]
        r["mb_s_per_core"] = r["mb"] / r["cpu_s"] if r["cpu_s"] > 0 else None
        r["docs_s_per_core"] = r["docs"] / r["cpu_s"] if r["cpu_s"] > 0 else None
    return r


def summarize(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    s: dict[str, Any] = {}
    fr, fl, fh = rows.get("floor_read"), rows.get("floor_lid"), rows.get("floor_hash")
    if fr and fl:
        mb = fr["mb"]
        cpu = fr["cpu_s"] + fl["cpu_s"]
        wall = fr["wall_s"] + fl["wall_s"]
        s["floor_chain"] = {
            "label": "floor: warcio read + fastText predict",
            "mb": mb,
            "cpu_s": cpu,
            "wall_s": wall,
            "mb_s_per_core": mb / cpu,
        }
        if fh:
            cpu_h = cpu + fh["cpu_s"]
            s["floor_chain_with_hash"] = {"label": "floor + line hashing", "mb": mb, "cpu_s": cpu_h, "mb_s_per_core": mb / cpu_h}
    dt = rows.get("datatrove_chain")
    for name, key, workers in CHAINS:
        c = rows.get(f"curate_{key}_w{workers}")
        if not c:
            continue
        entry: dict[str, Any] = {"mb_s_per_core": c["mb_s_per_core"], "mb_s": c["mb_s"]}
        if dt and dt.get("mb_s_per_core"):
            entry["vs_datatrove_per_core"] = c["mb_s_per_core"] / dt["mb_s_per_core"]
            entry["vs_datatrove_wall"] = c["mb_s"] / dt["mb_s"]
        if "floor_chain" in s:
            entry["vs_floor_per_core"] = c["mb_s_per_core"] / s["floor_chain"]["mb_s_per_core"]
        run = rows.get(f"curate_{key}_run_w{workers}")
        if run:
            entry["excluding_ray_start"] = {"mb_s_per_core": run["mb_s_per_core"], "mb_s": run["mb_s"]}
            if dt:
                entry["excluding_ray_start"]["vs_datatrove_per_core"] = run["mb_s_per_core"] / dt["mb_s_per_core"]
            if "floor_chain" in s:
                entry["excluding_ray_start"]["vs_floor_per_core"] = run["mb_s_per_core"] / s["floor_chain"]["mb_s_per_core"]
        s[name] = entry
    # the targets compare like with like: datatrove's chain has exact line dedup and no near-duplicate stage
    w1 = s.get("curate_exact_w1", {})
    s["targets"] = {
        "vs_datatrove_per_core": {"target": TARGET_VS_DATATROVE, "measured": w1.get("vs_datatrove_per_core")},
        "vs_floor_per_core": {"target": TARGET_VS_FLOOR, "measured": w1.get("vs_floor_per_core")},
    }
    for t in s["targets"].values():
        t["met"] = None if t["measured"] is None else t["measured"] >= t["target"]
    return s


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def markdown(result: dict[str, Any]) -> str:
    rows = result["rows"]
    corpus = result["corpus"]
    lines = [
        f"Corpus: {corpus['payload_bytes'] / MB:,.1f} MB uncompressed payload ({corpus['gz_bytes'] / MB:,.1f} MB gzip), "
        f"{corpus['pages']:,} pages, {len(corpus['files'])} WET files in {len(corpus['segments'])} segments (seed {corpus['plan']['seed']}). "
        f"Machine: {result['machine']['cpus']} cores, {result['machine']['cpu_model']}; load average at start {result['machine']['loadavg_start']}.",
        "",
        "| stage | what | docs | MB | wall s | CPU s | cores used | MB/s | docs/s | MB/s per core | docs/s per core |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    order = ["read", "dedup", "lid", "chain", "chain-detail", "datatrove-detail", "profile"]
    for group in order:
        for r in rows:
            if r.get("group") != group or "wall_s" not in r:
                continue
            lines.append(
                f"| {group} | {r['label']} | {_fmt(r.get('docs'))} | {_fmt(r.get('mb'))} | {_fmt(r['wall_s'])} | {_fmt(r['cpu_s'])} | "
                f"{_fmt(r['cpu_s'] / r['wall_s'] if r['wall_s'] else None, 2)} | {_fmt(r.get('mb_s'))} | {_fmt(r.get('docs_s'), 0)} | "
                f"{_fmt(r.get('mb_s_per_core'))} | {_fmt(r.get('docs_s_per_core'), 0)} |"
            )
    s = result["summary"]
    if "floor_chain" in s:
        fc = s["floor_chain"]
        lines.append(
            f"| floor | {fc['label']} (sum of the two alone) | | {_fmt(fc['mb'])} | {_fmt(fc['wall_s'])} | {_fmt(fc['cpu_s'])} | 1.00 | | | {_fmt(fc['mb_s_per_core'])} | |"
        )
    lines.append("")
    for name, key, workers in CHAINS:
        e = s.get(name)
        if not e:
            continue
        what = "exact-dedup chain" if key == "exact_chain" else "default chain"
        parts = [f"curate {what}, workers={workers}: {e['mb_s_per_core']:.2f} MB/s per core ({e['mb_s']:.2f} MB/s wall)"]
        if "vs_datatrove_per_core" in e:
            parts.append(f"{e['vs_datatrove_per_core']:.2f}x datatrove per core (target >= {TARGET_VS_DATATROVE:g}x)")
        if "vs_floor_per_core" in e:
            parts.append(f"{100 * e['vs_floor_per_core']:.0f}% of the floor per core (target >= {100 * TARGET_VS_FLOOR:.0f}%)")
        ex = e.get("excluding_ray_start")
        if ex:
            extra = [f"{ex['mb_s_per_core']:.2f} MB/s per core"]
            if "vs_datatrove_per_core" in ex:
                extra.append(f"{ex['vs_datatrove_per_core']:.2f}x datatrove")
            if "vs_floor_per_core" in ex:
                extra.append(f"{100 * ex['vs_floor_per_core']:.0f}% of floor")
            parts.append("excluding Ray start: " + ", ".join(extra))
        lines.append("- " + "; ".join(parts) + ".")
    c1, dt = (
        next((r for r in rows if r["key"] == "curate_chain_w1"), None),
        next((r for r in rows if r["key"] == "datatrove_chain"), None),
    )
    if c1:
        lines.append(
            f"- curate kept {c1.get('kept', 0):,} of {c1['docs']:,} documents (dropped: {c1.get('dropped')}), removed {c1.get('lines_removed', 0):,} of {c1.get('lines_in', 0):,} lines."
        )
    if dt:
        lines.append(f"- datatrove read {dt['docs']:,} documents and kept {dt.get('kept', 0):,}.")
    return "\n".join(lines) + "\n"


def machine_info() -> dict[str, Any]:
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "loadavg_start": [round(x, 2) for x in load] if load else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Helium pipeline benchmark (issue 2, item 10)")
    parser.add_argument(
        "--size-mb",
        type=float,
        default=float(os.environ.get("BENCH_SIZE_MB", 200)),
        help="corpus size, uncompressed payload (default 200; env BENCH_SIZE_MB)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="an existing corpus directory (default: generate build/bench-corpus/<size>mb-s<seed>)",
    )
    parser.add_argument("--skip-datatrove", action="store_true", help="do not install or run the datatrove 0.10.1 comparison")
    parser.add_argument("--only", default="", help="comma-separated subset of: read,steps,exact1,chain1,chain2,datatrove,profile")
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile curate's chain (without Ray) and report the top functions"
    )
    parser.add_argument(
        "--serial", action="store_true", help="run every measurement alone (default: datatrove overlaps the single-core ones)"
    )
    parser.add_argument("--timeout", type=float, default=1200, help="per measurement, seconds")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--rows-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, default=MODEL, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.measure:  # child process: one measurement, rows as JSON
        functions = {
            "read": lambda: measure_read(args.corpus),
            "steps": lambda: measure_steps(args.corpus),
            "chain1": lambda: measure_chain(args.corpus, 1),
            "chain2": lambda: measure_chain(args.corpus, 2),
            "exact1": lambda: measure_chain(args.corpus, 1, exact_only=True),
            "datatrove": lambda: measure_datatrove(args.corpus, args.model),
            "profile": lambda: measure_profile(args.corpus),
        }
        rows = functions[args.measure]()
        args.rows_out.write_text(json.dumps(rows, indent=1, default=str))
        return 0

    sys.path.insert(0, str(REPO_ROOT))
    from bench.corpus import generate

    if not MODEL.exists():
        raise SystemExit(f"{MODEL} is missing: run `make models` first")
    machine = machine_info()
    if args.corpus:
        corpus_dir = args.corpus
        manifest = json.loads((corpus_dir / "manifest.json").read_text())
    else:
        corpus_dir = BUILD / "bench-corpus" / f"{args.size_mb:g}mb-s{args.seed}"
        print(f"bench: corpus {corpus_dir} ({args.size_mb:g} MB)", file=sys.stderr, flush=True)
        manifest = generate(corpus_dir, args.size_mb, args.seed, quiet=True)
    selected = [
        m for m in (args.only.split(",") if args.only else ["read", "steps", "exact1", "chain1", "chain2", "datatrove"]) if m
    ]
    if args.profile and "profile" not in selected:
        selected.append("profile")
    if args.skip_datatrove and "datatrove" in selected:
        selected.remove("datatrove")

    failures: dict[str, str] = {}

    def run(measurement: str) -> list[dict[str, Any]]:
        try:
            python = str(ensure_datatrove_venv()) if measurement == "datatrove" else sys.executable
            return run_measurement(python, measurement, corpus_dir, args.timeout, ["--model", str(MODEL)])
        except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
            if measurement != "datatrove":
                raise
            # the comparison needs a second venv and libmagic: report its absence, keep curate's figures
            print(f"bench: datatrove comparison failed: {exc}", file=sys.stderr, flush=True)
            failures[measurement] = str(exc)[-2000:]
            return []

    # Single-core measurements (read, steps, profile) overlap with the single-core datatrove run
    # unless --serial: per-core figures come from CPU time, so they do not depend on it, and the
    # whole benchmark fits in ~10 minutes on 2 cores. The chains (Ray, all cores) run alone.
    single = [m for m in selected if m in ("read", "steps", "profile")]
    rows: list[dict[str, Any]] = []
    if "datatrove" in selected and single and not args.serial:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:
            dt_future = pool.submit(run, "datatrove")
            for measurement in single:
                rows.extend(run(measurement))
            rows.extend(dt_future.result())
        remaining = [m for m in selected if m not in single and m != "datatrove"]
    else:
        remaining = selected
    for measurement in remaining:
        rows.extend(run(measurement))
    rows = [derive(r) for r in rows]
    by_key = {r["key"]: r for r in rows}
    result = {
        "benchmark": "helium",
        "command": f"make bench  (or: .venv/bin/python -m bench.bench_helium --size-mb {args.size_mb:g})",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine,
        "corpus": {**manifest, "dir": str(corpus_dir)},
        "rows": [r for r in rows if r.get("group") != "profile-text"],
        "summary": summarize(by_key),
        "failures": failures,
    }
    table = markdown(result)
    result["markdown"] = table
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "helium.json").write_text(json.dumps(result, indent=1, default=str))
    (RESULTS / "helium.md").write_text(table)
    print(table)
    for name, why in failures.items():
        print(f"**{name} failed** (see bench/results/helium.json): {why.splitlines()[0] if why else ''}")
    for r in rows:
        if r.get("group") == "profile-text":
            print(f"### {r['key']}\n```\n{r['text']}\n```")
            (RESULTS / f"helium-{r['key']}.txt").write_text(r["text"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
