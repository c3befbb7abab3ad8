"""The Helium pipeline on object storage, against a real S3-compatible server (SeaweedFS) that the
test session starts on 127.0.0.1 (`s3_server` fixture): inputs read from and outputs written to
s3:// URLs must be byte-identical to a run that writes to the local disk, for 1 and 2 workers;
CommonCrawl paths lists resolve against `--input-base`; a killed driver resumes to identical
objects with nothing stray; a multi-node cluster whose nodes share only the endpoint gives the same
bytes; user errors (credentials, bucket, permissions) are one line and exit code 2.
"""

# ruff: noqa: F811  (the fixtures of test_pipeline are imported, then named as arguments)
from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.core.models import bundled_model_path
from curate.helium.config import HeliumConfig
from curate.helium.pipeline import run_helium
from curate.helium.wet_writer import write_wet
from tests.conftest import REPO, local_digest, s3_digest
from tests.helium.test_pipeline import FOOTER, HEADER, SEGMENT, articles, page, planted_shard  # noqa: F401
from tests.s3_server import READONLY_KEY, READONLY_SECRET

BUCKET = "helium"
NOT_COMPARED = {"run.json"}  # timings


def upload_tree(fs, root: Path, prefix: str) -> list[str]:
    urls = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(root)}"
        fs.put_file(str(path), key)
        urls.append(f"s3://{key}")
    return urls


def digest_s3(fs, prefix: str) -> dict[str, str]:
    return {k: v for k, v in s3_digest(fs, prefix).items() if k not in NOT_COMPARED}


def digest_local(root: Path) -> dict[str, str]:
    return {k: v for k, v in local_digest(root).items() if k not in NOT_COMPARED}


@pytest.fixture(scope="module")
def s3_corpus(s3_server, planted_shard: Path) -> str:  # noqa: F811
    """The planted CommonCrawl segment, uploaded under s3://helium/cc/ (the layout CommonCrawl uses)."""
    fs = s3_server.fs()
    s3_server.make_bucket(BUCKET)
    upload_tree(fs, planted_shard, f"{BUCKET}/cc")
    return f"s3://{BUCKET}/cc/"


