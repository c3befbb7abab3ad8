"""The Helium text pipeline on Ray: WET files -> exact line dedup -> [fuzzy dedup] -> language ID
-> [quality] -> Parquet, deterministic, resumable and accounted for.

Work is split in *parts*, one per input WET file. Placement:

- one `ShardReader` actor per shard reads its files in order and runs exact line dedup (stateful,
  so strictly sequential within a shard; shards run in parallel). It hands out one chunk (about
  `chunk_bytes` of payload) at a time (`next_chunk`), and the driver only pulls the next one once
  the previous was handed to a processor: that backpressure bounds memory to a few chunks in
  flight per worker, whatever the size of the input;
- a pool of `PartProcessor` actors (one per worker, models loaded once per actor) runs the model
  steps; all chunks of a part go to the same processor, which streams them into the part's Parquet
  file(s) and, after the last chunk, renames them into place and writes the part's commit record
  (see `ledger.py`).

A resumed run re-reads the shard to rebuild dedup state (cheap: hashing runs at hundreds of MB/s)
but skips the model steps and writes of finished parts. Every output of a part depends only on
the shard's content and the config, never on which actor ran it or when: identical bytes for 1 or
N workers.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import ray
import xxhash
from datatrove.data import Document
from datatrove.utils.stats import Stats

from curate.core import storage
from curate.core.inputs import CC_PREFIX, WET_SUFFIXES, expand_inputs, group_into_shards, printable_path
from curate.core.issues import Issue
from curate.core.ledger import Ledger, count_issues, finish_run, reconciles, remove_uncommitted_outputs, start_run, sum_counters
from curate.core.ray_runtime import init_ray
from curate.helium.config import HeliumConfig
from curate.helium.minhash_stage import MINHASH_DIR, Layout, PartSignatures, params_of, run_minhash_stage
from curate.helium.minhash_stage import summary as minhash_summary
from curate.helium.parquet import ParquetStream, build_schema
from curate.helium.steps.base import DROP_REASON, DocumentStep, drop, is_dropped
from curate.helium.steps.exact_dedup import ExactLineDedup
from curate.helium.steps.language import LanguageFilter
from curate.helium.warc import WARC_COLUMNS, record_handlers
from curate.helium.wet import WetDocument, read_records

BYTES_PER_LINE_ESTIMATE = 48  # CommonCrawl WET lines average ~45-60 bytes; errs towards a larger filter
GZIP_RATIO_ESTIMATE = 3.5
# A shard that needs an observe pass (drop-all, the near-duplicate spread rule) keeps the records the
# observe pass parsed, up to this many bytes of text per group of files (whole parts, in order; the rest
# is read and parsed again in the second pass). Outputs are the same either way; memory is the bound.
RECORD_CACHE_BYTES = 64 << 20
_RECORD_OVERHEAD = 1024  # per record: the WetDocument, its id / url / date strings


@dataclass(frozen=True)
class Part:
    name: str
    source: str
    shard: str


@dataclass
class Chunk:
    """A slice of one part's documents (after exact dedup), the unit moved between actors."""

    part: Part
    index: int
    last: bool
    docs: list[Document] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    bytes_in: int = 0


@dataclass(frozen=True)
class ChunkInfo:
    """The reader's answer to `next_chunk`: which chunk of which part, or that the shard is done,
    or that a part was skipped (already committed: read only to rebuild the dedup state)."""

    part: str = ""
    index: int = -1
    last: bool = True
    shard_done: bool = False
    skipped: bool = False


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
            Part(_stem(p) if stems[_stem(p)] == 1 else f"{_stem(p)}-{xxhash.xxh64_hexdigest(printable_path(p))[:8]}", p, shard)
            for p in files
        ]
        for shard, files in shards.items()
    }


def estimate_shard_lines(paths: list[str]) -> int:
    total = 0.0
    for path in paths:
        try:
            size = storage.size(path)
        except Exception:
            size = 0
        total += size * (GZIP_RATIO_ESTIMATE if path.endswith(".gz") else 1.0)
    return max(100_000, int(total / BYTES_PER_LINE_ESTIMATE))


