"""Diarization benchmark (`make bench`): `curate eval diarization` on the shared real references and
the built conversations, monologues and meetings: no diarization vs the built-in diarizer vs the oracle RTTM.

    .venv/bin/python -m bench.bench_diarization [--per-pair 3] [--no-words]

Writes bench/results/diarization/diarization_eval.{json,md}.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from curate.evaluation.diarization import evaluate, markdown

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
RESULTS = ROOT / "bench" / "results" / "diarization"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-pair", type=int, default=3)
    parser.add_argument("--no-words", action="store_true", help="skip the ASR word attribution")
    args, _ = parser.parse_known_args()
    report = evaluate(SHARED, RESULTS, per_pair=args.per_pair, words=not args.no_words)
    print(markdown(report))
    print("tuned on dev:", report["tuning"].get("chosen"), "| built corpus:", report["built_corpus"])
    print("pyannote_sample word attribution:", report["pyannote_sample_word_attribution"])


if __name__ == "__main__":
    main()
