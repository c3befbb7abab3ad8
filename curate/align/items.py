"""Align-stage inputs: expand INPUT arguments / JSONL manifests into items with safe, unique ids;
RTTM parsing; main-speaker choice; drop rules. Pure functions (no audio, no models)."""

from __future__ import annotations

import glob
import hashlib
import json
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from curate.core import storage

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".opus", ".aac", ".webm")


@dataclass(frozen=True)
class Item:
    id: str
    path: str
    transcript: str | None = None
    rttm: str | None = None
    language: str | None = None
    speakers: int | None = None
    extra: dict = field(default_factory=dict, hash=False, compare=False)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def sanitize_id(name: str) -> str:
    """Filesystem-safe id: no separators, no leading dots (so never '..'), bounded length."""
    safe = _UNSAFE.sub("_", name).strip("._-")
    return (safe or "audio")[:120]


def assign_ids(items: Sequence[Item]) -> list[Item]:
    """Make ids unique and deterministic: colliding ids get a hash of their path appended."""
    groups: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        groups[sanitize_id(item.id)].append(item)
    out: list[Item] = []
    for base, group in groups.items():
        for item in group:
            new_id = base if len(group) == 1 else f"{base}-{hashlib.sha1(item.path.encode()).hexdigest()[:8]}"
            out.append(Item(new_id, item.path, item.transcript, item.rttm, item.language, item.speakers, item.extra))
    if len({i.id for i in out}) != len(out):
        raise ValueError("duplicate inputs: the same file is listed twice")
    return sorted(out, key=lambda i: i.id)


def read_manifest(path: str) -> list[Item]:
    items = []
    base = Path(path).parent
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        audio = Path(row["path"])
        audio = audio if audio.is_absolute() else base / audio
        rttm = row.get("rttm")
        if rttm and not Path(rttm).is_absolute():
            rttm = str(base / rttm)
        items.append(
            Item(
                str(row.get("id") or audio.stem),
                str(audio),
                row.get("transcript"),
                rttm,
                row.get("language"),
                row.get("speakers"),
            )
        )
    return items


def expand_items(inputs: Sequence[str]) -> list[Item]:
    """Files, directories (recursive, audio suffixes), globs and `*.jsonl` manifests -> sorted items."""
    paths: set[str] = set()
    items: list[Item] = []
    for arg in inputs:
        if storage.is_remote(arg):  # s3://bucket/prefix/ (listed recursively), a glob, or one object
            paths.update(storage.find_files(arg, AUDIO_SUFFIXES))
        elif arg.endswith(".jsonl") and Path(arg).is_file():
            items.extend(read_manifest(arg))
        elif any(ch in arg for ch in "*?["):
            paths.update(p for p in glob.glob(arg, recursive=True) if Path(p).is_file())
        elif Path(arg).is_dir():
            paths.update(str(p) for p in Path(arg).rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        elif Path(arg).exists():
            paths.add(str(Path(arg)))  # an explicit file is taken whatever its extension
        else:
            raise FileNotFoundError(f"input not found: {arg}")
    items.extend(Item(Path(p).stem, p) for p in sorted(paths))
    seen: set[str] = set()
    unique = [i for i in items if not (i.path in seen or seen.add(i.path))]  # type: ignore[func-returns-value]
    return assign_ids(unique)


def read_rttm(path: str, file_id: str | None = None) -> list[tuple[str, float, float]]:
    """(speaker, start, end) turns of an RTTM file (all files in it unless `file_id` matches one)."""
    turns = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[0] == "SPEAKER":
            turns.append((parts[1], parts[7], float(parts[3]), float(parts[3]) + float(parts[4])))
    files = {t[0] for t in turns}
    if file_id in files:
        turns = [t for t in turns if t[0] == file_id]
    return sorted((spk, s, e) for _, spk, s, e in turns)


def choose_main_speaker(
    turns: Sequence[tuple[str, float, float]], mode: str = "most", seed: int = 0, key: str = ""
) -> str | None:
    """The speaker who speaks most (ties: smallest label), or a seeded random one per file."""
    totals: dict[str, float] = defaultdict(float)
    for spk, s, e in turns:
        totals[spk] += max(0.0, e - s)
    if not totals:
        return None
    if mode == "random":
        rng = random.Random(f"{seed}:{key}")  # deterministic per (seed, file)
        return rng.choice(sorted(totals))
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


def merge_segments(segments: Sequence[tuple[float, float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for s, e in sorted(segments):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [[round(s, 3), round(e, 3)] for s, e in out]


def overlap(a0: float, a1: float, segments: Sequence[Sequence[float]]) -> float:
    return sum(max(0.0, min(a1, e) - max(a0, s)) for s, e in segments)


@dataclass(frozen=True)
class DropRules:
    min_duration: float = 1.0
    min_word_probability: float = 0.35
    max_no_speech_prob: float = 0.8
    min_rate: float = 0.5
    max_rate: float = 8.0


def drop_reason(
    duration: float,
    n_words: int,
    speech_seconds: float,
    mean_probability: float | None,
    no_speech_prob: float,
    rules: DropRules,
    has_speech: bool = True,
) -> str | None:
    """The first drop rule a file breaks, or None to keep it.

    too_short (< min_duration s) -> no_speech (VAD found none, or no words) -> low_confidence
    (mean word probability < threshold, or no-speech probability > threshold) -> implausible_rate
    (words per second of speech, i.e. over the spans from each stream's first to last word,
    outside [min_rate, max_rate]).
    """
    if duration < rules.min_duration:
        return "too_short"
    if not has_speech or n_words == 0:
        return "no_speech"
    if (
        mean_probability is not None and mean_probability < rules.min_word_probability
    ) or no_speech_prob > rules.max_no_speech_prob:
        return "low_confidence"
    rate = n_words / speech_seconds if speech_seconds > 0 else float("inf")
    if not rules.min_rate <= rate <= rules.max_rate:
        return "implausible_rate"
    return None
