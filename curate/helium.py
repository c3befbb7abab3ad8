"""The Helium text pipeline on Ray: WET files -> exact line dedup -> [fuzzy dedup] -> language ID
-> [quality] -> Parquet, deterministic, resumable and accounted for.

Work is split in *parts*, one per input WET file. Placement:

- one `ShardReader` actor per shard reads its files in order and runs exact line dedup (stateful,
  so strictly sequential within a shard; shards run in parallel). It hands out one part at a time
  (`next_part`), so the driver only pulls data when a processor is free: that is the backpressure
  which bounds memory to ~(processors + readers) parts in flight;
- a pool of `PartProcessor` actors (one per worker, models loaded once per actor) runs the
  model steps on a part and writes its Parquet file(s), then its commit record (see `ledger.py`).

A resumed run re-reads the shard to rebuild dedup state (cheap: hashing runs at hundreds of MB/s)
but skips the model steps and writes of finished parts. Every output of a part depends only on
the shard's content and the config, never on which actor ran it or when: identical bytes for 1 or
N workers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import fsspec
import ray
import xxhash
from datatrove.data import Document

from curate.config import HeliumConfig
from curate.io.atomic import clean_temporaries, write_json_atomic
from curate.io.inputs import WET_SUFFIXES, expand_inputs, group_into_shards
from curate.io.parquet import build_schema, documents_table, write_table_atomic
from curate.io.wet import WetDocument, read_wet
from curate.ledger import Ledger, count_issues, sum_counters
from curate.ray_runtime import init_ray
from curate.records import Issue
from curate.steps.base import DROP_REASON, DocumentStep
from curate.steps.exact_dedup import ExactLineDedup
from curate.steps.language import LanguageFilter

BYTES_PER_LINE_ESTIMATE = 48  # CommonCrawl WET lines average ~45-60 bytes; errs towards a larger filter
GZIP_RATIO_ESTIMATE = 3.5


class ReconciliationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Part:
    name: str
    source: str
    shard: str


@dataclass
class PartBatch:
    part: Part
    docs: list[Document] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    bytes_in: int = 0


def _stem(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    for suffix in WET_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "input"


def plan_parts(paths: list[str], shard_by: str) -> dict[str, list[Part]]:
    """Shards of parts; part names are safe file names, unique, derived from the input paths only."""
    stems = Counter(_stem(p) for p in paths)
    shards = group_into_shards(paths, shard_by)
    return {
        shard: [
            Part(_stem(p) if stems[_stem(p)] == 1 else f"{_stem(p)}-{xxhash.xxh64_hexdigest(p)[:8]}", p, shard)
            for p in files
        ]
        for shard, files in shards.items()
    }


def estimate_shard_lines(paths: list[str]) -> int:
    total = 0.0
    for path in paths:
        try:
            size = fsspec.filesystem(fsspec.utils.get_protocol(path)).size(path) or 0
        except Exception:
            size = 0
        total += size * (GZIP_RATIO_ESTIMATE if path.endswith(".gz") else 1.0)
    return max(100_000, int(total / BYTES_PER_LINE_ESTIMATE))


def to_document(wet: WetDocument, shard: str) -> Document:
    return Document(
        text=wet.text,
        id=wet.id,
        metadata={
            "url": wet.url,
            "date": wet.date,
            "source": wet.source,
            "record_index": wet.record_index,
            "shard": shard,
            "warc_language": wet.warc_language,
            "invalid_utf8": wet.invalid_utf8,
        },
    )


class ShardReaderCore:
    """Reads one shard's parts in order through exact line dedup (plain class; the actor wraps it)."""

    def __init__(self, shard: str, parts: list[Part], config: HeliumConfig, done: set[str]) -> None:
        expected = config.bloom_expected_lines or estimate_shard_lines([p.source for p in parts])
        self.dedup = ExactLineDedup(config.dedup, config.normalization, config.dedup_mode, expected, config.bloom_fp_rate)
        self.shard = shard
        self.parts = parts
        self.done = done
        self._iter = self._batches()

    def _read(self, part: Part) -> PartBatch:
        batch = PartBatch(part)
        for item in read_wet(part.source):
            if isinstance(item, Issue):
                batch.issues.append(item.to_dict())
            else:
                batch.bytes_in += item.nbytes
                batch.docs.append(to_document(item, self.shard))
        return batch

    def _batches(self):
        if self.dedup.needs_observe_pass:
            for part in self.parts:
                for item in read_wet(part.source):
                    if isinstance(item, WetDocument):
                        self.dedup.observe(item.text)
        for part in self.parts:
            batch = self._read(part)
            batch.docs = list(self.dedup.run(iter(batch.docs)))
            yield None if part.name in self.done else batch

    def next_part(self) -> tuple[str | None, PartBatch | None]:
        """(name of the part read, its batch or None when already done); (None, None) at the end."""
        index = getattr(self, "_index", 0)
        if index >= len(self.parts):
            return None, None
        self._index = index + 1
        return self.parts[index].name, next(self._iter)