def to_document(wet: WetDocument, shard: str) -> Document:
    doc = Document(
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
            "extractor": wet.extractor,
            "http_status": wet.http_status,
            "content_type": wet.content_type,
        },
    )
    if wet.drop_reason:
        drop(doc, wet.drop_reason)
    return doc


_END: Any = object()


class ShardReaderCore:
    """Reads one shard's parts in order through exact line dedup, in chunks of about
    `chunk_bytes` of payload (plain class; the actor wraps it)."""

    def __init__(
        self, shard: str, parts: list[Part], config: HeliumConfig, done: set[str], storage_opts: dict[str, Any] | None = None
    ) -> None:
        if storage_opts is not None:  # credentials / endpoint of the driver (--storage-option, YAML)
            storage.set_storage_options(storage_opts)
        expected = config.bloom_expected_lines or estimate_shard_lines([p.source for p in parts])
        self.dedup = ExactLineDedup(
            config.dedup, config.normalization, config.dedup_mode, expected, config.bloom_fp_rate, config.near_dup_spread
        )
        self.shard = shard
        self.parts = parts
        self.done = done
        self.chunk_bytes = config.chunk_bytes
        self.record_cache_bytes = RECORD_CACHE_BYTES
        self.near_dup_files = config.near_dup_files if config.near_dup_spread else 0
        self.handlers = record_handlers(config.input_format, config.extractor)
        self._chunks = self._generate()

    def _groups(self) -> list[list[Part]]:
        """The shard's parts in the groups the near-duplicate counts cover (one group: the whole shard)."""
        n = self.near_dup_files
        if n <= 0 or n >= len(self.parts):
            return [self.parts]
        return [self.parts[i : i + n] for i in range(0, len(self.parts), n)]

    def _observe(
        self, parts: list[Part], exact: bool = True, near_dup: bool = True, keep: bool = True
    ) -> dict[str, list[WetDocument | Issue]]:
        """The observe pass over `parts`. Returns the records it read, per part, for the parts that fit
        in `record_cache_bytes` (parts in order, all or nothing per part): the second pass takes them
        from memory instead of reading and parsing the files again."""
        cached: dict[str, list[WetDocument | Issue]] = {}
        budget = self.record_cache_bytes if keep else 0
        for part in parts:
            items: list[WetDocument | Issue] | None = [] if budget > 0 else None
            for item in read_records(part.source, printable_path(part.source), self.handlers):
                if isinstance(item, WetDocument):
                    if not item.drop_reason:
                        self.dedup.observe(item.text, item.url, exact=exact, near_dup=near_dup)
                    budget -= sys.getsizeof(item.text) + _RECORD_OVERHEAD
                if items is not None:
                    items.append(item)
                    if budget < 0:
                        items = None  # this part and the next ones are read again
            if items is not None:
                cached[part.name] = items
        return cached

    def _generate(self) -> Iterator[Chunk | None]:
        groups = self._groups()
        # drop-all's counts always cover the whole shard: with several near-duplicate groups, count them first
        exact_first = len(groups) > 1 and self.dedup.dedup.needs_observe_pass
        if exact_first:
            self._observe(self.parts, near_dup=False, keep=False)
        for index, group in enumerate(groups):
            if index:
                self.dedup.reset_near_dup()
            cached = self._observe(group, exact=not exact_first) if self.dedup.needs_observe_pass else {}
            yield from self._process(group, cached)

    def _process(self, parts: list[Part], cached: dict[str, list[WetDocument | Issue]]) -> Iterator[Chunk | None]:
        for part in parts:
            skip = part.name in self.done
            chunk = Chunk(part, 0, False)
            records = cached.pop(part.name, None)
            if records is None:
                records = read_records(part.source, printable_path(part.source), self.handlers)  # type: ignore[assignment]
            for item in records:
                if isinstance(item, Issue):
                    chunk.issues.append(item.to_dict())
                    continue
                doc = to_document(item, self.shard)
                if not is_dropped(doc):  # always: later parts' dedup state depends on this one
                    self.dedup.process(doc)
                if not skip:
                    chunk.docs.append(doc)
                    chunk.bytes_in += item.nbytes
                    if chunk.bytes_in >= self.chunk_bytes:
                        yield chunk
                        chunk = Chunk(part, chunk.index + 1, False)
            chunk.last = True
            yield None if skip else chunk

    def next_chunk(self) -> tuple[ChunkInfo, Chunk | None]:
        """What comes next and the chunk itself (None when there is nothing to process). The info is
        a separate, tiny return value so the driver learns it without pulling the chunk's documents."""
        chunk = next(self._chunks, _END)
        if chunk is _END:
            return ChunkInfo(shard_done=True), None
        if chunk is None:
            return ChunkInfo(skipped=True), None
        return ChunkInfo(chunk.part.name, chunk.index, chunk.last), chunk


