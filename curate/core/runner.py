"""One runner for file-parallel stages (align, shards, and any future one).

A stage declares what it needs as data: a worker class (built once per actor, so models load once),
its resources, how many actors, and optionally a CPU `prepare` task run before each item (decoding,
resampling) whose result is handed to the actor. The runner decides placement and keeps a bounded
window of work in flight (memory stays flat whatever the number of items). Lost actors are restarted
by Ray and their item retried once; an item that still fails stays uncommitted, is reported, and a
re-run of the same command redoes it. Committing is the worker's job (through the ledger): the
runner never decides what is done.

Helium has its own executor (`curate.helium.executor`): its line dedup is stateful across the files
of a shard, which this runner's independent items cannot express.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ray


@dataclass(frozen=True)
class Resources:
    """What one actor or task asks Ray for. `env_vars` pins thread counts so outputs never depend on placement."""

    num_cpus: float = 1
    num_gpus: float = 0
    env_vars: dict[str, str] = field(default_factory=dict)

    def ray_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus}
        if self.env_vars:
            options["runtime_env"] = {"env_vars": dict(self.env_vars)}
        return options


@dataclass
class FileStage:
    """A file-parallel stage: `worker_cls(*worker_args).process(item, prepared)` for every item."""

    worker_cls: type
    worker_args: tuple[Any, ...]
    actors: int
    resources: Resources = Resources()
    prepare: Callable[..., Any] | None = None  # prepare(item, *prepare_args), run as a Ray task per item
    prepare_args: tuple[Any, ...] = ()
    prepare_resources: Resources = Resources()
    in_flight_per_actor: int = 2  # prepared items waiting in the object store, per actor
    retries: int = 1


def item_label(item: Any) -> str:
    return str(getattr(item, "id", None) or getattr(item, "name", None) or item)


def run_items(items: Sequence[Any], stage: FileStage) -> list[str]:
    """Process every item; returns one message per item that failed even after its retry."""
    if not items:
        return []
    worker = ray.remote(max_restarts=stage.retries, max_task_retries=stage.retries)(stage.worker_cls)
    actors = [worker.options(**stage.resources.ray_options()).remote(*stage.worker_args) for _ in range(max(1, stage.actors))]
    prepare = None
    if stage.prepare is not None:
        prepare = ray.remote(max_retries=stage.retries)(stage.prepare).options(**stage.prepare_resources.ray_options())
    window = stage.in_flight_per_actor * len(actors)
    queue = list(items)
    free = list(actors)
    preparing: dict[Any, Any] = {}  # ref -> item
    ready: list[tuple[Any, Any]] = []  # (item, prepared ref or None)
    running: dict[Any, tuple[Any, Any]] = {}  # ref -> (actor, item)
    failures: list[str] = []
    while queue or preparing or ready or running:
        while queue and len(preparing) + len(ready) < window:
            item = queue.pop(0)
            if prepare is None:
                ready.append((item, None))
            else:
                preparing[prepare.remote(item, *stage.prepare_args)] = item
        while ready and free:
            item, prepared = ready.pop(0)
            actor = free.pop(0)
            running[actor.process.remote(item, prepared)] = (actor, item)
        waiting = list(preparing) + list(running)
        if not waiting:
            continue
        done, _ = ray.wait(waiting, num_returns=1)
        for ref in done:
            if ref in preparing:
                ready.append((preparing.pop(ref), ref))
                continue
            actor, item = running.pop(ref)
            free.append(actor)
            try:
                ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - the item stays uncommitted: a re-run retries it
                failures.append(f"{item_label(item)}: {type(exc).__name__}: {exc}")
    return failures