def build_model_steps(config: HeliumConfig) -> list[DocumentStep]:
    steps: list[DocumentStep] = []
    if config.fuzzy:
        from curate.steps.classifiers import FuzzyLineDedup

        steps.append(FuzzyLineDedup(config.dedup_model, config.fuzzy_threshold, config.min_block))
    if config.lid:
        steps.append(LanguageFilter(config.languages, config.lid_threshold, config.lid_model, config.batch_size))
    if config.quality:
        from curate.steps.classifiers import QualityFilter

        steps.append(QualityFilter(config.quality_model, config.quality_threshold, config.quality_min, config.quality_max))
    return steps


def count_lines(text: str) -> int:
    return sum(1 for line in text.split("\n") if line.strip())


class PartProcessorCore:
    """Runs the model steps on one part, writes its outputs, then commits it (plain class)."""

    def __init__(self, config: HeliumConfig, output_dir: str) -> None:
        self.config = config
        self.output_dir = Path(output_dir)
        self.steps = build_model_steps(config)
        step_columns = [ExactLineDedup.columns, *(type(s).columns for s in self.steps)]
        self.schema = build_schema(step_columns)
        self.rejected_schema = build_schema(step_columns, rejected=True)
        self.ledger = Ledger(output_dir)

    def process(self, batch: PartBatch) -> dict[str, Any]:
        docs: Any = iter(batch.docs)
        for step in self.steps:
            docs = step.run(docs)
        docs = list(docs)
        kept = [d for d in docs if not d.metadata.get(DROP_REASON)]
        rejected = [d for d in docs if d.metadata.get(DROP_REASON)]
        part = batch.part
        write_table_atomic(documents_table(kept, self.schema), self.output_dir / "documents" / f"{part.name}.parquet", self.config.compression)
        if self.config.keep_rejected:
            write_table_atomic(
                documents_table(rejected, self.rejected_schema), self.output_dir / "rejected" / f"{part.name}.parquet", self.config.compression
            )
        issue_counts = count_issues(batch.issues)
        record = {
            "part": part.name,
            "source": part.source,
            "shard": part.shard,
            "documents": {
                "in": len(docs) + issue_counts["errors"],
                "kept": len(kept),
                "dropped": dict(sorted(Counter(d.metadata[DROP_REASON] for d in rejected).items())),
                "errors": issue_counts["errors"],
            },
            "errors_by_kind": issue_counts["errors_by_kind"],
            "lines": {
                "in": sum(d.metadata.get("lines_in", 0) for d in docs),
                "removed_exact": sum(d.metadata.get("lines_removed_exact", 0) for d in docs),
                "removed_fuzzy": sum(d.metadata.get("lines_removed_fuzzy", 0) for d in docs),
                "kept_nonblank": sum(count_lines(d.text) for d in kept),
            },
            "bytes_in": batch.bytes_in,
            "bytes_kept": sum(len(d.text.encode("utf-8", "surrogatepass")) for d in kept),
            "invalid_utf8_documents": sum(1 for d in docs if d.metadata.get("invalid_utf8")),
            "warnings": sum(1 for i in batch.issues if i.get("severity") == "warning"),
            "issues": batch.issues,
        }
        self.ledger.commit(part.name, record)
        return {"part": part.name, "documents_in": record["documents"]["in"], "bytes_in": batch.bytes_in}