@pytest.fixture(scope="module")
def s3_reference(s3_server, s3_corpus: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same S3 inputs, written to the local disk by one worker: the bytes every S3 run must match."""
    from curate.core.ray_runtime import init_ray
    from curate.core.storage import set_storage_options

    init_ray(workers=2)
    set_storage_options(s3_server.storage_options())
    out = tmp_path_factory.mktemp("s3-reference") / "out"
    try:
        run_helium([s3_corpus], out, HeliumConfig(keep_rejected=True, shard_by="files:1"), workers=1)
    finally:
        set_storage_options(None)
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_s3_in_s3_out_is_byte_identical_to_local_disk(
    ray_local: None,
    s3_storage,
    s3_corpus: str,
    s3_reference: Path,
    planted_shard: Path,
    tmp_path: Path,
    workers: int,  # noqa: F811
) -> None:
    fs = s3_storage.fs()
    out = f"s3://{BUCKET}/runs/w{workers}"
    stats = run_helium([s3_corpus], out, HeliumConfig(keep_rejected=True, shard_by="files:1"), workers=workers)
    assert stats["files"] == 3 and stats["reconciled"]
    on_s3, on_disk = digest_s3(fs, out.removeprefix("s3://")), digest_local(s3_reference)
    assert len([k for k in on_s3 if k.endswith(".parquet")]) == 6
    assert on_s3 == on_disk, "every object equals the file of the local-disk run"
    assert not [k for k in s3_digest(fs, out.removeprefix("s3://")) if ".tmp-" in k]

    # the same documents as a run on local inputs (only the `source` column names another place)
    local = tmp_path / "local"
    run_helium([str(planted_shard)], local, HeliumConfig(keep_rejected=True, shard_by="files:1"), workers=workers)

    def rows(table) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "source"} for r in table.to_pylist()]

    for name in sorted(p.name for p in (local / "documents").glob("*.parquet")):
        with fs.open(f"{out.removeprefix('s3://')}/documents/{name}", "rb") as fh:
            assert rows(pq.read_table(fh)) == rows(pq.read_table(local / "documents" / name))


def _paths_list(entries: list[str]) -> bytes:
    return gzip.compress(("\n".join(entries) + "\n").encode(), mtime=0)


def test_commoncrawl_paths_list_resolved_against_input_base(
    ray_local: None, s3_storage, s3_corpus: str, s3_reference: Path, tmp_path: Path
) -> None:
    fs = s3_storage.fs()
    keys = sorted(k for k in fs.find(f"{BUCKET}/cc") if "/segments/" in k)
    relative = [k.removeprefix(f"{BUCKET}/cc/") for k in keys]  # as in CommonCrawl's wet.paths.gz
    assert relative[0].startswith("segments/")
    fs.pipe_file(f"{BUCKET}/lists/wet.paths.gz", _paths_list(relative))
    local_list = tmp_path / "wet.paths.gz"
    local_list.write_bytes(_paths_list(relative))
    config = HeliumConfig(keep_rejected=True, shard_by="files:1")
    for i, listing in enumerate([f"s3://{BUCKET}/lists/wet.paths.gz", str(local_list)]):
        out = f"s3://{BUCKET}/runs/paths-{i}"
        run_helium([listing], out, config, workers=2, input_base=s3_corpus)
        assert digest_s3(fs, out.removeprefix("s3://")) == digest_local(s3_reference)


def test_object_listed_then_deleted_becomes_an_error_record(
    ray_local: None,
    s3_storage,
    planted_shard: Path,
    monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    import curate.helium.pipeline as pipeline

    fs = s3_storage.fs()
    upload_tree(fs, planted_shard, f"{BUCKET}/vanishing")
    real_expand = pipeline.expand_inputs
    gone: list[str] = []

    def expand_then_delete(*args, **kwargs):  # the listing happens, then another job deletes an object
        paths = real_expand(*args, **kwargs)
        gone.append(paths[1])
        fs.rm_file(paths[1].removeprefix("s3://"))
        return paths

    monkeypatch.setattr(pipeline, "expand_inputs", expand_then_delete)
    out = f"s3://{BUCKET}/runs/vanishing"
    stats = run_helium([f"s3://{BUCKET}/vanishing/"], out, HeliumConfig(shard_by="files:1"), workers=2)
    issues = [json.loads(line) for line in fs.cat_file(f"{BUCKET}/runs/vanishing/errors.jsonl").decode().splitlines()]
    missing = [i for i in issues if i["kind"] == "input_missing"]
    assert [i["source"] for i in missing] == gone
    assert stats["files"] == 3 and stats["reconciled"] and stats["documents"]["errors"] == 1


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "curate", "helium", *args]


def _env(server, key: str | None = None, secret: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(server.env(*(x for x in (key, secret) if x)))
    env.update({"RAY_ADDRESS": "", "PYTHONPATH": str(REPO), "COLUMNS": "100"})
    return env


@pytest.mark.parametrize(
    "case,expected",
    [
        ("wrong-credentials", "access denied"),
        ("missing-bucket", "does not exist"),
        ("read-only-bucket", "access denied"),
    ],
)
def test_storage_user_errors_are_one_line_and_exit_2(s3_server, s3_corpus: str, case: str, expected: str) -> None:
    if case == "wrong-credentials":
        env, output = _env(s3_server, "no-such-key", "wrong-secret"), f"s3://{BUCKET}/runs/denied"
    elif case == "missing-bucket":
        env, output = _env(s3_server), "s3://no-such-bucket/out"
    else:  # credentials that may read and list but not write
        env, output = _env(s3_server, READONLY_KEY, READONLY_SECRET), f"s3://{BUCKET}/runs/read-only"
    result = subprocess.run(
        _cli(s3_corpus, "--output", output, "--workers", "1"), cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], result.stderr
    if case != "missing-bucket":
        assert not s3_server.fs().exists(output.removeprefix("s3://")), "nothing written"


def test_driver_killed_resumes_to_identical_objects(ray_local: None, s3_storage, tmp_path: Path, articles) -> None:  # noqa: F811
    fs = s3_storage.fs()
    pages = [page(f"https://s.example/{i}", [*HEADER, *articles[i % 4], f"page {i}", *FOOTER]) for i in range(40)]
    inputs = tmp_path / "in"
    for k in range(16):
        write_wet(inputs / f"segments/seg-{k % 4}/wet/f-{k:03d}.warc.wet.gz", pages[k * 2 : k * 2 + 20])
    upload_tree(fs, inputs, f"{BUCKET}/kill-in")
    source = f"s3://{BUCKET}/kill-in/"
    reference = f"s3://{BUCKET}/runs/kill-reference"
    run_helium([source], reference, HeliumConfig(keep_rejected=True), workers=1)

    out = f"{BUCKET}/runs/killed"
    cmd = _cli(source, "--output", f"s3://{out}", "--workers", "1", "--keep-rejected")
    env = _env(s3_storage)

    def committed() -> int:
        try:
            return len(fs.ls(f"{out}/_parts", refresh=True))
        except FileNotFoundError:
            return 0

    proc = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and committed() < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 3 <= committed() < 16, "the kill must land mid-run"
    assert not fs.exists(f"{out}/stats.json")

    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert digest_s3(fs, out) == digest_s3(fs, reference.removeprefix("s3://")), "same objects, same bytes, nothing stray"


CLUSTER_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, tempfile
    import ray
    from ray.cluster_utils import Cluster
    from curate.core.storage import set_storage_options
    from curate.helium.config import HeliumConfig
    from curate.helium.pipeline import run_helium

    args = json.loads(sys.argv[1])
    set_storage_options(args["storage"])
    # every node has its own temporary directory and spill space: they share only the S3 endpoint
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    nodes = []
    for i in range(2):
        spill = tempfile.mkdtemp(prefix=f"node{i}-")
        nodes.append(cluster.add_node(num_cpus=2, env_vars={"CURATE_SPILL_DIR": spill, "TMPDIR": spill}))
    cluster.wait_for_nodes()
    ray.init(address=cluster.address)
    used = set()

    def track(event, info):
        if info.get("node"):
            used.add(info["node"])

    config = HeliumConfig(keep_rejected=True, shard_by="files:1", chunk_bytes=1, lid_model=args["lid_model"])
    stats = run_helium(args["inputs"], args["out"], config, workers=4, on_progress=track)
    print("SUMMARY " + json.dumps({"reconciled": stats["reconciled"], "nodes_used": len(used & {n.node_id for n in nodes})}))
    ray.shutdown()
    cluster.shutdown()
    """
)


