"""MinHash document dedup across all shards of a run: the Ray stage (rules in `minhash.py`).

The first stage whose state crosses shards. It runs in four steps, each resumable on its own
commit records (`curate.core.ledger.Ledger`), all under `DIR/_minhash/`:

1. **signatures** (in the `PartProcessor`s, while the part is processed): the band keys of every
   kept document, `signatures/<part>.npz` (`rows` uint32, `keys` (rows, bands) uint64), written
   before the part's ordinary commit record. With MinHash on, a processor writes the part's
   Parquet files to `staged/` instead of the final folders.
2. **buckets**, a hash-partitioned shuffle on Ray: one map task per part splits its
   (band key, document) entries by `key % partitions`; one reduce task per partition sorts its
   entries, links every document of a bucket to the bucket's first document, reduces those edges
   to a forest (each document -> smallest document of its local component) and writes
   `buckets/<k>.npy`, then its record `buckets/_parts/<k>.json`. Documents are numbered
   `part_number << 32 | row`, part numbers in shard order, so numeric order is shard order.
3. **clusters** (one Ray task): union-find over all partitions' edges -> for every document in a
   cluster its survivor (the smallest number: the earliest document in shard order) and the
   cluster size, `clusters/assignments.npy`, record `clusters/_parts/clusters.json`.
4. **filter** (one Ray task per part): staged documents -> `documents/<part>.parquet` (survivors
   and unclustered documents, with `minhash_cluster_size`) and `rejected/<part>.parquet`
   (duplicates, drop reason `minhash_duplicate`), then the part's final record
   `final/_parts/<part>.json`: the part's record with its counts moved from kept to dropped, from
   which `stats.json` is aggregated, so `in == kept + sum(dropped) + errors` still holds.

Every output depends only on the input and the configuration (sorting makes each reduce
independent of the arrival order; components and survivors are unique): byte-identical for any
number of workers, and a killed run resumes from the last committed step. When all parts are
final, the bulky intermediate files are deleted; the records stay.

State, per kept document: 112 bytes of band keys on disk (14 x 8), 16 bytes per band entry in the
shuffle (224 bytes per document in all, split over `minhash_partitions` reduce tasks of which at
most `workers` run at once), and in the cluster task 16 bytes per edge plus 24 per clustered
document (only documents that have a candidate duplicate take part).
"""

from __future__ import annotations

import io
import json
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray
from datatrove.data import Document

from curate.core.ledger import Ledger
from curate.core.storage import write_bytes_atomic, write_json_atomic
from curate.helium.minhash import MinhashParams, bucket_edges, cluster_sizes, connected_components
from curate.helium.steps.minhash import BAND_KEYS

MINHASH_DIR = "_minhash"
DROP_REASON_MINHASH = "minhash_duplicate"
CLUSTER_SIZE = "minhash_cluster_size"
ROW_BITS = 32
U64 = np.uint64


@dataclass(frozen=True)
class Layout:
    """Where the stage keeps its files under `DIR/_minhash/`."""

    output_dir: Path

    @property
    def root(self) -> Path:
        return self.output_dir / MINHASH_DIR

    @property
    def staged(self) -> Path:
        return self.root / "staged"

    def signatures(self, part: str) -> Path:
        return self.root / "signatures" / f"{part}.npz"

    def edges(self, partition: int) -> Path:
        return self.root / "buckets" / f"{partition:05d}.npy"

    @property
    def buckets(self) -> Ledger:
        return Ledger(self.root / "buckets")

    @property
    def assignments(self) -> Path:
        return self.root / "clusters" / "assignments.npy"

    @property
    def clusters(self) -> Ledger:
        return Ledger(self.root / "clusters")

    @property
    def final(self) -> Ledger:
        return Ledger(self.root / "final")

    @property
    def fingerprint(self) -> Path:
        return self.root / "run.json"


def params_of(config: Any) -> MinhashParams:
    return MinhashParams(config.minhash_ngrams, config.minhash_bands, config.minhash_rows, config.minhash_seed)


