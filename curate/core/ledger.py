"""Run ledger: per-part commit records that make runs resumable and stats exact.

A pipeline splits its work into *parts* (one input WET file, one audio file). When a part is done,
its outputs are renamed into place first, then its commit record `DIR/_parts/<part>.json` (stats
and issues of that part) is written atomically. So:

- a part is done iff its commit record exists -> resume skips it, redoes everything else;
- stats and errors are aggregated only from commit records, in sorted part order -> every part is
  counted exactly once, and `stats.json` / `errors.jsonl` are byte-identical whatever the number
  of workers or the order in which parts finished.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from curate.core import storage
from curate.core.storage import json_bytes, write_bytes_atomic, write_json_atomic

PARTS_DIR = "_parts"


def _add_nested(total: dict[str, Any], part: Mapping[str, Any]) -> None:
    for key, value in part.items():
        if isinstance(value, Mapping):
            _add_nested(total.setdefault(key, {}), value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            total[key] = total.get(key, 0) + value


def sum_counters(items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Add nested dicts of numbers key by key (non-numeric leaves are ignored)."""
    total: dict[str, Any] = {}
    for item in items:
        _add_nested(total, item)
    return total


class ReconciliationError(RuntimeError):
    """The counts of a run do not add up: nothing may be presented as done."""


def reconciles(counts: Mapping[str, Any]) -> bool:
    """`in == kept + sum(dropped by reason) + errors` for one counter group (documents, files)."""
    return counts.get("in", 0) == counts.get("kept", 0) + sum(counts.get("dropped", {}).values()) + counts.get("errors", 0)


class Ledger:
    """Commit records of one output folder (a local path or an fsspec URL such as s3://bucket/run)."""

    def __init__(self, output_dir: str | Path) -> None:
        self.output_dir: Any = storage.join(output_dir)
        self.parts_dir: Any = storage.join(output_dir, PARTS_DIR)

    def record_path(self, part: str) -> Any:
        return storage.join(self.parts_dir, f"{part}.json")

    def check_run_config(self, config: Mapping[str, Any], resume: bool) -> None:
        """Refuse to resume a folder written with another configuration; record this one."""
        path = storage.join(self.output_dir, "run_config.json")
        current = json.loads(json.dumps(dict(config)))  # as it will read back (tuples -> lists)
        if resume and storage.exists(path):
            previous = json.loads(storage.read_text(path))
            if previous != current:
                changed = sorted(k for k in set(previous) | set(current) if previous.get(k) != current.get(k))
                raise ValueError(
                    f"{self.output_dir} holds a run with another configuration (differs in: {', '.join(changed)}). "
                    "Use --no-resume to start over, or another --output."
                )
        write_json_atomic(path, current)

    def is_done(self, part: str) -> bool:
        return storage.exists(self.record_path(part))

    def committed(self) -> set[str]:
        """Names of all committed parts (one listing, also on object stores)."""
        return {name[: -len(".json")] for name in storage.list_files(self.parts_dir, ".json")}

    def commit(self, part: str, record: Mapping[str, Any]) -> None:
        """Write the commit record of `part`. Call only after its outputs are in place."""
        write_json_atomic(self.record_path(part), dict(record))

    def load(self, part: str) -> dict[str, Any]:
        return json.loads(storage.read_text(self.record_path(part)))

    def records(self) -> list[tuple[str, dict[str, Any]]]:
        names = [n[: -len(".json")] for n in storage.list_files(self.parts_dir, ".json")]  # sorted by file name
        return [(name, self.load(name)) for name in names]

    def reset(self) -> None:
        for name in storage.list_files(self.parts_dir, ".json"):
            storage.remove(storage.join(self.parts_dir, name))

    def write_errors(self, records: Iterable[Mapping[str, Any]], name: str = "errors.jsonl") -> int:
        lines = [json_bytes(issue, sort_keys=True) + b"\n" for rec in records for issue in rec.get("issues", [])]
        write_bytes_atomic(storage.join(self.output_dir, name), b"".join(lines))
        return len(lines)


def count_issues(issues: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    errors = Counter(i["kind"] for i in issues if i.get("severity", "error") == "error")
    return {"errors": sum(errors.values()), "errors_by_kind": dict(sorted(errors.items()))}


def start_run(output_dir: str | Path, config: Mapping[str, Any], resume: bool, outputs: Iterable[str] = ()) -> Ledger:
    """Open a run folder (a local path or a URL such as s3://bucket/run) the same way for every
    stage: check that its bucket exists and may be listed, remove what a killed run left
    half-written (local temporaries), start over when asked (`outputs`: the stage's output folders),
    and refuse to resume a folder that was written with another configuration. Writing
    run_config.json is the first write: wrong or read-only credentials fail here, before any work."""
    from curate.core.storage import clean_temporaries

    folder = storage.join(output_dir)
    storage.check_bucket(folder)
    storage.makedirs(folder)
    clean_temporaries(folder)
    ledger = Ledger(folder)
    if not resume:
        ledger.reset()
        for name in outputs:
            storage.remove_tree(storage.join(folder, name))
        for name in ("stats.json", "errors.jsonl"):
            storage.remove(storage.join(folder, name))
    ledger.check_run_config(config, resume)
    return ledger


def remove_uncommitted_outputs(output_dir: str | Path, outputs: Iterable[tuple[str, str, Any]]) -> int:
    """Run finish: remove the outputs of parts that were written but never committed (a writer died
    between its upload and its commit record; on object stores nothing is renamed, so such files
    are visible). `outputs`: (folder, suffix, part_of(name) or None) for each output folder."""
    from curate.core.storage import clean_temporaries

    removed = clean_temporaries(output_dir)
    committed = Ledger(output_dir).committed()
    for sub, suffix, part_of in outputs:
        removed += storage.remove_uncommitted(storage.join(output_dir, sub), committed, suffix, part_of)
    return removed


def finish_run(
    output_dir: str | Path,
    kind: str,
    stats: dict[str, Any],
    records: Iterable[Mapping[str, Any]],
    run_info: Mapping[str, Any],
    failures: Mapping[str, str] | Iterable[str] = (),
) -> dict[str, Any]:
    """The end of every run: `errors.jsonl` (issues of the committed parts, in part order),
    `stats.json` (the stage's counters + `kind`; `reconciled` must already be set by the stage from
    its counter groups), `run.json` (the run's own facts, the only file that differs between runs).
    Raises when parts failed or the counts do not reconcile: nothing is then presented as done."""
    folder = storage.join(output_dir)
    ledger = Ledger(folder)
    stats["kind"] = kind
    stats["issues_written"] = ledger.write_errors(records)
    write_json_atomic(storage.join(folder, "stats.json"), stats)
    write_json_atomic(storage.join(folder, "run.json"), dict(run_info))
    failed = sorted(failures.items()) if isinstance(failures, Mapping) else [(None, f) for f in failures]
    if failed:
        raise RuntimeError(
            f"{len(failed)} part(s) failed (re-run the same command to retry them): "
            + "; ".join(f"{k}: {v}" if k else str(v) for k, v in failed)
        )
    if not stats.get("reconciled"):
        raise ReconciliationError(f"counts do not reconcile, see {storage.join(folder, 'stats.json')}")
    return stats
