"""Run every benchmark of the project, one after the other, each in its own subprocess
(`make bench`): `bench/bench_*.py` modules that exist (helium, classifiers, speech, shards, ...).

Each module prints its own table and writes its own results under `bench/results/` (git-ignored);
this runner also keeps each module's output in `bench/results/<module>.log` and writes
`bench/results/summary.json` (exit status and time of each) and `bench/results/summary.md`
(every module's output, in order). Arguments after `--` are passed to every module; environment
variables (e.g. `BENCH_SIZE_MB=20` for a quick Helium run) reach them too.

    .venv/bin/python -m bench.run_all [--only helium,shards] [--timeout 1800] [-- ARGS...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
ORDER = [
    "bench_helium",
    "bench_classifiers",
    "bench_dedup_eval",
    "bench_speech",
    "bench_shards",
]  # known ones first, others after


def discover() -> list[str]:
    found = sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))
    return [m for m in ORDER if m in found] + [m for m in found if m not in ORDER]


def run_module(module: str, args: list[str], timeout: float) -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = RESULTS / f"{module.removeprefix('bench_')}.log"
    cmd = [sys.executable, "-m", f"bench.{module}", *args]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    print(f"\n=== {module}: {' '.join(cmd)}", flush=True)
    started = time.perf_counter()
    output: list[str] = []
    with subprocess.Popen(
        cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as proc:
        assert proc.stdout is not None
        timer = threading.Timer(timeout, proc.kill)  # a stuck benchmark must not hang `make bench`
        timer.start()
        try:
            for line in proc.stdout:  # streamed, so a long benchmark shows its progress
                sys.stdout.write(line)
                output.append(line)
            returncode = proc.wait()
        finally:
            timed_out = not timer.is_alive()
            timer.cancel()
    status: int | str = "timeout" if timed_out and returncode != 0 else returncode
    elapsed = time.perf_counter() - started
    log.write_text("".join(output))
    print(
        f"=== {module}: {'ok' if status == 0 else f'FAILED ({status})'} in {elapsed:.0f}s, log {log.relative_to(REPO_ROOT)}",
        flush=True,
    )
    return {
        "module": module,
        "status": status,
        "ok": status == 0,
        "elapsed_s": round(elapsed, 1),
        "log": str(log.relative_to(REPO_ROOT)),
        "output": "".join(output),
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated names (helium, classifiers, speech, shards, ...)")
    parser.add_argument("--timeout", type=float, default=3600, help="per module, seconds")
    args = parser.parse_args(argv)

    modules = discover()
    if args.only:
        wanted = {f"bench_{name.strip().removeprefix('bench_')}" for name in args.only.split(",") if name.strip()}
        missing = sorted(wanted - set(modules))
        if missing:
            print(f"run_all: no such benchmark module(s): {', '.join(missing)}", file=sys.stderr)
        modules = [m for m in modules if m in wanted]
    if not modules:
        print("run_all: nothing to run", file=sys.stderr)
        return 1
    results = [run_module(m, passthrough, args.timeout) for m in modules]

    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "modules": [{k: v for k, v in r.items() if k != "output"} for r in results],
    }
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=1))
    md = [f"# Benchmarks ({summary['created']})", ""]
    for r in results:
        md += [
            f"## {r['module']} ({'ok' if r['ok'] else 'FAILED: ' + str(r['status'])}, {r['elapsed_s']:.0f} s)",
            "",
            r["output"].rstrip(),
            "",
        ]
    (RESULTS / "summary.md").write_text("\n".join(md) + "\n")
    print("\n=== summary")
    for r in results:
        print(
            f"{r['module']:<22} {'ok' if r['ok'] else 'FAILED (' + str(r['status']) + ')':<14} {r['elapsed_s']:>7.0f}s  {r['log']}"
        )
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
