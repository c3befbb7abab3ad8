"""Failure injection (bounded durations): lost workers, a lost node, a killed driver, an unwritable output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from curate.helium.config import HeliumConfig
from curate.helium.pipeline import run_helium
from curate.helium.wet_writer import WetPage, write_wet
from tests.conftest import REPO, c4_documents
from tests.helium.test_pipeline import tree_digest


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 files in 3 segments of real English pages with shared boilerplate."""
    root = tmp_path_factory.mktemp("failures")
    docs = c4_documents(36)
    for k in range(12):
        pages = [
            WetPage(f"https://s.example/{k}/{i}", f"Menu | Home | About\n{docs[(k * 3 + i) % 36]}\nFooter {i % 2}")
            for i in range(6)
        ]
        write_wet(root / f"segments/seg-{k % 3}/wet/f-{k:03d}.warc.wet.gz", pages)
    return root


@pytest.fixture(scope="module")
def reference(corpus: Path, tmp_path_factory: pytest.TempPathFactory, ray_local: None) -> dict[str, str]:
    out = tmp_path_factory.mktemp("reference")
    run_helium([str(corpus)], out, HeliumConfig(keep_rejected=True, chunk_bytes=1), workers=1)
    return tree_digest(out)


def test_killed_processor_is_replaced_and_the_run_completes(
    ray_local: None, corpus: Path, reference: dict, tmp_path: Path
) -> None:
    killed: list[int] = []

    def kill_first_processor(event: str, info: dict) -> None:
        if event == "chunk" and not killed:
            killed.append(info["pid"])
            os.kill(info["pid"], signal.SIGKILL)

    stats = run_helium(
        [str(corpus)], tmp_path, HeliumConfig(keep_rejected=True, chunk_bytes=1), workers=2, on_progress=kill_first_processor
    )
    assert killed, "a processor was killed mid-part"
    assert stats["reconciled"] and stats["files"] == 12
    assert tree_digest(tmp_path) == reference


CLUSTER_SCRIPT = textwrap.dedent(
    """
    import json, sys, threading
    import ray
    from ray.cluster_utils import Cluster
    from curate.helium.config import HeliumConfig
    from curate.helium.pipeline import run_helium

    corpus, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    nodes = [cluster.add_node(num_cpus=2) for _ in range(3)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address)
    removed = []

    def on_progress(event, info):
        if mode == "remove-node" and event == "done" and not removed:
            node = next(n for n in nodes if n.node_id == info["node"])
            removed.append(node.node_id)
            cluster.remove_node(node, allow_graceful=False)

    used = set()
    def track(event, info):
        if info.get("node"):
            used.add(info["node"])
        on_progress(event, info)

    stats = run_helium([corpus], out, HeliumConfig(keep_rejected=True, chunk_bytes=1), workers=3, on_progress=track)
    with open(out + ".summary.json", "w") as fh:  # not stdout: Ray's log lines may follow there
        json.dump({"reconciled": stats["reconciled"], "nodes_used": len(used), "removed": len(removed)}, fh)
    ray.shutdown()
    cluster.shutdown()
    """
)


@pytest.mark.parametrize("mode", ["three-nodes", "remove-node"])
def test_multi_node_cluster_matches_a_local_run(corpus: Path, reference: dict, tmp_path: Path, mode: str) -> None:
    script = tmp_path / "cluster_run.py"
    script.write_text(CLUSTER_SCRIPT)
    out = tmp_path / "out"
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, str(script), str(corpus), str(out), mode], cwd=REPO, env=env, capture_output=True, text=True, timeout=420
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(Path(str(out) + ".summary.json").read_text())
    assert summary["reconciled"]
    assert summary["nodes_used"] >= 2, "work was spread over several nodes"
    if mode == "remove-node":
        assert summary["removed"] == 1
    assert tree_digest(out) == reference


def _wait_for(predicate, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_driver_killed_at_several_points_resumes_identically(corpus: Path, reference: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "RAY_ADDRESS": ""}
    cmd = [sys.executable, "-m", "curate", "helium", str(corpus), "--output", str(out), "--workers", "2", "--keep-rejected"]
    config_path = tmp_path / "helium.yaml"
    config_path.write_text((REPO / "pipelines" / "helium.yaml").read_text().replace("chunk_bytes: 33554432", "chunk_bytes: 1"))
    cmd += ["--config", str(config_path)]
    parts = lambda: len(list((out / "_parts").glob("*.json"))) if (out / "_parts").exists() else 0  # noqa: E731
    points = {
        "while reading": lambda: (out / "run_config.json").exists(),
        "mid-write": lambda: any((out / "documents").glob(".tmp-*")) if (out / "documents").exists() else False,
        "after the last write, before stats": lambda: parts() == 12,
    }
    for name, reached in points.items():
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        assert _wait_for(reached), f"never reached: {name}"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not list(out.rglob(".tmp-*"))
    assert tree_digest(out) == reference


def test_unwritable_output_fails_clearly_and_presents_nothing_as_done(corpus: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root ignores permission bits: make the output path a file's child instead
        blocker = tmp_path / "blocker"
        blocker.write_text("")
        out = blocker / "out"
    else:
        out = tmp_path / "ro"
        out.mkdir()
        out.chmod(0o500)
    result = subprocess.run(
        [sys.executable, "-m", "curate", "helium", str(corpus), "--output", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "RAY_ADDRESS": ""},
    )
    assert result.returncode != 0
    assert "error" in result.stderr.lower()
    assert "Traceback" not in result.stderr
    assert not (out / "stats.json").exists()
