"""Starting or joining Ray, the same way for every pipeline.

Local by default (no setup; a fresh local instance sized to `workers`, bound to this host only,
dashboard off); `address` (or RAY_ADDRESS) joins an existing cluster unchanged.
"""

from __future__ import annotations

import logging
import os

import ray

from curate.core.storage import OPTIONS_ENV


def init_ray(address: str | None = None, workers: int | None = None) -> None:
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    env_vars = {"PYTHONHASHSEED": "0"}
    if os.environ.get(OPTIONS_ENV):  # storage options (--storage-option, YAML) reach every worker
        env_vars[OPTIONS_ENV] = os.environ[OPTIONS_ENV]
    runtime_env = {"env_vars": env_vars}
    if address:
        ray.init(address=address, runtime_env=runtime_env, logging_level=logging.WARNING, log_to_driver=True)
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


def shutdown_ray() -> None:
    if ray.is_initialized():
        ray.shutdown()
