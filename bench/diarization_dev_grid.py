"""Dev grid of the built-in diarizer's labelling options: the dev files (conversations, solos, meetings
and their far-field copies) embedded once, then labelled with each setting (count estimated and given).

    .venv/bin/python -m bench.diarization_dev_grid --grid seg_merge_keep_margin=0.25,0.3,0.35 --grid merge_threshold=0.4,0.5
    .venv/bin/python -m bench.diarization_dev_grid --base seg30 --grid seg_count_min_s=3,4,5

Options that change the embeddings (encoder, window / hop, segmentation model or step) are fixed by
`--base` (default: the defaults; seg30: `SEG30_OPTIONS`; ge2e: `GE2E_OPTIONS`). One line per
setting: DER (collar) / word attribution (and of the words said in overlapped speech) / right
speaker count, per group. Used for the sixth and seventh iterations' choices (docs/diarization.md).
"""

from __future__ import annotations

import argparse
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from curate.align.diarization import GE2E_OPTIONS, SEG30_OPTIONS, BuiltinDiarizer, DiarizerOptions
from curate.evaluation.diarization import Scores, built_items, source_words

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
BASES = {"default": DiarizerOptions(), "seg30": SEG30_OPTIONS, "ge2e": GE2E_OPTIONS}


def _value(field_type: Any, text: str) -> Any:
    if text in ("None", "none"):
        return None
    if "bool" in str(field_type):
        return text.lower() in ("1", "true", "yes")
    if "int" in str(field_type) and "float" not in str(field_type):
        return int(text)
    return float(text) if any(c.isdigit() for c in text) else text


def settings(base: DiarizerOptions, grid: list[str]) -> list[tuple[str, DiarizerOptions]]:
    """One setting per grid value (one key changed at a time), after the base itself."""
    types = {f.name: f.type for f in fields(DiarizerOptions)}
    out = [("base", base)]
    for spec in grid:
        key, _, values = spec.partition("=")
        if key not in types:
            raise SystemExit(f"unknown option {key!r}")
        out += [(f"{key}={v}", replace(base, **{key: _value(types[key], v)})) for v in values.split(",")]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", choices=sorted(BASES), default="default")
    parser.add_argument("--grid", action="append", default=[], help="OPTION=V1,V2,... (repeatable)")
    parser.add_argument("--words-cache", type=Path, default=ROOT / "build" / "diarization-dev" / "source_words.json")
    args = parser.parse_args()
    base = BASES[args.base]
    items = built_items(SHARED, "dev", 2, source_words(SHARED, args.words_cache), meetings=True, far_field=True)
    diarizer = BuiltinDiarizer(options=base)
    embedded = {item.id: diarizer.embed(item.audio) for item in items}
    for name, options in settings(base, args.grid):
        scores: dict[tuple[str, str], Scores] = {}
        for item in items:
            n_ref = len({t[0] for t in item.reference})
            for mode, count in (("est", None), ("given", n_ref)):
                scores.setdefault((item.group, mode), Scores()).add(item, diarizer.label(embedded[item.id], count, options))
        cells = []
        for (group, mode), sc in scores.items():
            s = sc.summary()
            words = f"{s['word_attribution'] or 0:.1f} % (overlap {s['word_attribution_in_overlap'] or 0:.1f} %)"
            cells.append(f"{group}/{mode} {s['der_collar']:.1f} % {words} {s['speaker_count_right']}")
        print(f"{name}: " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