def build_model_steps(config: HeliumConfig) -> list[DocumentStep]:
    steps: list[DocumentStep] = []
    if config.fuzzy:
        from curate.helium.steps.classifiers import FuzzyLineDedup

        steps.append(FuzzyLineDedup(config.dedup_model, config.fuzzy_threshold, config.min_block))
    if config.lid:
        steps.append(
            LanguageFilter(config.languages, config.lid_threshold, config.lid_model, config.batch_size, config.lid_thresholds)
        )
    default_language = config.languages[0] if config.languages and config.languages[0] != "all" else "en"
    if config.gopher_repetition:
        from curate.helium.steps.heuristic_filters import GopherRepetitionFilter

        steps.append(GopherRepetitionFilter(config.gopher_repetition_rule, default_language, config.batch_size))
    if config.gopher_quality:
        from curate.helium.steps.heuristic_filters import GopherQualityFilter

        steps.append(
            GopherQualityFilter(config.gopher_quality_rule, config.gopher_stop_words, default_language, config.batch_size)
        )
    if config.c4_lines:
        from curate.helium.steps.heuristic_filters import C4LineFilter

        steps.append(C4LineFilter(config.c4_lines_rule, default_language, config.batch_size))
    if config.quality and config.quality_models:
        from curate.helium.steps.quality_per_language import PerLanguageQualityFilter

        steps.append(
            PerLanguageQualityFilter(
                config.quality_models,
                config.quality_model,
                config.quality_threshold,
                config.quality_min,
                config.quality_max,
                config.batch_size,
            )
        )
    elif config.quality:
        from curate.helium.steps.classifiers import QualityFilter

        steps.append(QualityFilter(config.quality_model, config.quality_threshold, config.quality_min, config.quality_max))
    if config.minhash:
        from curate.helium.steps.minhash import MinhashSignature

        steps.append(MinhashSignature(params_of(config), config.batch_size))
    return steps


def count_lines(text: str) -> int:
    return sum(1 for line in text.split("\n") if line.strip())


