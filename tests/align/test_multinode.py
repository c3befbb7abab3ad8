"""The Inner Monologue pipeline (align -> shards) on a 3-node Ray cluster (issue 6, item 1, speech half).

`ray.cluster_utils.Cluster` starts a head without CPUs and three 2-CPU nodes, all on this host, in
a subprocess; `run_inner_monologue` joins it through `address=` (the `--address` path of the CLI)
with `workers=6`, so the two ASR actors and the prepare / shard tasks land on different nodes. Its
outputs -- `align/alignments/*.json`, `align/stats.json`, `align/errors.jsonl`, `shards/*.parquet`,
`moshi/**`, `stats.json`, `errors.jsonl` -- must be byte-identical (compared by content hash) to a
1-worker local run on two real clips: `jfk.flac` (11 s, stereo, 44.1 kHz) and
`stereo_diarization.wav` (5 s, a different speaker per channel).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("soundfile")
pytest.importorskip("faster_whisper")
pytest.importorskip("pocketsphinx")
pytest.importorskip("sentencepiece")

from curate.shards.build import ShardsConfig  # noqa: E402
from curate.shards.pipeline import run_inner_monologue  # noqa: E402
from curate.training.tokenizer import train_tokenizer  # noqa: E402
from tests.conftest import REPO, require, shared_path  # noqa: E402

MODEL = REPO / "models" / "whisper-base-ct2"
# cpu_threads=1: one CPU per ASR actor, so the cluster run gets three actors spread over the nodes.
# (The actors' thread count is pinned, so outputs never depend on the worker count: see
# test_align_output_does_not_depend_on_the_worker_count, which uses the default of 2.)
ALIGN = {"language": "en", "asr_model": str(MODEL), "cpu_threads": 1}
SHARDS = {"window": 10.0, "files_per_part": 1}  # one part per clip: the two parts can run on two nodes

require(MODEL / "model.bin")

CLUSTER_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import ray
    from ray.cluster_utils import Cluster
    from curate.shards.build import ShardsConfig
    from curate.shards.pipeline import run_inner_monologue

    args = json.loads(sys.argv[1])
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    nodes = [cluster.add_node(num_cpus=2) for _ in range(3)]
    cluster.wait_for_nodes()
    workers = {n.node_id for n in nodes}
    stats = run_inner_monologue(args["inputs"], args["out"], args["align"], ShardsConfig(**args["shards"]),
                                address=cluster.address, workers=args["workers"])
    # where the ASR actors ran (the GCS actor table keeps dead actors)
    from ray._private.state import actors
    actor_nodes = sorted({a["Address"]["NodeID"] for a in actors().values() if a.get("ActorClassName", "").endswith("AlignWorkerCore")})
    summary = {
        "reconciled": stats["reconciled"],
        "align_reconciled": stats["align"]["reconciled"],
        "nodes": len(ray.nodes()),
        "actor_nodes": len(actor_nodes),
        "actor_nodes_are_workers": all(n in workers for n in actor_nodes),
    }
    with open(args["out"] + ".summary.json", "w") as fh:  # not stdout: Ray's log lines may follow there
        json.dump(summary, fh)
    ray.shutdown()
    cluster.shutdown()
    """
)


def tree_digest(out: Path) -> dict[str, str]:
    """Content hash of every output that must be deterministic (not `_parts/` with its timings, nor run.json)."""
    files = sorted((out / "align" / "alignments").glob("*.json"))
    files += sorted((out / "shards").glob("*.parquet"))
    files += sorted(p for p in (out / "moshi").rglob("*") if p.is_file())
    files += [out / "align" / "stats.json", out / "align" / "errors.jsonl", out / "stats.json", out / "errors.jsonl"]
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.exists()}


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small SentencePiece model trained on real book text (as in tests/shards/test_pipeline.py)."""
    book = shared_path("text", "hq", "books", "pg1342_pride_and_prejudice.txt")
    folder = tmp_path_factory.mktemp("tok")
    paragraphs = [p for p in book.read_text(encoding="utf-8").split("\n\n") if p.strip()][:800]
    pq.write_table(pa.table({"text": paragraphs}), folder / "corpus.parquet")
    return Path(train_tokenizer([str(folder / "corpus.parquet")], folder / "spm.model", vocab_size=500)["model"])


@pytest.fixture(scope="module")
def clips() -> list[str]:
    return [
        str(shared_path("speech", "faster_whisper", "jfk.flac")),
        str(shared_path("speech", "faster_whisper", "stereo_diarization.wav")),
    ]


@pytest.fixture(scope="module")
def local_run(ray_local: None, tokenizer: Path, clips: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: a 1-worker local run (one ASR actor)."""
    out = tmp_path_factory.mktemp("local")
    started = time.monotonic()
    stats = run_inner_monologue(clips, out, dict(ALIGN), ShardsConfig(**SHARDS, tokenizer=str(tokenizer)), workers=1)
    print(f"local 1-worker run: {time.monotonic() - started:.1f} s")
    assert stats["reconciled"] and stats["align"]["reconciled"]
    assert stats["files_in"] == stats["files_ok"] == 2 and stats["parts"] == 2 and stats["windows"] >= 3
    return out