def _save_npy(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    write_bytes_atomic(path, buffer.getvalue())


# -- 1. signatures, in the processors ---------------------------------------------------------


class PartSignatures:
    """Band keys of one part's kept documents (left in their metadata by the `MinhashSignature`
    step), accumulated chunk by chunk; rows = positions in the part's kept-documents file."""

    def __init__(self, params: MinhashParams) -> None:
        self.params = params
        self.rows: list[np.ndarray] = []
        self.keys: list[np.ndarray] = []
        self.kept = 0

    def add(self, docs: list[Document]) -> None:
        kept = [d for d in docs if not d.metadata.get("drop_reason")]
        rows = [i for i, d in enumerate(kept) if BAND_KEYS in d.metadata]
        if rows:
            self.rows.append(np.asarray(rows, dtype=np.int64) + self.kept)
            self.keys.append(np.stack([kept[i].metadata.pop(BAND_KEYS) for i in rows]))
        self.kept += len(kept)

    def write(self, path: Path) -> None:
        rows = np.concatenate(self.rows).astype(np.uint32) if self.rows else np.zeros(0, dtype=np.uint32)
        keys = np.concatenate(self.keys) if self.keys else np.zeros((0, self.params.bands), dtype=U64)
        buffer = io.BytesIO()
        np.savez(buffer, rows=rows, keys=keys, kept=np.array([self.kept], dtype=np.int64))
        write_bytes_atomic(path, buffer.getvalue())


# -- 2. buckets: hash-partitioned shuffle ---------------------------------------------------------


def map_part(path: str, part_number: int, partitions: int) -> list[np.ndarray]:
    """(2, entries) uint64 arrays [keys; documents], one per partition."""
    with np.load(path) as data:
        rows, keys = data["rows"], data["keys"]
    nodes = (U64(part_number) << U64(ROW_BITS)) | rows.astype(U64)
    flat_keys = keys.reshape(-1)
    flat_nodes = np.repeat(nodes, keys.shape[1])
    target = flat_keys % U64(partitions)
    order = np.argsort(target, kind="stable")
    bounds = np.searchsorted(target[order], np.arange(partitions + 1, dtype=U64))
    entries = np.stack([flat_keys[order], flat_nodes[order]])
    return [entries[:, bounds[k] : bounds[k + 1]] for k in range(partitions)]


@ray.remote(num_cpus=1)
def _map_part(path: str, part_number: int, partitions: int) -> tuple[np.ndarray, ...] | np.ndarray:
    """One Ray object per partition."""
    out = map_part(path, part_number, partitions)
    return out[0] if partitions == 1 else tuple(out)


def reduce_partition(partition: int, edges_path: str, record_dir: str, *entries: np.ndarray) -> dict[str, int]:
    stacked = np.concatenate(entries, axis=1) if entries else np.zeros((2, 0), dtype=U64)
    u, v = bucket_edges(stacked[0], stacked[1])
    nodes, labels = connected_components(u, v)
    forest = nodes != labels  # each document -> the smallest document of its local component
    _save_npy(Path(edges_path), np.stack([labels[forest], nodes[forest]]))
    record = {"partition": partition, "entries": int(stacked.shape[1]), "bucket_edges": len(u), "edges": int(forest.sum())}
    Ledger(record_dir).commit(f"{partition:05d}", record)
    return record


_reduce_partition = ray.remote(num_cpus=1)(reduce_partition)


# -- 3. clusters --------------------------------------------------------------------------------


def cluster(edge_paths: list[str], assignments_path: str, record_dir: str) -> dict[str, int]:
    loaded = [np.load(p) for p in edge_paths]
    edges = np.concatenate(loaded, axis=1) if loaded else np.zeros((2, 0), dtype=U64)
    nodes, labels = connected_components(edges[0], edges[1])
    sizes = cluster_sizes(labels)
    _save_npy(Path(assignments_path), np.stack([nodes, labels, sizes.astype(U64)]))
    clusters = int((nodes == labels).sum())
    record = {
        "edges": int(edges.shape[1]),
        "documents_in_clusters": len(nodes),
        "clusters": clusters,
        "duplicates": len(nodes) - clusters,
        "largest_cluster": int(sizes.max()) if len(sizes) else 0,
    }
    Ledger(record_dir).commit("clusters", record)
    return record


_cluster = ray.remote(num_cpus=1)(cluster)


# -- 4. filter --------------------------------------------------------------------------------


def _count_nonblank_lines(text: str) -> int:
    return sum(1 for line in text.split("\n") if line.strip())


def _set_cluster_size(table: pa.Table, column: pa.Array) -> pa.Table:
    """The staged files already hold the column (null): fill it."""
    return table.set_column(table.schema.get_field_index(CLUSTER_SIZE), pa.field(CLUSTER_SIZE, pa.int64()), column)


def filter_part(output_dir: str, part: str, part_number: int, keep_rejected: bool, compression: str) -> dict[str, Any]:
    from curate.helium.parquet import write_table_atomic

    layout = Layout(Path(output_dir))
    record = Ledger(output_dir).load(part)
    table = pq.read_table(layout.staged / "documents" / f"{part}.parquet")
    assignments = np.load(layout.assignments, mmap_mode="r")
    lo, hi = np.searchsorted(assignments[0], [U64(part_number) << U64(ROW_BITS), U64(part_number + 1) << U64(ROW_BITS)])
    nodes, labels, sizes = (np.asarray(assignments[i, lo:hi]) for i in range(3))
    rows = (nodes & U64((1 << ROW_BITS) - 1)).astype(np.int64)
    size = np.ones(table.num_rows, dtype=np.int64)
    size[rows] = sizes.astype(np.int64)
    duplicate = np.zeros(table.num_rows, dtype=bool)
    duplicate[rows] = nodes != labels
    table = _set_cluster_size(table, pa.array(size, type=pa.int64()))
    kept = table.filter(pa.array(~duplicate))
    write_table_atomic(kept, Path(output_dir) / "documents" / f"{part}.parquet", compression)

    dups = table.filter(pa.array(duplicate))
    n_dups = dups.num_rows
    if keep_rejected:
        staged_rejected = pq.read_table(layout.staged / "rejected" / f"{part}.parquet")
        dups = dups.append_column(pa.field("drop_reason", pa.string()), pa.array([DROP_REASON_MINHASH] * n_dups, pa.string()))
        rejected = pa.concat_tables([staged_rejected, dups.select(staged_rejected.schema.names).cast(staged_rejected.schema)])
        write_table_atomic(rejected, Path(output_dir) / "rejected" / f"{part}.parquet", compression)

    texts = dups.column("text").to_pylist()
    docs = record["documents"]
    docs["kept"] -= n_dups
    if n_dups:
        dropped = Counter(docs["dropped"])
        dropped[DROP_REASON_MINHASH] += n_dups
        docs["dropped"] = dict(sorted(dropped.items()))
    record["bytes_kept"] -= sum(len(t.encode("utf-8", "surrogatepass")) for t in texts)
    record["lines"]["kept_nonblank"] -= sum(_count_nonblank_lines(t) for t in texts)
    record["minhash"] = {
        "duplicates": n_dups,
        "survivors_of_clusters": int((~duplicate[rows]).sum()) if len(rows) else 0,
        "documents_in_clusters": len(rows),
    }
    layout.final.commit(part, record)
    return {"part": part, "duplicates": n_dups}


_filter_part = ray.remote(num_cpus=1)(filter_part)


# -- the stage --------------------------------------------------------------------------------


def _fingerprint(parts: list[str], config: Any) -> dict[str, Any]:
    return {
        "parts": parts,
        "params": [config.minhash_ngrams, config.minhash_bands, config.minhash_rows, config.minhash_seed],
        "partitions": config.minhash_partitions,
    }


def _reset(layout: Layout) -> None:
    for ledger in (layout.buckets, layout.clusters, layout.final):
        ledger.reset()


def run_minhash_stage(output_dir: Path, parts: list[str], config: Any) -> dict[str, Any]:
    """Buckets, clusters and filter over every part of the run (parts in shard order, all with
    their processor commit record). Ray must be initialised. Returns the cluster record."""
    layout = Layout(Path(output_dir))
    fingerprint = _fingerprint(parts, config)
    if layout.fingerprint.exists() and json.loads(layout.fingerprint.read_text()) != fingerprint:
        if not all((layout.staged / "documents" / f"{p}.parquet").exists() for p in parts):
            raise ValueError(
                f"{output_dir}: the inputs changed after the MinHash stage finished (its intermediate files are gone); "
                "use --no-resume to start over, or another --output"
            )
        _reset(layout)
    write_json_atomic(layout.fingerprint, fingerprint)
    if all(layout.final.is_done(p) for p in parts):
        _clean_intermediates(layout)  # again: a run killed while cleaning up left some
        return layout.clusters.load("clusters")
    try:
        _run_steps(layout, parts, config)
    except ray.exceptions.RayError as exc:
        raise RuntimeError(f"the MinHash stage failed (re-run the same command to resume it): {exc}") from exc
    _clean_intermediates(layout)
    return layout.clusters.load("clusters")


def _run_steps(layout: Layout, parts: list[str], config: Any) -> None:
    output_dir = layout.output_dir

    partitions = config.minhash_partitions
    missing = [k for k in range(partitions) if not layout.buckets.is_done(f"{k:05d}")]
    if missing or not layout.clusters.is_done("clusters"):
        layout.clusters.reset()  # new edges -> new clusters -> every part is filtered again
        layout.final.reset()
    if missing:
        record_dir = str(layout.buckets.output_dir)
        maps = [
            _map_part.options(num_returns=partitions).remote(str(layout.signatures(p)), i, partitions)
            for i, p in enumerate(parts)
        ]
        if partitions == 1:
            maps = [[ref] for ref in maps]
        reduces = [_reduce_partition.remote(k, str(layout.edges(k)), record_dir, *[m[k] for m in maps]) for k in missing]
        ray.get(reduces)
        del maps
    if not layout.clusters.is_done("clusters"):
        ray.get(
            _cluster.remote(
                [str(layout.edges(k)) for k in range(partitions)], str(layout.assignments), str(layout.clusters.output_dir)
            )
        )
    todo = [(i, p) for i, p in enumerate(parts) if not layout.final.is_done(p)]
    ray.get([_filter_part.remote(str(output_dir), p, i, config.keep_rejected, config.compression) for i, p in todo])


def _clean_intermediates(layout: Layout) -> None:
    for sub in ("staged", "signatures"):
        shutil.rmtree(layout.root / sub, ignore_errors=True)
    for path in list((layout.root / "buckets").glob("*.npy")) + [layout.assignments]:
        path.unlink(missing_ok=True)


def summary(output_dir: Path) -> dict[str, Any]:
    layout = Layout(Path(output_dir))
    return layout.clusters.load("clusters") if layout.clusters.is_done("clusters") else {}