class PartProcessorCore:
    """Runs the model steps on the chunks of one part at a time, streams them into the part's
    Parquet file(s), and on the last chunk renames them into place and commits the part."""

    def __init__(self, config: HeliumConfig, output_dir: str, storage_opts: dict[str, Any] | None = None) -> None:
        if storage_opts is not None:
            storage.set_storage_options(storage_opts)
        self.config = config
        self.output_dir = storage.join(output_dir)
        # MinHash on: parts go to a staging folder, the MinHash stage writes the final ones (local folders only)
        self.data_dir = Layout(Path(self.output_dir)).staged if config.minhash else self.output_dir
        self.signatures: PartSignatures | None = None
        self.steps = build_model_steps(config)
        warc_columns = [WARC_COLUMNS] if config.input_format != "wet" else []
        step_columns = [*warc_columns, ExactLineDedup.columns, *(type(s).columns for s in self.steps)]
        self.schema = build_schema(step_columns)
        self.rejected_schema = build_schema(step_columns, rejected=True)
        self.ledger = Ledger(output_dir)
        self.current: PartWriter | None = None

    def process(self, chunk: Chunk) -> dict[str, Any]:
        if chunk.index == 0:
            if self.current is not None:
                self.current.abort()
            self.signatures = PartSignatures(params_of(self.config)) if self.config.minhash else None
            self.current = PartWriter(
                chunk.part,
                self.data_dir,
                self.schema,
                self.rejected_schema if self.config.keep_rejected else None,
                self.config.compression,
            )
        elif self.current is None or self.current.part != chunk.part or self.current.next_index != chunk.index:
            # this actor restarted mid-part (its open files are gone): fail the part; a re-run redoes it
            raise RuntimeError(f"part {chunk.part.name}: chunk {chunk.index} arrived without its predecessors")
        docs: Any = iter(chunk.docs)
        for step in self.steps:
            docs = step.run(docs)
        writer = self.current
        docs = list(docs)
        if self.signatures is not None:
            self.signatures.add(docs)
        writer.add(docs, chunk)
        if not chunk.last:
            return self._result(chunk)
        record = writer.finish()
        if self.signatures is not None:
            self.signatures.write(Layout(self.output_dir).signatures(chunk.part.name))
        self.ledger.commit(chunk.part.name, record)
        self.current = None
        return self._result(chunk)

    def _take_step_stats(self) -> dict[str, dict[str, Any]]:
        """The steps' own counters and timings (datatrove `stat_update` / `track_time`) since the last call."""
        out = {}
        for step in self.steps:
            out[step.stage] = step.stats.to_dict()
            step.stats = Stats(str(step))
        return out

    def _result(self, chunk: Chunk) -> dict[str, Any]:
        return {
            "part": chunk.part.name,
            "chunk": chunk.index,
            "last": chunk.last,
            "bytes_in": chunk.bytes_in,
            "documents_in": len(chunk.docs),
            "steps": self._take_step_stats(),
            "pid": os.getpid(),
            "node": ray.get_runtime_context().get_node_id() if ray.is_initialized() else "",
        }


class PartWriter:
    """The open output files and counters of one part."""

    def __init__(
        self, part: Part, output_dir: str | Path, schema: pa.Schema, rejected_schema: pa.Schema | None, compression: str
    ) -> None:
        self.part = part
        self.next_index = 0
        self.kept = ParquetStream(storage.join(output_dir, "documents", f"{part.name}.parquet"), schema, compression)
        self.rejected = (
            ParquetStream(storage.join(output_dir, "rejected", f"{part.name}.parquet"), rejected_schema, compression)
            if rejected_schema
            else None
        )
        self.counts: dict[str, Any] = {"in": 0, "kept": 0, "dropped": Counter()}
        self.lines = Counter({"in": 0, "removed_exact": 0, "removed_near_dup": 0, "removed_fuzzy": 0, "kept_nonblank": 0})
        self.bytes_in = self.bytes_kept = self.invalid_utf8 = 0
        self.issues: list[dict[str, Any]] = []

    def add(self, docs: list[Document], chunk: Chunk) -> None:
        kept = [d for d in docs if not d.metadata.get(DROP_REASON)]
        rejected = [d for d in docs if d.metadata.get(DROP_REASON)]
        self.kept.write(kept)
        if self.rejected is not None:
            self.rejected.write(rejected)
        self.counts["in"] += len(docs)
        self.counts["kept"] += len(kept)
        self.counts["dropped"].update(d.metadata[DROP_REASON] for d in rejected)
        for d in docs:
            self.lines["in"] += d.metadata.get("lines_in", 0)
            self.lines["removed_exact"] += d.metadata.get("lines_removed_exact", 0)
            self.lines["removed_near_dup"] += d.metadata.get("lines_removed_near_dup", 0)
            self.lines["removed_fuzzy"] += d.metadata.get("lines_removed_fuzzy", 0)
            self.invalid_utf8 += bool(d.metadata.get("invalid_utf8"))
        for d in kept:
            self.lines["kept_nonblank"] += count_lines(d.text)
            self.bytes_kept += len(d.text.encode("utf-8", "surrogatepass"))
        self.bytes_in += chunk.bytes_in
        self.issues.extend(chunk.issues)
        self.next_index = chunk.index + 1

    def finish(self) -> dict[str, Any]:
        self.kept.close()
        if self.rejected is not None:
            self.rejected.close()
        issue_counts = count_issues(self.issues)
        return {
            "part": self.part.name,
            "source": printable_path(self.part.source),
            "shard": self.part.shard,
            "documents": {
                "in": self.counts["in"] + issue_counts["errors"],
                "kept": self.counts["kept"],
                "dropped": dict(sorted(self.counts["dropped"].items())),
                "errors": issue_counts["errors"],
            },
            "errors_by_kind": issue_counts["errors_by_kind"],
            "lines": dict(self.lines),
            "bytes_in": self.bytes_in,
            "bytes_kept": self.bytes_kept,
            "invalid_utf8_documents": self.invalid_utf8,
            "warnings": sum(1 for i in self.issues if i.get("severity") == "warning"),
            "issues": self.issues,
        }

    def abort(self) -> None:
        self.kept.abort()
        if self.rejected is not None:
            self.rejected.abort()


