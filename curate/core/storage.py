"""Atomic output files: write to a hidden temporary name in the same folder, fsync, rename.

A reader (or a resumed run) therefore sees either the complete file or nothing. Temporary names
start with `.tmp-` so that globs like `*.parquet` never pick them up, and `clean_temporaries`
removes the ones a killed run left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TMP_PREFIX = ".tmp-"


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `final`; on success fsync and rename it onto `final`."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}-{final.name}"
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(final: str | Path, data: bytes) -> None:
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)


def json_bytes(obj: Any, **kwargs: Any) -> bytes:
    """UTF-8 JSON; text holding undecodable file-name bytes (lone surrogates) is \\u-escaped
    instead, which is valid JSON that reads back to the same str (and so to the same path)."""
    try:
        return json.dumps(obj, ensure_ascii=False, **kwargs).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, ensure_ascii=True, **kwargs).encode("utf-8")


def write_json_atomic(final: str | Path, obj: Any) -> None:
    write_bytes_atomic(final, json_bytes(obj, indent=2, sort_keys=True) + b"\n")


def clean_temporaries(folder: str | Path) -> int:
    """Remove temporary files left by a killed run under `folder`; returns how many."""
    removed = 0
    folder = Path(folder)
    if not folder.exists():
        return 0
    for path in folder.rglob(f"{TMP_PREFIX}*"):
        if path.is_file():
            path.unlink()
            removed += 1
    return removed
