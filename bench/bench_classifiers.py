"""Benchmark of the two learned Helium filters (issue 3): `make bench`, or

    .venv/bin/python -m bench.bench_classifiers [--docs 3000] [--repeat 3] [--dedup-model M] [--quality-model M]

For each stage — `FuzzyLineDedup` (dedup model) and `QualityFilter` (quality model) — lines per
second per core of the pipeline step (`process_batch` on batches of 512 kept documents, as the
pipeline calls it: line splitting, the model's text preparation, one batched predict, the block
rule or the length-weighted scores, metadata, drop decisions), against the inference floor: a raw
batched fastText `model.predict` on the list of the same non-blank lines, already prepared, with
the `k` the stage needs (k=1 for the binary dedup model, k=-1 — every label — for the quality
model). Target (issue 3): the stage adds <= 30% to the floor.

Documents: real web text from ../shared/data/text (FineWeb pages and raw CommonCrawl-derived pages
with their boilerplate), the kind of text that reaches these stages. Models: `models/dedup.bin`
and `models/quality.bin`; when missing they are trained first with the recipes in classifiers/.
"Per core": lines / CPU seconds of this (single-threaded) process; each measure is the best of
`--repeat` runs, so other jobs on the machine disturb it less. Results: a table on stdout,
`bench/results/classifiers.json` and `bench/results/classifiers.md`.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "bench" / "results"
SHARED_TEXT = REPO_ROOT.parent / "shared" / "data" / "text"
TARGET_OVERHEAD = 0.30
SOURCES = [
    "web_filtered/fineweb_sample-10BT_legal-pilot_2800docs.jsonl.gz",
    "web_raw/dolma_CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz",
    "web_raw/redpajama-v2_2019-43_en_head_dpk-fdedup-testset.jsonl.gz",
    "web_raw/hplt_w2t_sample100_CC.jsonl.zst",
]


def load_documents(limit: int) -> list[str]:
    from curate.training.readers import read_file

    per_source = max(1, limit // len(SOURCES))
    texts: list[str] = []
    for rel in SOURCES:
        path = SHARED_TEXT / rel
        if not path.exists():
            continue
        for i, text in enumerate(read_file(path, layout=False)):
            if i >= per_source:
                break
            texts.append(text)
    if not texts:
        raise SystemExit(f"no benchmark text found under {SHARED_TEXT}")
    return texts


def ensure_model(path: Path, kind: str) -> Path:
    if path.exists():
        return path
    print(f"{path} missing: training it with classifiers/{kind}.yaml ...", flush=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "curate",
            "train",
            f"{kind}-classifier",
            "--recipe",
            f"classifiers/{kind}.yaml",
            "--output",
            str(path),
        ],
        cwd=REPO_ROOT,
        check=True,
    )
    return path


def measure_stage(name: str, step, prepare, k: int, documents: list[str], repeat: int) -> dict:
    from datatrove.data import Document

    from curate.core.fasttext_model import load_fasttext

    lines = [line.strip() for text in documents for line in text.split("\n") if line.strip()]
    prepared = prepare(lines)
    model = load_fasttext(step.model_path)
    model.predict(prepared[:10], k=k, threshold=0.0)  # warm up
    batches = [documents[i : i + step.batch_size] for i in range(0, len(documents), step.batch_size)]
    floor = stage = float("inf")
    for _ in range(repeat):  # interleaved, so that a busy moment of the machine hits both alike
        start = time.process_time()
        model.predict(prepared, k=k, threshold=0.0)
        floor = min(floor, time.process_time() - start)
        fresh = [[Document(text=t, id=str(j)) for j, t in enumerate(batch)] for batch in batches]  # not timed
        start = time.process_time()
        for batch in fresh:
            step.process_batch(batch)
        stage = min(stage, time.process_time() - start)
    chars = sum(len(line) for line in lines)
    return {
        "stage": name,
        "model": str(step.model_path),
        "documents": len(documents),
        "lines": len(lines),
        "mean_line_chars": round(chars / len(lines), 1),
        "k": k,
        "floor_lines_per_s": round(len(lines) / floor),
        "stage_lines_per_s": round(len(lines) / stage),
        "stage_mb_per_s": round(chars / 1e6 / stage, 2),
        "overhead": round(stage / floor - 1.0, 3),
        "target_overhead": TARGET_OVERHEAD,
        "meets_target": stage / floor - 1.0 <= TARGET_OVERHEAD,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=3000, help="documents (split evenly over the sources)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measure; the best is kept")
    parser.add_argument("--dedup-model", type=Path, default=REPO_ROOT / "models" / "dedup.bin")
    parser.add_argument("--quality-model", type=Path, default=REPO_ROOT / "models" / "quality.bin")
    args = parser.parse_args(argv)

    from curate.helium.fuzzy import model_texts
    from curate.helium.steps.classifiers import FuzzyLineDedup, QualityFilter

    documents = load_documents(args.docs)
    dedup = ensure_model(args.dedup_model, "dedup")
    quality = ensure_model(args.quality_model, "quality")
    rows = [
        measure_stage("fuzzy dedup (FuzzyLineDedup)", FuzzyLineDedup(dedup), model_texts, 1, documents, args.repeat),
        measure_stage("quality (QualityFilter)", QualityFilter(quality, threshold=0.0), list, -1, documents, args.repeat),
    ]
    header = "| stage | lines | floor: raw predict, lines/s/core | stage, lines/s/core | stage MB/s/core | overhead vs floor | target <= 30% |"
    table = [header, "|---|---|---|---|---|---|---|"]
    for r in rows:
        table.append(
            f"| {r['stage']} (k={r['k']}) | {r['lines']:,} | {r['floor_lines_per_s']:,} | {r['stage_lines_per_s']:,} | "
            f"{r['stage_mb_per_s']} | {r['overhead']:+.1%} | {'yes' if r['meets_target'] else 'NO'} |"
        )
    machine = f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"
    text = "\n".join(
        [
            f"Classifier stages vs raw batched fastText predict ({len(documents):,} documents, best of {args.repeat}; {machine})",
            "",
            *table,
        ]
    )
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "classifiers.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1) + "\n")
    (RESULTS / "classifiers.md").write_text(text + "\n")
    return 0  # a missed target is reported in the table, not an error


if __name__ == "__main__":
    sys.exit(main())