@ray.remote(num_cpus=0, max_restarts=0)
class ShardReader(ShardReaderCore):
    @ray.method(num_returns=2)
    def next_chunk(self):  # type: ignore[override]
        return super().next_chunk()


@ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=0)  # the scheduler replays lost parts
class PartProcessor(PartProcessorCore):
    pass


def aggregate(output_dir: str | Path, parts: list[Part], config: HeliumConfig) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's stats from the commit records of `parts` (sorted order), and those records."""
    ledger = Ledger(output_dir)
    wanted = {p.name for p in parts}
    final = Layout(output_dir).final if config.minhash else ledger  # MinHash rewrites every part's record
    records = [(name, rec) for name, rec in final.records() if name in wanted]
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
    stats["reconciled"] = not missing and reconciles(stats["documents"]) and all(reconciles(r["documents"]) for _, r in records)
    stats["config"] = config.to_dict()
    if config.minhash:
        stats["minhash"] = minhash_summary(output_dir)
    return stats, [r for _, r in records]


ProgressCallback = Callable[[str, dict[str, Any]], None]


def run_helium(
    inputs: list[str],
    output_dir: str | Path,
    config: HeliumConfig,
    address: str | None = None,
    workers: int | None = None,
    resume: bool = True,
    on_progress: ProgressCallback | None = None,
    input_base: str | None = None,
) -> dict[str, Any]:
    """Run the pipeline; returns the stats (also in DIR/stats.json). Raises if counts do not reconcile.

    `output_dir` and the inputs may be local paths or fsspec URLs (s3://...); `input_base` resolves
    the relative entries of `*.paths(.gz)` lists (default: CommonCrawl's public HTTPS base)."""
    config.validate()
    output_dir = storage.join(output_dir)
    if config.minhash and storage.is_remote(output_dir):
        raise ValueError("MinHash document dedup (--minhash) writes to a local or shared folder only, not to an object store URL")
    storage.check_bucket(output_dir)
    paths = expand_inputs(inputs, paths_prefix=input_base or CC_PREFIX)
    if not paths:
        raise FileNotFoundError(f"no WET files found in {inputs}")
    shards = plan_parts(paths, config.shard_by)
    all_parts = [p for parts in shards.values() for p in parts]
    ledger = start_run(output_dir, config.to_dict(), resume, outputs=("documents", "rejected", MINHASH_DIR))
    if config.lid and not config.lid_model:
        from curate.core.models import bundled_model_path

        bundled_model_path("lid.176.ftz")  # fail now, with a clear message, not inside a worker

    committed = ledger.committed()
    done = {p.name for p in all_parts if p.name in committed}
    todo = {shard: parts for shard, parts in shards.items() if any(p.name not in done for p in parts)}
    started = time.monotonic()
    failures: dict[str, str] = {}
    step_stats: dict[str, Any] = {}
    if on_progress:
        on_progress("start", {"parts": len(all_parts), "done": len(done), "shards": len(shards)})
    if todo:
        workers = workers or os.cpu_count() or 1
        init_ray(address, workers)
        scheduler = _Scheduler(todo, config, output_dir, done, workers, on_progress)
        failures = scheduler.run()
        step_stats = {stage: stats.to_dict() for stage, stats in scheduler.step_stats.items()}
    if config.minhash:
        storage.clean_temporaries(output_dir)  # left by workers that died mid-write; their parts were redone
    else:  # also outputs written but never committed (object stores: nothing is renamed, they are visible)
        remove_uncommitted_outputs(output_dir, [("documents", ".parquet", None), ("rejected", ".parquet", None)])
    if config.minhash and not failures:  # crosses shards: runs once every part is processed
        init_ray(address, workers or os.cpu_count() or 1)
        run_minhash_stage(output_dir, [p.name for p in all_parts], config)
    stats, records = aggregate(output_dir, all_parts, config)
    run_info = {
        "elapsed_s": round(time.monotonic() - started, 3),
        "workers": workers,
        "address": address or os.environ.get("RAY_ADDRESS"),
        "failures": failures,
        "steps": step_stats,  # the steps' stat_update / track_time of the parts run now (timings vary by run)
    }
    return finish_run(output_dir, "helium", stats, records, run_info, failures)