@ray.remote(num_cpus=0)
class ShardReader(ShardReaderCore):
    @ray.method(num_returns=2)
    def next_part(self):  # type: ignore[override]
        return super().next_part()


@ray.remote(num_cpus=1, max_restarts=2, max_task_retries=2)
class PartProcessor(PartProcessorCore):
    pass


def reconcile(documents: dict[str, Any]) -> bool:
    return documents.get("in", 0) == documents.get("kept", 0) + sum(documents.get("dropped", {}).values()) + documents.get("errors", 0)


def aggregate(output_dir: Path, parts: list[Part], config: HeliumConfig) -> dict[str, Any]:
    ledger = Ledger(output_dir)
    wanted = {p.name for p in parts}
    records = [(name, rec) for name, rec in ledger.records() if name in wanted]
    missing = sorted(wanted - {name for name, _ in records})
    per_shard: dict[str, list[dict[str, Any]]] = {}
    for _, rec in records:
        per_shard.setdefault(rec["shard"], []).append(rec)

    def summarize(recs: list[dict[str, Any]]) -> dict[str, Any]:
        total = sum_counters({k: v for k, v in r.items() if k != "issues"} for r in recs)
        total["files"] = len(recs)
        total.setdefault("documents", {}).setdefault("dropped", {})
        total["documents"]["dropped"] = dict(sorted(total["documents"]["dropped"].items()))
        return total

    stats = summarize([r for _, r in records])
    stats["shards"] = {shard: summarize(recs) for shard, recs in sorted(per_shard.items())}
    stats["missing_parts"] = missing
    stats["reconciled"] = not missing and reconcile(stats["documents"]) and all(reconcile(r["documents"]) for _, r in records)
    stats["config"] = config.to_dict()
    n_errors = ledger.write_errors([r for _, r in records])
    stats["issues_written"] = n_errors
    write_json_atomic(output_dir / "stats.json", stats)
    return stats


def _check_run_config(output_dir: Path, config: HeliumConfig, resume: bool) -> None:
    path = output_dir / "run_config.json"
    current = config.to_dict()
    if resume and path.exists():
        previous = json.loads(path.read_text())
        if previous != current:
            changed = sorted(k for k in set(previous) | set(current) if previous.get(k) != current.get(k))
            raise ValueError(
                f"{output_dir} holds a run with another configuration (differs in: {', '.join(changed)}). "
                "Use --no-resume to start over, or another --output."
            )
    write_json_atomic(path, current)


def _start_fresh(output_dir: Path) -> None:
    Ledger(output_dir).reset()
    for sub in ("documents", "rejected"):
        shutil.rmtree(output_dir / sub, ignore_errors=True)
    for name in ("stats.json", "errors.jsonl"):
        (output_dir / name).unlink(missing_ok=True)


ProgressCallback = Callable[[str, dict[str, Any]], None]


