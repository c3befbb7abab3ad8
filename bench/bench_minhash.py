"""MinHash document dedup: curate vs datatrove's MinHash stages on the same documents, per core,
and recall / precision of both against exact Jaccard on planted near-duplicates.

    .venv/bin/python -m bench.bench_minhash [--texts 4000] [--sources 500] [--partitions 16]

Corpus (`curate.evaluation.minhash`): real English documents from `../shared/data/text` plus,
for the first `--sources` of them, one copy per edit fraction (1, 3, 5, 10, 20, 30 % of the words
substituted, deleted or inserted), shuffled with a fixed seed.

Both sides run in this process, one core, one after the other; the CPU time of each step is
`time.process_time()`. MB = UTF-8 bytes of the document texts.

- curate: the functions the Ray stage runs, called directly: signatures as in a `PartProcessor`
  (the `MinhashSignature` step on batches of datatrove `Document`s, `PartSignatures`, the `.npz`
  per part), then
  `map_part` + `reduce_partition` (buckets), `cluster`, and `filter_part` (staged Parquet in,
  final Parquet out); the input is split in 8 parts, like 8 WET files.
- datatrove 0.9: `MinhashDedupSignature` -> `MinhashDedupBuckets` -> `MinhashDedupCluster` ->
  `MinhashDedupFilter` + `ParquetWriter`, FineWeb's parameters (5-grams, 14 x 8, 64-bit xxhash),
  its default English word tokenizer (spaCy), `LocalPipelineExecutor` with 8 tasks for the
  signature and filter stages (one per input file), 14 for the buckets (one per band), 1 worker.
  Its reader's (`ParquetReader`) cost is measured alone and subtracted from its total (curate's
  processors already hold the documents), which favours datatrove.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build" / "bench-minhash"
RESULTS = REPO / "bench" / "results"
PARTS = 8


def _cpu(fn: Any, *args: Any) -> tuple[float, Any]:
    t0 = time.process_time()
    out = fn(*args)
    return time.process_time() - t0, out


def split(items: list[Any], n: int) -> list[list[Any]]:
    k = (len(items) + n - 1) // n
    return [items[i * k : (i + 1) * k] for i in range(n)]


def run_curate(texts: list[str], work: Path, partitions: int) -> dict[str, Any]:
    from datatrove.data import Document

    from curate.core.ledger import Ledger
    from curate.helium.minhash import MinhashParams
    from curate.helium.minhash_stage import Layout, PartSignatures, cluster, filter_part, map_part, reduce_partition
    from curate.helium.parquet import ParquetStream, build_schema
    from curate.helium.steps.minhash import MinhashSignature

    shutil.rmtree(work, ignore_errors=True)
    layout = Layout(work)
    params = MinhashParams()
    parts = [f"part-{i:02d}" for i in range(PARTS)]
    chunks = split([Document(text=t, id=str(i), metadata={"url": f"u{i}"}) for i, t in enumerate(texts)], PARTS)
    schema = build_schema([MinhashSignature.columns])
    for name, docs in zip(parts, chunks):  # the processors' staged output and commit record (not timed)
        stream = ParquetStream(layout.staged / "documents" / f"{name}.parquet", schema)
        stream.write(docs)
        stream.close()
        nbytes = sum(len(d.text.encode()) for d in docs)
        lines = sum(1 for d in docs for line in d.text.split("\n") if line.strip())
        record = {"documents": {"in": len(docs), "kept": len(docs), "dropped": {}, "errors": 0}, "bytes_kept": nbytes}
        Ledger(work).commit(name, {**record, "lines": {"kept_nonblank": lines}})

    def signatures() -> None:  # as in a PartProcessor: the step on each chunk, then the part's file
        step = MinhashSignature(params)
        for name, docs in zip(parts, chunks):
            sink = PartSignatures(params)
            for i in range(0, len(docs), 512):
                sink.add(list(step.run(iter(docs[i : i + 512]))))
            sink.write(layout.signatures(name))

    def buckets() -> None:
        maps = [map_part(str(layout.signatures(p)), i, partitions) for i, p in enumerate(parts)]
        for k in range(partitions):
            reduce_partition(k, str(layout.edges(k)), str(layout.buckets.output_dir), *[m[k] for m in maps])

    def clusters() -> dict[str, Any]:
        return cluster(
            [str(layout.edges(k)) for k in range(partitions)], str(layout.assignments), str(layout.clusters.output_dir)
        )

    def filters() -> int:
        return sum(filter_part(str(work), p, i, False, "zstd")["duplicates"] for i, p in enumerate(parts))

    steps: dict[str, float] = {}
    steps["signatures"], _ = _cpu(signatures)
    steps["buckets"], _ = _cpu(buckets)
    steps["cluster"], record = _cpu(clusters)
    steps["filter"], removed = _cpu(filters)
    # which documents were removed: ids missing from the final files
    import pyarrow.parquet as pq

    kept = {
        int(i) for p in parts for i in pq.read_table(work / "documents" / f"{p}.parquet", columns=["id"]).column("id").to_pylist()
    }
    return {"steps": steps, "removed": removed, "cluster_record": record, "kept_ids": kept}


def run_datatrove(texts: list[str], work: Path) -> dict[str, Any]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import ParquetWriter
    from datatrove.utils.hashing import HashConfig

    shutil.rmtree(work, ignore_errors=True)
    inputs = work / "input"
    inputs.mkdir(parents=True)
    import pyarrow as pa
    import pyarrow.parquet as pq

    for i, chunk in enumerate(split(list(enumerate(texts)), PARTS)):
        table = pa.table({"id": [str(d) for d, _ in chunk], "text": [t for _, t in chunk]})
        pq.write_table(table, inputs / f"part-{i:02d}.parquet")
    config = MinhashConfig(hash_config=HashConfig(precision=64))

    def reader() -> ParquetReader:
        return ParquetReader(str(inputs))

    def execute(name: str, pipeline: list[Any], tasks: int) -> float:
        executor = LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1, logging_dir=str(work / "logs" / name))
        t0 = time.process_time()
        executor.run()
        return time.process_time() - t0

    steps: dict[str, float] = {}
    steps["read only (subtracted)"] = execute("read", [reader()], PARTS)
    steps["signatures"] = execute("sig", [reader(), MinhashDedupSignature(str(work / "sigs"), config=config)], PARTS)
    # datatrove's signature stage again with a trivial tokenizer (str.split): its fastest possible
    # configuration, to show how much of the gap is spaCy (reported, not in the total)
    import datatrove.pipeline.dedup.minhash as dt_minhash
    from datatrove.utils.word_tokenizers import WordTokenizer

    class SplitTokenizer(WordTokenizer):
        def word_tokenize(self, text: str) -> list[str]:
            return text.split()

        def sent_tokenize(self, text: str) -> list[str]:
            return [text]

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            return [(0, len(text))]

    spacy_loader = dt_minhash.load_word_tokenizer
    dt_minhash.load_word_tokenizer = lambda language: SplitTokenizer()
    try:
        steps["signatures, str.split tokenizer (variant)"] = (
            execute("sig-split", [reader(), MinhashDedupSignature(str(work / "sigs-split"), config=config)], PARTS)
            - steps["read only (subtracted)"]
        )
    finally:
        dt_minhash.load_word_tokenizer = spacy_loader
    steps["buckets"] = execute(
        "buckets", [MinhashDedupBuckets(str(work / "sigs"), str(work / "buckets"), config=config)], config.num_buckets
    )
    steps["cluster"] = execute("cluster", [MinhashDedupCluster(str(work / "buckets"), str(work / "remove"), config=config)], 1)
    steps["filter"] = execute(
        "filter", [reader(), MinhashDedupFilter(str(work / "remove")), ParquetWriter(str(work / "output"))], PARTS
    )
    kept = {
        int(i)
        for p in sorted((work / "output").rglob("*.parquet"))
        for i in pq.read_table(p, columns=["id"]).column("id").to_pylist()
    }
    return {"steps": steps, "kept_ids": kept}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=4000, help="real documents in the corpus")
    parser.add_argument("--sources", type=int, default=500, help="documents that get edited copies")
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--skip-datatrove", action="store_true")
    args = parser.parse_args(argv)

    from curate.evaluation.minhash import curate_minhash, run
    from curate.helium.minhash import MinhashParams

    t0 = time.perf_counter()
    docs, truth, score = run(args.texts, args.sources)
    texts = [d.text for d in docs]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    print(
        f"corpus: {len(texts):,} documents, {mb:.1f} MB; exact Jaccard truth: {len(truth):,} pairs >= 0.3 ({time.perf_counter() - t0:.0f} s)"
    )

    result: dict[str, Any] = {
        "documents": len(texts),
        "mb": mb,
        "pairs_truth": len(truth),
        "machine_cpus": __import__("os").cpu_count(),
    }
    ours = run_curate(texts, BUILD / "curate", args.partitions)
    ours_total = sum(ours["steps"].values())
    removed_ours = set(range(len(texts))) - ours["kept_ids"]
    dup, cand, clusters = curate_minhash(texts, MinhashParams())
    assert dup == removed_ours, "the stage functions and the evaluation disagree"
    result["curate"] = {
        "steps": ours["steps"],
        "cpu_s": ours_total,
        "mb_s_per_core": mb / ours_total,
        "removed": len(removed_ours),
    }
    result["curate"]["quality"] = score(removed_ours, cand, clusters)

    if not args.skip_datatrove:
        theirs = run_datatrove(texts, BUILD / "datatrove")
        dt_steps = theirs["steps"]
        main_steps = ("signatures", "buckets", "cluster", "filter")
        dt_total = sum(dt_steps[k] for k in main_steps) - dt_steps["read only (subtracted)"] * 2
        dt_split = (
            dt_total
            - dt_steps["signatures"]
            + dt_steps["read only (subtracted)"]
            + dt_steps["signatures, str.split tokenizer (variant)"]
        )
        removed_dt = set(range(len(texts))) - theirs["kept_ids"]
        result["datatrove"] = {"steps": dt_steps, "cpu_s": dt_total, "mb_s_per_core": mb / dt_total, "removed": len(removed_dt)}
        result["datatrove"]["quality"] = score(removed_dt)
        result["speedup_per_core"] = dt_total / ours_total
        result["datatrove_split_tokenizer"] = {"cpu_s": dt_split, "mb_s_per_core": mb / dt_split}
        result["speedup_per_core_vs_split_tokenizer"] = dt_split / ours_total

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "minhash.json").write_text(json.dumps(result, indent=2, default=list) + "\n")
    print(markdown(result))
    return 0


def markdown(r: dict[str, Any]) -> str:
    out = [f"\nMinHash on {r['documents']:,} documents ({r['mb']:.1f} MB), one core, CPU seconds per step:\n"]
    sides = [s for s in ("curate", "datatrove") if s in r]
    steps = ["signatures", "buckets", "cluster", "filter"]
    out.append("| step | " + " | ".join(sides) + " |")
    out.append("|---|" + "---:|" * len(sides))
    for step in steps:
        out.append(f"| {step} | " + " | ".join(f"{r[s]['steps'][step]:.2f}" for s in sides) + " |")
    if "datatrove" in r:
        out.append(
            f"| reading the input (datatrove only, x2, subtracted) | | -{2 * r['datatrove']['steps']['read only (subtracted)']:.2f} |"
        )
    out.append("| **total CPU-s** | " + " | ".join(f"**{r[s]['cpu_s']:.2f}**" for s in sides) + " |")
    out.append("| **MB/s per core** | " + " | ".join(f"**{r[s]['mb_s_per_core']:.2f}**" for s in sides) + " |")
    out.append("| documents removed | " + " | ".join(f"{r[s]['removed']:,}" for s in sides) + " |")
    for t in ("0.7", "0.75", "0.8"):
        out.append(
            f"| precision / recall vs exact Jaccard >= {t} | "
            + " | ".join(
                f"{r[s]['quality']['thresholds'][t]['precision']:.3f} / {r[s]['quality']['thresholds'][t]['recall']:.3f}"
                for s in sides
            )
            + " |"
        )
    if "speedup_per_core" in r:
        out.append(f"\ncurate / datatrove per core: **{r['speedup_per_core']:.2f}x**")
        v = r["datatrove_split_tokenizer"]
        out.append(
            f"datatrove with a str.split tokenizer instead of spaCy (its fastest configuration): {v['cpu_s']:.2f} CPU-s, "
            f"{v['mb_s_per_core']:.2f} MB/s per core; curate / that: **{r['speedup_per_core_vs_split_tokenizer']:.2f}x**"
        )
    from curate.evaluation.minhash import quality_markdown

    out.append("\n" + quality_markdown(r["curate"]["quality"]))
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
