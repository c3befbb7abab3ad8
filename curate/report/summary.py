"""The plain-text summary of a finished run, for every kind of run (`curate stats DIR`, end of each command)."""

from __future__ import annotations

from typing import Any


def run_kind(stats: dict[str, Any]) -> str:
    """`helium`, `align` or `shards`: the `kind` a run wrote, or what its counters show (older folders)."""
    if "kind" in stats:
        return str(stats["kind"])
    if "documents" in stats:
        return "helium"
    if isinstance(stats.get("files"), dict):
        return "align"
    return "shards"


def summary_text(stats: dict[str, Any], kind: str | None = None) -> str:
    return SUMMARIES[kind or run_kind(stats)](stats)


def helium_summary(stats: dict[str, Any]) -> str:
    docs, lines = stats["documents"], stats["lines"]
    out = [
        f"files: {stats['files']}  shards: {len(stats['shards'])}",
        f"documents: in {docs['in']:,}  kept {docs['kept']:,}  errors {docs['errors']:,}",
    ]
    for reason, n in docs["dropped"].items():
        out.append(f"  dropped {reason}: {n:,}")
    out.append(
        f"lines: in {lines['in']:,}  removed exact {lines['removed_exact']:,}  removed near-dup {lines.get('removed_near_dup', 0):,}"
        f"  removed fuzzy {lines.get('removed_fuzzy', 0):,}"
    )
    out.append(f"bytes: in {stats['bytes_in']:,}  kept {stats['bytes_kept']:,}")
    out.append(f"reconciled: {stats['reconciled']}")
    return "\n".join(out)


def align_summary(stats: dict[str, Any]) -> str:
    files, words = stats["files"], stats.get("words", {})
    out = [f"files: in {files['in']:,}  kept {files['kept']:,}  errors {files['errors']:,}"]
    for reason, n in files["dropped"].items():
        out.append(f"  dropped {reason}: {n:,}")
    out.append(f"words: {words.get('out', 0):,} (recognised {words.get('asr', 0):,}, refined {words.get('aligned', 0):,})")
    out.append(f"reconciled: {stats['reconciled']}")
    return "\n".join(out)


def shards_summary(stats: dict[str, Any]) -> str:
    pad = stats.get("pad_share")
    lines = [
        f"files: {stats.get('files_in', 0)} in, {stats.get('files_ok', 0)} ok, {stats.get('errors', 0)} errors "
        f"{stats.get('errors_by_kind', {})} (reconciled: {stats.get('reconciled')})",
        f"audio: {stats.get('audio_seconds', 0) / 3600:.3f} h; windows: {stats.get('windows', 0)} ({stats.get('windows_padded', 0)} padded)",
        f"text stream: {stats.get('frames', 0)} frames, PAD share {pad if pad is None else f'{pad:.1%}'}",
        f"shards: {len(stats.get('shards', []))} files; parts: {stats.get('parts', 0)} ({stats.get('parts_run', 0)} run now)",
    ]
    return "\n".join(lines)


SUMMARIES = {"helium": helium_summary, "align": align_summary, "shards": shards_summary}