def run_helium(
    inputs: list[str],
    output_dir: str | Path,
    config: HeliumConfig,
    address: str | None = None,
    workers: int | None = None,
    resume: bool = True,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Run the pipeline; returns the stats (also in DIR/stats.json). Raises if counts do not reconcile."""
    config.validate()
    output_dir = Path(output_dir)
    paths = expand_inputs(inputs)
    if not paths:
        raise FileNotFoundError(f"no WET files found in {inputs}")
    shards = plan_parts(paths, config.shard_by)
    all_parts = [p for parts in shards.values() for p in parts]
    output_dir.mkdir(parents=True, exist_ok=True)
    clean_temporaries(output_dir)
    if not resume:
        _start_fresh(output_dir)
    _check_run_config(output_dir, config, resume)
    if config.lid and not config.lid_model:
        from curate.models import bundled_model_path

        bundled_model_path("lid.176.ftz")  # fail now, with a clear message, not inside a worker

    ledger = Ledger(output_dir)
    done = {p.name for p in all_parts if ledger.is_done(p.name)}
    todo = {shard: parts for shard, parts in shards.items() if any(p.name not in done for p in parts)}
    started = time.monotonic()
    failures: dict[str, str] = {}
    if on_progress:
        on_progress("start", {"parts": len(all_parts), "done": len(done), "shards": len(shards)})
    if todo:
        workers = workers or os.cpu_count() or 1
        init_ray(address, workers)
        failures = _drive(todo, config, output_dir, done, workers, on_progress)
    stats = aggregate(output_dir, all_parts, config)
    elapsed = time.monotonic() - started
    write_json_atomic(
        output_dir / "run.json",
        {"elapsed_s": round(elapsed, 3), "workers": workers, "address": address or os.environ.get("RAY_ADDRESS"), "failures": failures},
    )
    if failures:
        raise RuntimeError(f"{len(failures)} part(s) failed (re-run the same command to retry them): " + "; ".join(f"{k}: {v}" for k, v in sorted(failures.items())))
    if not stats["reconciled"]:
        raise ReconciliationError(f"counts do not reconcile, see {output_dir / 'stats.json'}")
    return stats


def _drive(
    shards: dict[str, list[Part]],
    config: HeliumConfig,
    output_dir: Path,
    done: set[str],
    workers: int,
    on_progress: ProgressCallback | None,
) -> dict[str, str]:
    processors = [PartProcessor.remote(config, str(output_dir)) for _ in range(workers)]
    idle = list(range(len(processors)))
    waiting_shards = list(shards.items())
    readers: dict[int, Any] = {}
    pending_reads: dict[Any, tuple[int, Any]] = {}  # info ref -> (reader id, batch ref)
    ready_batches: list[tuple[Any, int, str]] = []  # (batch ref, reader id, part name)
    pending_work: dict[Any, tuple[int, str]] = {}  # result ref -> (processor index, part name)
    failures: dict[str, str] = {}
    next_reader_id = 0
    max_readers = max(1, min(workers, len(shards)))

    def request(reader_id: int) -> None:
        info_ref, batch_ref = readers[reader_id].next_part.remote()
        pending_reads[info_ref] = (reader_id, batch_ref)

    while waiting_shards or readers or pending_work or ready_batches:
        while waiting_shards and len(readers) < max_readers:
            shard, parts = waiting_shards.pop(0)
            readers[next_reader_id] = ShardReader.remote(shard, parts, config, done)
            request(next_reader_id)
            next_reader_id += 1
        while ready_batches and idle:
            batch_ref, reader_id, name = ready_batches.pop(0)
            proc = idle.pop(0)
            pending_work[processors[proc].process.remote(batch_ref)] = (proc, name)
            if reader_id in readers:
                request(reader_id)
        refs = list(pending_reads) + list(pending_work)
        if not refs:
            continue
        ready, _ = ray.wait(refs, num_returns=1)
        ref = ready[0]
        if ref in pending_reads:
            reader_id, batch_ref = pending_reads.pop(ref)
            name = ray.get(ref)
            if name is None:
                ray.kill(readers.pop(reader_id))
            elif name in done:
                if on_progress:
                    on_progress("skipped", {"part": name})
                request(reader_id)
            else:
                ready_batches.append((batch_ref, reader_id, name))
        else:
            proc, name = pending_work.pop(ref)
            idle.append(proc)
            try:
                result = ray.get(ref)
                if on_progress:
                    on_progress("done", result)
            except Exception as exc:  # a bug or a lost worker: report, keep going, resume retries it
                failures[name] = f"{type(exc).__name__}: {str(exc)[:500]}"
    return failures


def write_summary_text(stats: dict[str, Any]) -> str:
    docs, lines = stats["documents"], stats["lines"]
    out = [
        f"files: {stats['files']}  shards: {len(stats['shards'])}",
        f"documents: in {docs['in']:,}  kept {docs['kept']:,}  errors {docs['errors']:,}",
    ]
    for reason, n in docs["dropped"].items():
        out.append(f"  dropped {reason}: {n:,}")
    out.append(
        f"lines: in {lines['in']:,}  removed exact {lines['removed_exact']:,}  removed fuzzy {lines.get('removed_fuzzy', 0):,}"
    )
    out.append(f"bytes: in {stats['bytes_in']:,}  kept {stats['bytes_kept']:,}")
    out.append(f"reconciled: {stats['reconciled']}")
    return "\n".join(out)

