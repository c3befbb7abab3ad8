"""`curate shards`: alignment records -> moshi-finetune layout and Parquet training shards, on Ray.

Work is split into *parts*: consecutive groups of `files_per_part` alignment files in sorted order.
A part writes its moshi files and its shard files `shards/part-<part>-<k>.parquet` (each closed once
its audio passes `--shard-size`), then its commit record in the ledger. Parts depend only on their
inputs, so the outputs are byte-identical whatever the worker count; resume skips committed parts;
`stats.json`, `errors.jsonl` and `moshi/manifest.jsonl` are rebuilt from commit records in sorted order.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.align.records import BadAlignment
from curate.core import storage
from curate.core.issues import Issue
from curate.core.ledger import Ledger, count_issues, finish_run, remove_uncommitted_outputs, start_run, sum_counters
from curate.core.runner import FileStage, Resources, run_items
from curate.core.storage import atomic_path, write_bytes_atomic
from curate.shards.build import (
    MOSHI_DIR,
    ShardsConfig,
    WordTokenizer,
    load_streams,
    parse_record,
    pcm16,
    shard_schema,
    window_rows,
    write_moshi_files,
)

SHARDS_DIR = "shards"
ALIGNMENTS_DIR = "alignments"
_NOT_ALIGNMENTS = {"stats.json", "manifest.json"}


def find_alignments(inputs: list[str]) -> list[str]:
    """Alignment JSON files from files, globs or folders (a stage output folder: its `alignments/`),
    local or fsspec URLs (s3://bucket/run/ reads its alignments/)."""
    found: set[str] = set()
    for item in inputs:
        if storage.is_remote(item):
            base = item.rstrip("/")
            nested = storage.list_files(storage.join(base, ALIGNMENTS_DIR), ".json")
            if nested:
                found.update(storage.join(base, ALIGNMENTS_DIR, n) for n in nested)
            else:
                names = storage.find_files(item, (".json",))
                found.update(
                    n
                    for n in names
                    if not storage.name_of(n).startswith((".", "_")) and storage.name_of(n) not in _NOT_ALIGNMENTS
                )
            continue
        path = Path(item)
        if path.is_dir():
            folder = path / ALIGNMENTS_DIR if (path / ALIGNMENTS_DIR).is_dir() else path
            found.update(
                str(p) for p in folder.glob("*.json") if not p.name.startswith((".", "_")) and p.name not in _NOT_ALIGNMENTS
            )
        elif any(ch in item for ch in "*?["):
            found.update(str(Path(p)) for p in glob.glob(item, recursive=True) if Path(p).is_file())
        elif path.is_file():
            found.add(str(path))
        else:
            raise FileNotFoundError(f"input not found: {item}")
    return sorted(found, key=lambda s: Path(s).parts)  # the order of sorted Paths, also for URLs


def plan_parts(files: list[str], files_per_part: int) -> dict[str, list[str]]:
    return {
        f"{k // files_per_part:05d}": [str(p) for p in files[k : k + files_per_part]]
        for k in range(0, len(files), files_per_part)
    }


class ShardWriter:
    """Rolling Parquet writer: `part-<part>-<k>.parquet`, each renamed into place (atomic) when closed."""

    def __init__(self, folder: str | Path, part: str, schema: pa.Schema, max_bytes: int, rows_per_group: int) -> None:
        self.folder, self.part, self.schema = folder, part, schema
        self.max_bytes, self.rows_per_group = max_bytes, rows_per_group
        self.names: list[str] = []
        self._rows: list[dict[str, Any]] = []
        self._writer: pq.ParquetWriter | None = None
        self._stack: contextlib.ExitStack | None = None
        self._bytes = 0

    def _open(self) -> None:
        name = f"part-{self.part}-{len(self.names):03d}.parquet"
        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(atomic_path(storage.join(self.folder, name)))
        self._writer = pq.ParquetWriter(
            tmp, self.schema, compression="zstd", use_dictionary=["id", "source", "language", "quality"]
        )
        self.names.append(name)
        self._bytes = 0

    def _flush(self) -> None:
        if not self._rows:
            return
        if self._writer is None:
            self._open()
        columns = {name: [r.get(name) for r in self._rows] for name in self.schema.names}
        self._writer.write_table(pa.table(columns, schema=self.schema))  # type: ignore[union-attr]
        self._bytes += sum(len(r["audio"]["bytes"]) for r in self._rows)
        self._rows = []
        if self._bytes >= self.max_bytes:
            self._close_file()

    def _close_file(self) -> None:
        if self._writer is not None and self._stack is not None:
            self._writer.close()
            self._stack.close()  # fsync + rename into place
        self._writer, self._stack = None, None

    def add(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        if len(self._rows) >= self.rows_per_group:
            self._flush()

    def close(self) -> list[str]:
        self._flush()
        self._close_file()
        return self.names

    def abort(self) -> None:
        if self._writer is not None and self._stack is not None:
            self._writer.close()
            self._stack.__exit__(RuntimeError, RuntimeError("aborted"), None)  # removes the temporary file
        self._writer, self._stack = None, None


_STAT_KEYS = (
    "files_in", "files_ok", "audio_seconds", "words_main", "words_other", "words_degenerate", "windows", "windows_padded",
    "frames", "pad_frames", "epad_frames", "zero_frames", "audio_bytes", "windows_dropped_overlap",
)  # fmt: skip


_WINDOW_KEYS = (
    "windows", "windows_padded", "frames", "pad_frames", "epad_frames", "zero_frames", "audio_bytes", "windows_dropped_overlap",
)  # fmt: skip


@dataclass(frozen=True)
class ShardPart:
    """One unit of work: a few alignment files whose windows go to the same shard files."""

    name: str
    files: list[str]


class PartBuilder:
    """The shards stage's worker (one per actor)."""

    def __init__(self, config: ShardsConfig, output_dir: str, storage_opts: dict[str, Any] | None = None) -> None:
        if storage_opts is not None:
            storage.set_storage_options(storage_opts)
        self.config = config
        self.output_dir = output_dir

    def process(self, item: ShardPart, prepared: None = None) -> dict[str, Any]:
        return process_part(item.name, item.files, self.output_dir, self.config)


def process_part(part: str, files: list[str], output_dir: str, config: ShardsConfig) -> dict[str, Any]:
    """Build the outputs of one part, then commit it. Bad items become issues; the part always completes."""
    out = storage.join(output_dir)
    started = time.perf_counter()
    for stale in storage.list_files(storage.join(out, SHARDS_DIR), ".parquet"):  # files of a killed, uncommitted run
        if stale.startswith(f"part-{part}-"):
            storage.remove(storage.join(out, SHARDS_DIR, stale))
    stats: dict[str, Any] = {key: 0 for key in _STAT_KEYS}
    issues: list[dict[str, Any]] = []
    manifest: list[dict[str, Any]] = []
    tokenizer = WordTokenizer(config.tokenizer) if "parquet" in config.formats and config.tokenizer else None
    mimi = None
    if "parquet" in config.formats and config.mimi_weights:
        from curate.shards.mimi import MimiEncoder

        mimi = MimiEncoder.load(config.mimi_weights, config.mimi_device)
    writer = ShardWriter(
        storage.join(out, SHARDS_DIR),
        part,
        shard_schema(with_codes=mimi is not None, sample_rate=config.sample_rate),
        int(config.shard_size_mb * 2**20),
        config.rows_per_group,
    )
    try:
        for path in files:
            stats["files_in"] += 1
            try:
                raw = json.loads(storage.read_text(path))
                item_id, words = parse_record(raw, Path(storage.name_of(path)).stem)
            except (OSError, UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError and BadAlignment are ValueErrors
                kind = "bad_alignment" if isinstance(exc, (BadAlignment, json.JSONDecodeError)) else "read_error"
                issues.append(Issue(source=path, kind=kind, reason=f"{type(exc).__name__}: {exc}").to_dict())
                continue
            try:
                samples = pcm16(load_streams(raw, config.sample_rate))
                if samples.shape[1] == 0:
                    raise ValueError("no audio samples")
            except Exception as exc:  # noqa: BLE001 - any audio failure is this item's error, not the run's
                issues.append(Issue(source=path, kind="decode_error", reason=f"{type(exc).__name__}: {exc}").to_dict())
                continue
            try:  # everything of this file is computed before anything is written: a failure leaves no partial rows
                file_stats = {key: 0 for key in _WINDOW_KEYS}
                rows = window_rows(item_id, raw, words, samples, config, tokenizer, file_stats) if tokenizer is not None else []
                for row in rows:
                    pcm = row.pop("_pcm")
                    if mimi is not None:
                        row["codes"] = mimi.encode(pcm, config.sample_rate).tolist()
            except Exception as exc:  # noqa: BLE001 - e.g. a tokenizer or Mimi failure on this item
                issues.append(Issue(source=path, kind="build_error", reason=f"{type(exc).__name__}: {exc}").to_dict())
                continue
            if "moshi" in config.formats:
                manifest.append(write_moshi_files(out, item_id, samples, config.sample_rate, words))
            for row in rows:
                writer.add(row)
            for key, value in file_stats.items():
                stats[key] += value
            main = [w for w in words if w.speaker == config.main_speaker]
            stats["files_ok"] += 1
            stats["audio_seconds"] += samples.shape[1] / config.sample_rate
            stats["words_main"] += len(main)
            stats["words_other"] += len(words) - len(main)
            stats["words_degenerate"] += sum(1 for w in main if w.start >= w.end)
        shards = writer.close()
    except BaseException:
        writer.abort()
        raise
    record = {
        "part": part,
        "inputs": files,
        "manifest": manifest,
        "shards": shards,
        "stats": stats,
        "issues": issues,
        "seconds": round(time.perf_counter() - started, 3),
    }
    Ledger(out).commit(part, record)
    return {"part": part, "files": len(files), "issues": len(issues)}


def run_shards(
    inputs: list[str],
    output_dir: str | Path,
    config: ShardsConfig,
    address: str | None = None,
    workers: int | None = None,
    resume: bool = True,
    use_ray: bool = True,
    extra_stats: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the stage; returns the stats also written to `DIR/stats.json`."""
    config.validate()
    out = storage.join(output_dir)
    storage.check_bucket(out)
    files = find_alignments(inputs)
    parts = plan_parts(files, config.files_per_part)
    ledger = start_run(out, config.to_dict(), resume, outputs=(MOSHI_DIR, SHARDS_DIR))
    # a committed part is reused only if it was built from the same inputs
    committed = ledger.committed()
    todo = {p: f for p, f in parts.items() if not (p in committed and ledger.load(p).get("inputs") == f)}
    started = time.perf_counter()
    failures: list[str] = []
    items = [ShardPart(name, files) for name, files in sorted(todo.items())]
    if items and use_ray:
        import ray

        from curate.core.ray_runtime import init_ray

        init_ray(address, workers)
        gpus = 1 if config.mimi_weights and ray.cluster_resources().get("GPU", 0) >= 1 else 0
        stage = FileStage(
            worker_cls=PartBuilder,
            worker_args=(config, str(out), storage.storage_options()),
            actors=max(1, int(ray.cluster_resources().get("CPU", 1))) if not gpus else 1,
            resources=Resources(num_cpus=1, num_gpus=gpus),
            in_flight_per_actor=1,
        )
        failures = run_items(items, stage)
    else:
        builder = PartBuilder(config, str(out))
        for item in items:
            builder.process(item, None)
    return finalize(
        out,
        sorted(parts),
        config,
        parts_run=len(todo),
        seconds=time.perf_counter() - started,
        extra_stats=extra_stats,
        failures=failures,
    )


def _shard_part(name: str) -> str | None:
    """`part-<part>-<k>.parquet` -> `<part>` (None for a file of another naming)."""
    fields = name.split("-")
    return fields[1] if len(fields) == 3 and fields[0] == "part" else None


def finalize(
    out: str | Path,
    part_names: list[str],
    config: ShardsConfig,
    parts_run: int,
    seconds: float,
    extra_stats: dict[str, Any] | None = None,
    failures: list[str] | None = None,
) -> dict[str, Any]:
    # run finish: shard files of parts that were written but never committed (a worker died between)
    remove_uncommitted_outputs(out, [(SHARDS_DIR, ".parquet", _shard_part)])
    ledger = Ledger(out)
    committed = ledger.committed()
    records = [ledger.load(p) for p in part_names if p in committed]
    missing = [p for p in part_names if p not in committed]
    if "moshi" in config.formats:
        lines = sorted((m for r in records for m in r["manifest"]), key=lambda m: m["path"])
        text = "".join(json.dumps(m, sort_keys=True) + "\n" for m in lines)
        write_bytes_atomic(storage.join(out, MOSHI_DIR, "manifest.jsonl"), text.encode())
    totals = sum_counters(r["stats"] for r in records)
    issues = [i for r in records for i in r["issues"]]
    totals.update(count_issues(issues))
    frames = totals.get("frames", 0)
    totals["pad_share"] = round(totals.get("pad_frames", 0) / frames, 6) if frames else None
    totals["shards"] = [s for r in records for s in r["shards"]]
    totals["parts"] = len(records)
    totals["reconciled"] = not missing and totals.get("files_in", 0) == totals.get("files_ok", 0) + totals["errors"]
    totals["config"] = config.to_dict()
    if extra_stats:
        totals.update(extra_stats)
    totals["audio_seconds"] = round(totals.get("audio_seconds", 0.0), 6)
    # run-specific facts (parts redone, time) stay out of stats.json: it is byte-identical across resumes
    run_info = {"elapsed_s": round(seconds, 3), "parts_run": parts_run, "failures": failures or []}
    finish_run(out, "shards", totals, records, run_info, failures or [])
    return {**totals, "parts_run": parts_run, "seconds": round(seconds, 3)}


def run_inner_monologue(
    inputs: list[str],
    output_dir: str | Path,
    align_options: dict[str, Any],
    config: ShardsConfig,
    address: str | None = None,
    workers: int | None = None,
    resume: bool = True,
) -> dict[str, Any]:
    """Audio -> `DIR/align` (the align stage, its own ledger and stats) -> shards in DIR. Both stages resume."""
    from curate.align.pipeline import AlignConfig, run_align
    from curate.core.config import build_config

    config.validate()
    out = storage.join(output_dir)
    align_config = build_config(AlignConfig, align_options, "the align stage")
    align_stats = run_align(inputs, storage.join(out, "align"), align_config, address=address, workers=workers, resume=resume)
    stats = run_shards([str(storage.join(out, "align", ALIGNMENTS_DIR))], out, config, address=address, workers=workers, resume=resume,
                       extra_stats={"align_stats": "align/stats.json"})  # fmt: skip
    stats["align"] = {k: v for k, v in align_stats.items() if not isinstance(v, (dict, list))}
    return stats


def shard_paths(output_dir: str | Path) -> list[str]:
    """The shard files of a finished run, in their deterministic order."""
    folder = storage.join(output_dir, SHARDS_DIR)
    return [str(storage.join(folder, n)) for n in storage.list_files(folder, ".parquet") if n.startswith("part-")]


def default_workers() -> int:
    return os.cpu_count() or 1
