"""Starting or joining Ray, the same way for every pipeline.

Local by default (no setup; a fresh local instance sized to `workers`, bound to this host only,
dashboard off); `address` (or RAY_ADDRESS) joins an existing cluster unchanged.
"""

from __future__ import annotations

import logging
import os
import time

import ray

from curate.core.storage import OPTIONS_ENV

CLIENT_INIT_ATTEMPTS = 3


def init_ray(address: str | None = None, workers: int | None = None) -> None:
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    env_vars = {"PYTHONHASHSEED": "0"}
    if os.environ.get(OPTIONS_ENV):  # storage options (--storage-option, YAML) reach every worker
        env_vars[OPTIONS_ENV] = os.environ[OPTIONS_ENV]
    runtime_env = {"env_vars": env_vars}
    if address:
        _join(address, runtime_env)
        return
    ray.init(
        address="local",  # always a fresh instance of our own, never some other local cluster found on this host
        num_cpus=workers or os.cpu_count() or 1,
        include_dashboard=False,
        logging_level=logging.WARNING,
        log_to_driver=True,
        runtime_env=runtime_env,
        _node_ip_address="127.0.0.1",
    )


def _join(address: str, runtime_env: dict) -> None:
    for attempt in range(CLIENT_INIT_ATTEMPTS):
        try:
            ray.init(address=address, runtime_env=runtime_env, logging_level=logging.WARNING, log_to_driver=True)
            return
        except ConnectionAbortedError:
            # Ray Client: the proxy's per-job server can die while starting (psutil's ZombieProcess
            # in the server's message, seen on a busy 2-core machine); a new connection gets a new one
            if not address.startswith("ray://") or attempt == CLIENT_INIT_ATTEMPTS - 1:
                raise
            ray.shutdown()
            time.sleep(2.0 * (attempt + 1))


def shutdown_ray() -> None:
    if ray.is_initialized():
        ray.shutdown()
