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


def write_json_atomic(final: str | Path, obj: Any) -> None:
    write_bytes_atomic(final, (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())


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
