from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not found: {path}")
    return path


def c4_documents(n: int) -> list[str]:
    """Real English web documents (C4), used as article text in generated WET files."""
    path = shared_path("text", "web_filtered", "c4_en_train-00000-of-01024_first1000.jsonl")
    docs = []
    with open(path) as fh:
        for line in fh:
            text = json.loads(line)["text"]
            if text.count("\n") >= 3 and len(text) > 800:
                docs.append(text)
            if len(docs) == n:
                break
    return docs


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance (2 CPUs) for the whole test session."""
    from curate.core.ray_runtime import init_ray, shutdown_ray

    init_ray(workers=2)
    yield
    shutdown_ray()


def tree_snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under `root` (bytes-safe, so odd file names work) with its size and mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[os.fsdecode(path)] = (st.st_size, st.st_mtime_ns)
    return out