@pytest.fixture(scope="module")
def cluster_run(tokenizer: Path, clips: list[str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("cluster")
    script = tmp / "cluster_run.py"
    script.write_text(CLUSTER_SCRIPT)
    out = tmp / "out"
    args = {"inputs": clips, "out": str(out), "align": ALIGN, "shards": {**SHARDS, "tokenizer": str(tokenizer)}, "workers": 4}
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(script), json.dumps(args)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    print(f"3-node cluster run (start, align, shards, stop): {time.monotonic() - started:.1f} s")
    assert result.returncode == 0, result.stderr[-3000:]
    return out, json.loads(Path(str(out) + ".summary.json").read_text())


def test_local_reference_outputs(local_run: Path) -> None:
    reference = tree_digest(local_run)
    assert sorted(p for p in reference if p.startswith("align/alignments/")) == [
        "align/alignments/jfk.json",
        "align/alignments/stereo_diarization.json",
    ]
    assert any(p.startswith("shards/") for p in reference) and "moshi/manifest.jsonl" in reference
    assert sum(p.startswith("moshi/data_stereo/") for p in reference) == 4  # a WAV and a JSON per clip
    record = json.loads((local_run / "align" / "alignments" / "jfk.json").read_text())
    assert record["stream_mode"] == "stereo"  # jfk.flac has two (identical) channels
    main = " ".join(w for w, _, spk in record["alignments"] if spk == "SPEAKER_MAIN").lower().replace(",", "")
    assert "ask not what your country can do for you" in main


def test_inner_monologue_on_three_nodes_matches_a_local_run(local_run: Path, cluster_run: tuple[Path, dict]) -> None:
    out, summary = cluster_run
    assert summary["reconciled"] and summary["align_reconciled"]
    assert summary["nodes"] == 4  # the CPU-less head and three 2-CPU workers
    # workers=4 -> 3 ASR actors of 1 CPU each on 2-CPU nodes: at least two nodes hold one
    assert summary["actor_nodes"] >= 2 and summary["actor_nodes_are_workers"], summary
    assert not list(out.rglob(".tmp-*"))
    assert tree_digest(out) == tree_digest(local_run)


ALIGN_TWICE = """
import sys
from curate.core.ray_runtime import init_ray
from curate.align.pipeline import AlignConfig, run_align
clip, out, model = sys.argv[1:4]
init_ray(workers=4)  # a fresh local Ray with 4 CPUs, shared by both runs
for workers in (1, 4):  # the ASR actor gets 0 CPUs, then min(cpu_threads=2, workers - 1) = 2
    config = AlignConfig(language="en", asr_model=model, cpu_threads=2)
    run_align([clip], f"{out}/w{workers}", config, workers=workers)
"""


def test_align_output_does_not_depend_on_the_worker_count(tmp_path: Path) -> None:
    clip = str(shared_path("speech", "praatio", "bobby.wav"))  # 1.2 s mono: one ASR call per run
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", ALIGN_TWICE, clip, str(tmp_path), str(MODEL)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    one, four = (json.loads((tmp_path / f"w{w}" / "alignments" / "bobby.json").read_text()) for w in (1, 4))
    assert one["alignments"] and four["alignments"]
    assert four == one
