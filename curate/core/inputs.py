"""Input discovery and shard grouping.

INPUT arguments may be files, directories (searched recursively for WET files), globs, CommonCrawl
`*.paths` / `*.paths.gz` lists (one path or URL per line; relative entries are resolved against
`--input-base`, by default CommonCrawl's public HTTPS base; `s3://commoncrawl/` reads the same files
from the bucket), or fsspec URLs (`s3://bucket/prefix/` is listed recursively like a directory,
`s3://bucket/**/*.wet.gz` is a glob, `https://` files are taken as they are).
The result is de-duplicated and sorted, so the order never depends on how INPUT was spelled.
"""

from __future__ import annotations

import glob
import gzip
import io
import re
from collections import defaultdict
from pathlib import Path

from curate.core import storage

WET_SUFFIXES = (".warc.wet.gz", ".warc.wet", ".wet.gz", ".wet", ".warc.gz", ".warc")
CC_PREFIX = "https://data.commoncrawl.org/"
_SEGMENT = re.compile(r"/segments/([^/]+)/")


def _is_url(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def _read_paths_list(path: str, prefix: str) -> list[str]:
    """Stream a paths list (never a full local copy) and resolve its relative entries against `prefix`."""
    if not _is_url(path) and not Path(path).exists():
        raise FileNotFoundError(f"input not found: {path}")
    prefix = prefix if prefix.endswith("/") else prefix + "/"
    with storage.open_input(path) as raw:
        fh = io.TextIOWrapper(gzip.GzipFile(fileobj=raw) if path.endswith(".gz") else raw, encoding="utf-8")
        entries = [line.strip() for line in fh if line.strip() and not line.startswith("#")]
    return [e if _is_url(e) or e.startswith("/") else prefix + e.lstrip("/") for e in entries]


def _expand_url(item: str, suffixes: tuple[str, ...]) -> list[str]:
    """An fsspec URL: a glob, a prefix listed recursively (object stores), or one file."""
    if storage.protocol(item) in ("http", "https"):
        return [item]
    fs, path = storage.filesystem(item)
    try:
        if any(ch in item for ch in "*?["):
            return [fs.unstrip_protocol(p) for p in fs.glob(path) if fs.isfile(p)]
        if item.endswith("/") or fs.isdir(path):
            return [fs.unstrip_protocol(p) for p in fs.find(path) if p.endswith(suffixes)]
        fs.info(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"input not found: {item}") from None
    except Exception as exc:
        raise storage.explain(exc, item) from exc
    return [item]


def expand_inputs(inputs: list[str], suffixes: tuple[str, ...] = WET_SUFFIXES, paths_prefix: str = CC_PREFIX) -> list[str]:
    """Expand INPUT arguments into a sorted, de-duplicated list of file paths / URLs."""
    found: set[str] = set()
    for item in inputs:
        if item.endswith((".paths", ".paths.gz")):
            found.update(_read_paths_list(item, paths_prefix))
        elif _is_url(item):
            found.update(_expand_url(item, suffixes))
        elif any(ch in item for ch in "*?["):
            found.update(p for p in glob.glob(item, recursive=True) if Path(p).is_file())
        elif Path(item).is_dir():
            found.update(str(p) for p in Path(item).rglob("*") if p.is_file() and p.name.endswith(suffixes))
        elif Path(item).exists():
            found.add(str(Path(item)))
        else:
            raise FileNotFoundError(f"input not found: {item}")
    return sorted(found)


def segment_of(path: str) -> str | None:
    match = _SEGMENT.search(path)
    return match.group(1) if match else None


def group_into_shards(paths: list[str], shard_by: str = "segment") -> dict[str, list[str]]:
    """Group sorted paths into shards: ordered groups of files that share dedup state.

    `segment`: the CommonCrawl segment in `.../segments/<segment>/wet/...`; files outside any
    segment form the shard `all`. `files:N`: consecutive groups of N files (`files-00000`, ...).
    `all`: one shard.
    """
    paths = sorted(paths)
    shards: dict[str, list[str]] = defaultdict(list)
    if shard_by == "all":
        shards["all"] = list(paths)
    elif shard_by == "segment":
        for path in paths:
            shards[segment_of(path) or "all"].append(path)
    elif shard_by.startswith("files:"):
        size = int(shard_by.split(":", 1)[1])
        if size < 1:
            raise ValueError("--shard-by files:N needs N >= 1")
        for i in range(0, len(paths), size):
            shards[f"files-{i // size:05d}"] = paths[i : i + size]
    else:
        raise ValueError(f"unknown --shard-by {shard_by!r}: segment, files:N or all")
    return dict(sorted(shards.items()))


def printable_path(path: str) -> str:
    """A path as text that always encodes to UTF-8 (undecodable file-name bytes become \\xNN)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