def test_multi_node_cluster_sharing_only_the_s3_endpoint(s3_server, s3_corpus: str, tmp_path: Path) -> None:
    fs = s3_server.fs()
    lid = f"{BUCKET}/models/lid.176.ftz"
    fs.put_file(str(bundled_model_path("lid.176.ftz")), lid)  # the model too comes from the bucket
    reference = f"s3://{BUCKET}/runs/cluster-reference"
    single = f"s3://{BUCKET}/runs/cluster"
    args = {"inputs": [s3_corpus], "storage": s3_server.storage_options(), "lid_model": f"s3://{lid}"}
    script = tmp_path / "cluster_run.py"
    script.write_text(CLUSTER_SCRIPT)
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONPATH": str(REPO)}
    workdir = tmp_path / "cwd"  # an empty working directory: no input or output lives on this disk
    workdir.mkdir()
    result = subprocess.run(
        [sys.executable, str(script), json.dumps({**args, "out": single})],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("SUMMARY "))[8:])
    assert summary["reconciled"] and summary["nodes_used"] == 2, summary
    assert list(workdir.iterdir()) == []

    from curate.core.ray_runtime import init_ray
    from curate.core.storage import set_storage_options

    init_ray(workers=2)
    set_storage_options(s3_server.storage_options())
    try:
        config = HeliumConfig(keep_rejected=True, shard_by="files:1", chunk_bytes=1, lid_model=f"s3://{lid}")
        run_helium([s3_corpus], reference, config, workers=1)
    finally:
        set_storage_options(None)
    assert digest_s3(fs, single.removeprefix("s3://")) == digest_s3(fs, reference.removeprefix("s3://"))


def test_report_of_a_run_in_a_bucket(s3_storage, s3_reference: Path, tmp_path: Path) -> None:
    import re

    from curate.report.page import write_report

    fs = s3_storage.fs()
    upload_tree(fs, s3_reference, f"{BUCKET}/runs/report")
    url = write_report(f"s3://{BUCKET}/runs/report")
    assert url == f"s3://{BUCKET}/runs/report/report.html"
    local = write_report(s3_reference, tmp_path / "report.html")

    def page(html: str, where: str) -> str:  # the same page but for where the run is and when it was written
        return re.sub(r"<header>.*?</header>|<title>.*?</title>", "", html, flags=re.S).replace(where, "RUN")

    remote_html = fs.cat_file(f"{BUCKET}/runs/report/report.html").decode()
    assert f"s3://{BUCKET}/runs/report" in remote_html
    assert page(remote_html, f"s3://{BUCKET}/runs/report") == page(Path(local).read_text(), str(s3_reference))
