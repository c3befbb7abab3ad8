"""Model cards: a JSON file and a Markdown file written next to each trained model.

`models/quality.ftz` -> `models/quality.card.json` and `models/quality.card.md`. The JSON holds
everything (data counts, parameters, held-out metrics, confusion matrix, the model's SHA-256);
the Markdown renders the same for people. No timestamps: the same inputs give the same card.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from curate.core.storage import write_bytes_atomic


def card_paths(model_path: str | Path) -> tuple[Path, Path]:
    model_path = Path(model_path)
    stem = model_path.name.rsplit(".", 1)[0] if "." in model_path.name else model_path.name
    return model_path.with_name(f"{stem}.card.json"), model_path.with_name(f"{stem}.card.md")


def _clean(value: Any) -> Any:
    """JSON-safe: NaN -> None, tuples -> lists, paths -> str."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "—" if value is None else str(value)


def _source(item: Any) -> str:
    if isinstance(item, dict) and "path" in item:
        return f"`{item['path']}`" + (f" (field `{item['text_field']}`)" if item.get("text_field") else "")
    return f"`{item}`"


def _render_item(key: str, value: Any) -> list[str]:
    """A data entry as Markdown: scalars inline, lists and mappings of paths as nested bullets."""
    if isinstance(value, list):
        if not value:
            return [f"- {key}: none"]
        return [f"- {key}:"] + [f"  - {_source(v)}" for v in value]
    if isinstance(value, dict):
        out = [f"- {key}:"]
        for name, inner in value.items():
            if isinstance(inner, list):
                out.append(f"  - {name}: " + ", ".join(_source(v) for v in inner))
            else:
                out.append(f"  - {name}: {_fmt(inner)}")
        return out
    return [f"- {key}: {_fmt(value)}"]


def render_markdown(card: dict) -> str:
    lines = [f"# Model card: {card.get('title', card.get('kind', 'model'))}", ""]
    if card.get("description"):
        lines += [card["description"], ""]
    lines += [
        f"- model file: `{card.get('model')}` ({card.get('model_bytes', 0):,} bytes, sha256 `{card.get('model_sha256', '')[:16]}…`)",
        f"- labels: {', '.join(f'`{label}`' for label in card.get('labels', []))}",
    ]
    for note in card.get("notes", []):
        lines.append(f"- {note}")
    if card.get("command"):
        lines += ["", "Reproduce:", "", "```", card["command"], "```"]
    data = card.get("data", {})
    if data.get("per_class"):
        rows = data["per_class"]
        columns = list(dict.fromkeys(k for row in rows.values() for k in row))
        lines += ["", "## Data", "", "| class | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
        for name, row in rows.items():
            lines.append(f"| {name} | " + " | ".join(_fmt(row.get(c)) for c in columns) + " |")
    other = {k: v for k, v in data.items() if k != "per_class"}
    if other:
        lines.append("")
        for key, value in other.items():
            lines += _render_item(key, value)
    params = card.get("parameters", {})
    if params:
        lines += ["", "## Parameters", "", "| parameter | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in params.items()]
    report = card.get("held_out")
    if report:
        lines += [
            "",
            "## Held-out evaluation",
            "",
            f"{report['examples']} held-out lines; accuracy {report['accuracy']:.4f}, macro F1 {report['macro_f1']:.4f}.",
            "",
            "| class | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
        ]
        for name, m in report["per_class"].items():
            lines.append(f"| {name} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | {m['support']} |")
        labels = report["labels"]
        lines += ["", "Confusion matrix (rows: true class, columns: predicted):", ""]
        lines += ["| true \\ predicted | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
        for name, row in zip(labels, report["confusion"]):
            lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
        if report.get("extra"):
            lines += ["", "| metric | value |", "|---|---|"]
            lines += [f"| {k} | {_fmt(v)} |" for k, v in report["extra"].items()]
    for evaluation in card.get("document_evaluations", []):
        lines += ["", f"## Document evaluation: `{evaluation['path']}`", ""]
        lines += [f"- {k}: {_fmt(v)}" for k, v in evaluation.items() if k != "path"]
    for section in card.get("markdown_sections", []):  # pre-rendered sections (e.g. `curate eval dedup` tables)
        lines += ["", section.rstrip()]
    return "\n".join(lines) + "\n"


def write_model_card(model_path: str | Path, card: dict) -> tuple[Path, Path]:
    card = _clean(card)
    json_path, md_path = card_paths(model_path)
    write_bytes_atomic(json_path, (json.dumps(card, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    write_bytes_atomic(md_path, render_markdown(card).encode("utf-8"))
    return json_path, md_path


def relabel_card(local: str | Path, final: str | Path, card: dict) -> None:
    """A model trained at a local spill path for a URL: its card names the URL, not the spill path."""
    if str(local) == str(final):
        return
    card["model"] = str(final)
    write_model_card(local, card)
