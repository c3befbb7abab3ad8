"""Fuzzy line dedup against truth, held-out (`curate eval dedup`'s protocol, in `make bench`).

Builds the labelled corpus from `../shared/data` (real navigation / footer lines of HPLT and
CCAligned pages around real content, many sites and languages), trains today's dedup-classifier
recipe and the new one on the train shards, chooses the thresholds on the valid shards and prints
every chain side by side on the test shards (other sites, other content). Outputs (corpus, models,
report.json / report.md, the chosen model and its card) go to `build/dedup-eval/` (`classifiers/dedup.yaml`
trains on its train shards).

    .venv/bin/python -m bench.bench_dedup_eval [--output DIR] [--seed 0]
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from curate.evaluation.dedup import run_protocol

RESULTS = Path(__file__).resolve().parent.parent / "build" / "dedup-eval"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--seed", type=int, default=0)
    args, _ = parser.parse_known_args(argv)  # run_all passes the same extra arguments to every module
    command = " ".join(shlex.quote(a) for a in ["python", "-m", "bench.bench_dedup_eval", *(argv or sys.argv[1:])])
    report = run_protocol(args.output, seed=args.seed, command=command)
    for target, value in report["targets"].items():
        print(f"target {target}: measured {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
