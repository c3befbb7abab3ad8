"""Peak resident memory of a command's whole process tree (driver, Ray's GCS/raylet, workers), from /proc.

python -m bench.peak_rss curate helium build/bench-corpus/1000mb-s0 -o OUT --workers 2
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def _parents() -> dict[int, int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    return parents


def tree_rss(root: int) -> int:
    """Bytes of RSS summed over `root` and all its descendants."""
    parents = _parents()
    members, frontier = {root}, [root]
    while frontier:
        current = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == current and pid not in members:
                members.add(pid)
                frontier.append(pid)
    total = 0
    for pid in members:
        try:
            with open(f"/proc/{pid}/status") as fh:
                total += next((int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:")), 0)
        except OSError:
            pass
    return total


def main(argv: list[str]) -> int:
    process = subprocess.Popen(argv, start_new_session=True)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss(process.pid))
        time.sleep(0.5)
    print(f"peak RSS of the process tree: {peak / 2**20:,.0f} MiB (exit {process.returncode})")
    return process.returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