@dataclass
class _PartState:
    part: str
    shard: str
    chunks: list[Any] = field(default_factory=list)  # refs kept until the part commits, to replay it
    received_last: bool = False
    submitted: int = 0
    processor: int | None = None
    attempt: int = 0


@dataclass
class _ReaderState:
    shard: str
    actor: Any
    restarts: int = 0
    pending: Any = None  # (ChunkInfo ref, chunk ref) of the outstanding next_chunk call
    holding: str | None = None  # part whose latest chunk is not yet handed to a processor


class _Scheduler:
    """Pulls chunks from shard readers, pushes them to processors (a part sticks to one processor),
    and recovers from lost workers.

    Backpressure: a reader is asked for its next chunk only once its previous chunk was handed to a
    processor, and a processor holds at most two chunks in flight.

    Fault tolerance: the chunk refs of a part are kept until the part commits, so when a processor
    dies (Ray restarts it) the part is replayed from its first chunk on a live processor. When a
    reader dies (its node was lost), its shard restarts from its first file: dedup state is rebuilt
    and every part not yet committed is redone. Results of abandoned attempts are ignored; a part
    written twice gets identical bytes, so nothing is duplicated.
    """

    MAX_ATTEMPTS = 3

    def __init__(
        self,
        shards: dict[str, list[Part]],
        config: HeliumConfig,
        output_dir: str | Path,
        done: set[str],
        workers: int,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.shards = shards
        self.config = config
        self.output_dir = output_dir
        self.ledger = Ledger(output_dir)
        self.done = set(done)
        self.on_progress = on_progress
        self.processors = [PartProcessor.remote(config, str(output_dir), storage.storage_options()) for _ in range(workers)]
        self.assigned: dict[int, str | None] = {i: None for i in range(workers)}
        self.in_flight: Counter[int] = Counter()
        self.waiting = list(shards)
        self.readers: dict[str, _ReaderState] = {}
        self.parts: dict[str, _PartState] = {}
        self.work: dict[Any, tuple[int, str, int, int, bool]] = {}  # ref -> (processor, part, attempt, index, last)
        self.failures: dict[str, str] = {}
        self.step_stats: dict[str, Stats] = {}  # this run's per-step counters and timings (run.json)
        self.max_readers = max(1, min(workers, len(shards)))

    # readers
    def _start_reader(self, shard: str, restarts: int = 0) -> None:
        committed = {p.name for p in self.shards[shard] if p.name in self.done or self.ledger.is_done(p.name)}
        actor = ShardReader.remote(shard, self.shards[shard], self.config, committed, storage.storage_options())
        self.readers[shard] = _ReaderState(shard, actor, restarts)
        self._request(self.readers[shard])

    def _request(self, reader: _ReaderState) -> None:
        reader.pending = reader.actor.next_chunk.remote()
        reader.holding = None

    def _reader_died(self, reader: _ReaderState, exc: Exception) -> None:
        for name in [n for n, st in self.parts.items() if st.shard == reader.shard]:
            self._abandon(name)
        if reader.restarts >= self.MAX_ATTEMPTS:
            for part in self.shards[reader.shard]:
                if not self.ledger.is_done(part.name):
                    self.failures[part.name] = f"shard reader lost {reader.restarts + 1} times: {type(exc).__name__}: {exc}"[:500]
            del self.readers[reader.shard]
            return
        self._start_reader(reader.shard, reader.restarts + 1)

    def _abandon(self, name: str) -> None:
        state = self.parts.pop(name)
        if state.processor is not None and self.assigned[state.processor] == name:
            self.assigned[state.processor] = None

    # processors
    def _processor_for(self, state: _PartState) -> int | None:
        if state.processor is not None and self.assigned.get(state.processor) == state.part:
            return state.processor if self.in_flight[state.processor] < 2 else None
        for proc, owner in self.assigned.items():
            if owner is None and self.in_flight[proc] == 0:
                self.assigned[proc] = state.part
                state.processor = proc
                return proc
        return None

    def _dispatch(self) -> None:
        for state in list(self.parts.values()):
            while state.submitted < len(state.chunks):
                proc = self._processor_for(state)
                if proc is None:
                    break
                index = state.submitted
                last = state.received_last and index == len(state.chunks) - 1
                ref = self.processors[proc].process.remote(state.chunks[index])
                self.work[ref] = (proc, state.part, state.attempt, index, last)
                self.in_flight[proc] += 1
                state.submitted += 1
                reader = self.readers.get(state.shard)
                if reader is not None and reader.holding == state.part and state.submitted == len(state.chunks):
                    self._request(reader)

    def _work_done(self, ref: Any) -> None:
        proc, name, attempt, index, last = self.work.pop(ref)
        self.in_flight[proc] -= 1
        state = self.parts.get(name)
        try:
            result = ray.get(ref)
        except Exception as exc:  # the processor died or raised: replay the part elsewhere
            if state is None or state.attempt != attempt:
                return
            if self.assigned.get(proc) == name:
                self.assigned[proc] = None
            state.attempt += 1
            state.submitted = 0
            state.processor = None
            if state.attempt >= self.MAX_ATTEMPTS:
                self.failures[name] = f"{type(exc).__name__}: {str(exc)[:500]}"
                self._abandon(name)
            return
        if state is None or state.attempt != attempt:
            return  # an abandoned attempt finished anyway; its output equals the redo's
        for stage, stats in result.get("steps", {}).items():
            merged = Stats.from_dict(stats)
            self.step_stats[stage] = self.step_stats[stage] + merged if stage in self.step_stats else merged
        if self.on_progress:
            self.on_progress("done" if last else "chunk", result)
        if last:
            self.done.add(name)
            self._abandon(name)

    def _reader_answered(self, reader: _ReaderState) -> None:
        info_ref, chunk_ref = reader.pending
        reader.pending = None
        try:
            info = ray.get(info_ref)
        except Exception as exc:
            self._reader_died(reader, exc)
            return
        if info.shard_done:
            ray.kill(reader.actor)
            del self.readers[reader.shard]
            return
        name, index, last = info.part, info.index, info.last
        if info.skipped:
            if self.on_progress:
                self.on_progress("skipped", {})
            self._request(reader)
            return
        if name in self.failures:
            self._request(reader)
            return
        state = self.parts.setdefault(name, _PartState(name, reader.shard))
        if index == 0:
            state.chunks.clear()
        state.chunks.append(chunk_ref)
        state.received_last = last
        reader.holding = name

    def run(self) -> dict[str, str]:
        while self.waiting or self.readers or self.work or any(st.submitted < len(st.chunks) for st in self.parts.values()):
            while self.waiting and len(self.readers) < self.max_readers:
                self._start_reader(self.waiting.pop(0))
            self._dispatch()
            by_ref = {r.pending[0]: r for r in self.readers.values() if r.pending is not None}
            refs = list(by_ref) + list(self.work)
            if not refs:
                break
            (ref,), _ = ray.wait(refs, num_returns=1)
            if ref in by_ref:
                self._reader_answered(by_ref[ref])
            else:
                self._work_done(ref)
        for actor in self.processors:  # idle now: free the CPUs they hold (later stages, e.g. MinHash, need them)
            ray.kill(actor)
        return self.failures
