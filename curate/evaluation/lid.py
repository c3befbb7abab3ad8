"""`curate eval lid`: precision / recall of the LID model per language at each threshold, and the
per-language threshold table of `pipelines/helium.yaml` chosen from it.

Samples: OSCAR 2019 (166 languages, a few documents each) and the HPLT warc2text samples (~40
languages, labels from HPLT's own LID, a different model than lid.176: an independent check; the
OSCAR labels come from lid.176 itself, so OSCAR measures what the threshold throws away rather
than the model's accuracy). Documents are cut into segments of about `segment_chars` on line
boundaries, the unit a threshold acts on in practice (a short page), which multiplies the samples.

For a language L and threshold t: precision = segments predicted L with p >= t that are L / all
predicted L with p >= t; recall = segments of L predicted L with p >= t / all segments of L.
The chosen threshold is the highest t (of `THRESHOLDS`) whose recall stays >= `min_recall` with at
least `min_support` segments; languages below that support keep the default.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

THRESHOLDS = (0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
EU24 = (
    "bg",
    "cs",
    "da",
    "de",
    "el",
    "en",
    "es",
    "et",
    "fi",
    "fr",
    "ga",
    "hr",
    "hu",
    "it",
    "lt",
    "lv",
    "mt",
    "nl",
    "pl",
    "pt",
    "ro",
    "sk",
    "sl",
    "sv",
)
# HPLT labels (ISO 639-3 + script) -> lid.176 labels, for the languages the samples hold
HPLT_TO_LID = {
    "eng": "en", "deu": "de", "spa": "es", "jpn": "ja", "rus": "ru", "zho": "zh", "kor": "ko", "ron": "ro",
    "dan": "da", "fra": "fr", "ita": "it", "por": "pt", "slk": "sk", "bul": "bg", "srp": "sr", "tat": "tt",
    "mya": "my", "arb": "ar", "nld": "nl", "swe": "sv", "bos": "bs", "ces": "cs", "mlt": "mt", "tur": "tr",
    "jav": "jv", "pol": "pl", "pes": "fa", "som": "so", "tha": "th", "zul": "zu", "lit": "lt", "hat": "ht",
    "nno": "nn", "vie": "vi", "kat": "ka", "hin": "hi", "fin": "fi", "ell": "el", "hun": "hu", "est": "et",
}  # fmt: skip


def segments(text: str, size: int) -> Iterator[str]:
    """Consecutive line groups of about `size` characters (at least size / 2; a short text is one)."""
    buf: list[str] = []
    n = 0
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        buf.append(line)
        n += len(line) + 1
        if n >= size:
            yield " ".join(buf)
            buf, n = [], 0
    if buf and (n >= size // 2):
        yield " ".join(buf)


def oscar_samples(shared: Path, size: int) -> Iterator[tuple[str, str, str]]:
    path = shared / "text" / "web_filtered" / "oscar2019_unshuffled_deduplicated_hf_dummy_166langs.jsonl.gz"
    with gzip.open(path, "rt") as fh:
        for line in fh:
            row = json.loads(line)
            for seg in segments(row["text"], size):
                yield "oscar", row["lang"], seg


def hplt_samples(shared: Path, size: int) -> Iterator[tuple[str, str, str]]:
    import zstandard

    for name in ("hplt_w2t_sample100_CC.jsonl.zst", "hplt_w2t_sample100_IA-wide17.jsonl.zst"):
        with open(shared / "text" / "web_raw" / name, "rb") as fh:
            reader = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(fh), encoding="utf-8", errors="replace")
            for line in reader:
                row = json.loads(line)
                lang = HPLT_TO_LID.get(str(row.get("lang") or "").split("_")[0])
                if lang:
                    for seg in segments(row["t"], size):
                        yield "hplt", lang, seg


def evaluate(
    shared: Path,
    model_path: str | None = None,
    segment_chars: int = 500,
    min_recall: float = 0.9,
    min_support: int = 10,
    default: float = 0.5,
) -> dict[str, Any]:
    from curate.core.fasttext_model import clean_for_fasttext, load_fasttext, predict_top
    from curate.core.models import bundled_model_path

    model = load_fasttext(str(model_path or bundled_model_path("lid.176.ftz")))
    samples = list(oscar_samples(shared, segment_chars)) + list(hplt_samples(shared, segment_chars))
    truth = [lang for _, lang, _ in samples]
    labels, scores = predict_top(model, [clean_for_fasttext(text) for _, _, text in samples])
    truth_a, pred_a = np.array(truth), np.array(labels)
    languages = sorted(set(truth))
    table: dict[str, dict[str, Any]] = {}
    for lang in languages:
        is_true = truth_a == lang
        support = int(is_true.sum())
        rows = []
        for t in THRESHOLDS:
            accepted = (pred_a == lang) & (scores >= t)
            tp = int((accepted & is_true).sum())
            precision = tp / int(accepted.sum()) if accepted.any() else None
            rows.append({"threshold": t, "precision": precision, "recall": tp / support, "accepted": int(accepted.sum())})
        ok = [r["threshold"] for r in rows if r["recall"] >= min_recall]
        chosen = max(ok) if support >= min_support and ok else None
        table[lang] = {"support": support, "by_threshold": rows, "chosen": chosen}
    chosen = {lang: v["chosen"] for lang, v in table.items() if v["chosen"] is not None}
    return {
        "model": str(model_path or "lid.176.ftz"),
        "segments": len(samples),
        "sources": {s: sum(1 for x in samples if x[0] == s) for s in ("oscar", "hplt")},
        "segment_chars": segment_chars,
        "min_recall": min_recall,
        "min_support": min_support,
        "languages": table,
        "lid_thresholds": dict(sorted(chosen.items())),
        "default": default,
    }


def markdown(result: dict[str, Any], languages: list[str] | None = None) -> str:
    head = "| lang | n | " + " | ".join(f"P/R @{t}" for t in THRESHOLDS) + " | chosen |"
    out = [head, "|" + "---|" * (len(THRESHOLDS) + 3)]
    for lang, v in result["languages"].items():
        if languages and lang not in languages:
            continue
        cells = []
        for r in v["by_threshold"]:
            p = "-" if r["precision"] is None else f"{r['precision']:.2f}"
            cells.append(f"{p}/{r['recall']:.2f}")
        out.append(
            f"| {lang} | {v['support']} | " + " | ".join(cells) + f" | {v['chosen'] if v['chosen'] is not None else '-'} |"
        )
    return "\n".join(out)


def register(eval_app: Any) -> None:
    import typer

    def lid(
        shared: Path = typer.Option(Path("../shared/data"), "--shared", help="The shared data folder (OSCAR, HPLT samples)."),
        model: str | None = typer.Option(None, "--model", help="fastText LID model (default: bundled lid.176.ftz)."),
        output: Path | None = typer.Option(None, "--output", "-o", help="Write the full result as JSON here."),
        segment_chars: int = typer.Option(500, "--segment-chars", help="Characters per evaluated segment."),
        min_recall: float = typer.Option(0.9, "--min-recall", help="Chosen threshold keeps at least this recall."),
        eu_only: bool = typer.Option(False, "--eu", help="Print only the 24 EU languages."),
    ) -> None:
        """Precision / recall of language ID per language at each threshold; the per-language table."""
        if not shared.exists():
            typer.echo(f"error: shared data not found: {shared}", err=True)
            raise typer.Exit(2)
        result = evaluate(shared, model, segment_chars, min_recall)
        typer.echo(markdown(result, list(EU24) if eu_only else None))
        typer.echo("lid_thresholds: " + json.dumps(result["lid_thresholds"]))
        if output:
            output.write_text(json.dumps(result, indent=1, sort_keys=True))

    eval_app.command("lid")(lid)
