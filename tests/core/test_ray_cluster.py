"""A Ray cluster started the way users start one: `ray start --head --block`, then `curate ... --address`.

The head runs in a subprocess of this test (this host only: own temp dir, free ports, its own
authentication token so no other Ray instance on the host can join or be joined), with the
project on its PYTHONPATH as an installed project would be on a cluster's nodes. `curate helium`
and `curate align` run as command lines against it, through the GCS address (`HOST:PORT`, a driver
on a node of the cluster) and through Ray Client (`ray://HOST:PORT`, which needs `ray[client]`);
their outputs must be byte-identical to local runs. The cluster is stopped by signalling the
`ray start` process this test started, and no process of it may be left.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, c4_documents, require, shared_path

RAY = Path(sys.executable).with_name("ray")
MODEL = Path(os.environ.get("CURATE_MODELS_DIR", REPO / "models")) / "whisper-base-ct2"
CLIPS = [shared_path("speech", "faster_whisper", "jfk.flac"), shared_path("speech", "faster_whisper", "stereo_diarization.wav")]
require(RAY, MODEL / "model.bin")

pytestmark = pytest.mark.slow

TIMINGS: dict[str, float] = {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text` (the cluster's temp dir names every one of them)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class Cluster:
    def __init__(self, proc: subprocess.Popen, temp_dir: str, gcs: str, client: str, env: dict[str, str]) -> None:
        self.proc, self.temp_dir, self.gcs, self.client, self.env = proc, temp_dir, gcs, client, env


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    # a short path: Ray's unix sockets live under it (108-byte limit)
    temp_dir = tempfile.mkdtemp(prefix="curate-ray-", dir="/tmp")
    token = secrets.token_hex(32)
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN_PATH")}
    env.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "PYTHONPATH": str(REPO), "RAY_USAGE_STATS_ENABLED": "0"})
    # the worker port range first, then every component on a distinct free port outside it (Ray refuses
    # to start when a component port falls inside the worker range)
    worker_low = _free_port()
    taken = set(range(worker_low, worker_low + 201))
    ports: dict[str, int] = {}
    for name in (
        "port",
        "ray-client-server-port",
        "node-manager-port",
        "object-manager-port",
        "dashboard-agent-listen-port",
        "dashboard-agent-grpc-port",
        "runtime-env-agent-port",
        "metrics-export-port",
    ):
        while (port := _free_port()) in taken:
            pass
        ports[name] = port
        taken.add(port)
    cmd = [
        str(RAY), "start", "--head", "--block", "--node-ip-address=127.0.0.1", "--num-cpus=2", "--include-dashboard=false",
        "--disable-usage-stats", f"--temp-dir={temp_dir}", f"--min-worker-port={worker_low}", f"--max-worker-port={worker_low + 200}",
        *(f"--{name}={port}" for name, port in ports.items()),
    ]  # fmt: skip
    log = open(Path(temp_dir) / "ray-start.log", "w")  # noqa: SIM115 - closed at teardown
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = started + 240
        while "Ray runtime started" not in (Path(temp_dir) / "ray-start.log").read_text():
            assert proc.poll() is None, (Path(temp_dir) / "ray-start.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "ray start did not come up in 240 s"
            time.sleep(0.5)
        TIMINGS["cluster start"] = time.monotonic() - started
        yield Cluster(proc, temp_dir, f"127.0.0.1:{ports['port']}", f"ray://127.0.0.1:{ports['ray-client-server-port']}", env)
    finally:
        stopping = time.monotonic()
        proc.send_signal(signal.SIGTERM)  # `ray start --block` drains the node and stops what it started
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        TIMINGS["cluster stop"] = time.monotonic() - stopping
        log.close()
        deadline = time.monotonic() + 30
        while _processes_mentioning(temp_dir) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = _processes_mentioning(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
        print("real-cluster timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in TIMINGS.items()))
        assert not left, f"processes of the cluster still running: {left}"


def _curate(args: list[str], env: dict[str, str], label: str) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "curate", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    TIMINGS[label] = time.monotonic() - started
    assert result.returncode == 0, f"{label}: {result.stdout[-2000:]}\n{result.stderr[-4000:]}"


def _local_env(cluster: Cluster) -> dict[str, str]:
    return {k: v for k, v in cluster.env.items() if not k.startswith("RAY_AUTH")}


def _digest(out: Path, patterns: list[str]) -> dict[str, str]:
    files = sorted({p for pattern in patterns for p in out.glob(pattern) if p.is_file()})
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def wet_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from curate.helium.wet_writer import WetPage, write_wet

    docs = c4_documents(24)
    root = tmp_path_factory.mktemp("wet")
    for k in range(4):  # two segments (shards) of two files, with a copied page in each segment
        pages = [WetPage(f"https://s{k}.example/{i}", docs[(k * 6 + i) % 24], "eng") for i in range(6)]
        pages.append(WetPage(f"https://copy{k}.example/", docs[(k // 2) * 12], "eng"))
        write_wet(root / f"segments/seg-{k // 2}/wet/CC-MAIN-{k:05d}.warc.wet.gz", pages)
    return root


HELIUM_OUTPUTS = ["documents/*.parquet", "rejected/*.parquet", "stats.json", "errors.jsonl"]
ALIGN_OUTPUTS = ["alignments/*.json", "stats.json", "errors.jsonl"]


def test_helium_on_a_ray_start_cluster_matches_a_local_run(cluster: Cluster, wet_inputs: Path, tmp_path: Path) -> None:
    args = [str(wet_inputs), "--workers", "2", "--keep-rejected"]
    _curate(["helium", *args, "--output", str(tmp_path / "local")], _local_env(cluster), "helium local")
    _curate(
        ["helium", *args, "--output", str(tmp_path / "gcs"), "--address", cluster.gcs], cluster.env, "helium --address HOST:PORT"
    )
    _curate(
        ["helium", *args, "--output", str(tmp_path / "client"), "--address", cluster.client],
        cluster.env,
        "helium --address ray://",
    )
    local = _digest(tmp_path / "local", HELIUM_OUTPUTS)
    assert len(local) >= 5 and any(k.startswith("documents/") for k in local)
    assert _digest(tmp_path / "gcs", HELIUM_OUTPUTS) == local
    assert _digest(tmp_path / "client", HELIUM_OUTPUTS) == local
    # the runs did join the cluster: run.json records the address
    assert cluster.gcs in (tmp_path / "gcs" / "run.json").read_text()


def test_align_on_a_ray_start_cluster_matches_a_local_run(cluster: Cluster, tmp_path: Path) -> None:
    args = [*map(str, CLIPS), "--language", "en", "--workers", "2"]
    _curate(["align", *args, "--output", str(tmp_path / "local")], _local_env(cluster), "align local")
    _curate(
        ["align", *args, "--output", str(tmp_path / "gcs"), "--address", cluster.gcs], cluster.env, "align --address HOST:PORT"
    )
    local = _digest(tmp_path / "local", ALIGN_OUTPUTS)
    assert len([k for k in local if k.startswith("alignments/")]) == 2
    assert _digest(tmp_path / "gcs", ALIGN_OUTPUTS) == local
