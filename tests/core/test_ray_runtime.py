"""Joining a cluster: a Ray Client start-up failure on the server side is retried, nothing else is."""

from __future__ import annotations

import pytest

from curate.core import ray_runtime


class FlakyInit:
    def __init__(self, failures: int) -> None:
        self.failures, self.calls, self.shutdowns = failures, 0, 0

    def init(self, **kwargs: object) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionAbortedError("Initialization failure from server:\npsutil.ZombieProcess")

    def shutdown(self) -> None:
        self.shutdowns += 1


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch):
    def make(failures: int) -> FlakyInit:
        fake = FlakyInit(failures)
        monkeypatch.setattr(ray_runtime.ray, "is_initialized", lambda: False)
        monkeypatch.setattr(ray_runtime.ray, "init", fake.init)
        monkeypatch.setattr(ray_runtime.ray, "shutdown", fake.shutdown)
        monkeypatch.setattr(ray_runtime.time, "sleep", lambda s: None)
        return fake

    return make


def test_ray_client_server_start_failure_is_retried(flaky) -> None:
    fake = flaky(ray_runtime.CLIENT_INIT_ATTEMPTS - 1)
    ray_runtime.init_ray("ray://head:10001")
    assert fake.calls == ray_runtime.CLIENT_INIT_ATTEMPTS and fake.shutdowns == fake.calls - 1


def test_ray_client_gives_up_after_the_last_attempt(flaky) -> None:
    fake = flaky(ray_runtime.CLIENT_INIT_ATTEMPTS)
    with pytest.raises(ConnectionAbortedError):
        ray_runtime.init_ray("ray://head:10001")
    assert fake.calls == ray_runtime.CLIENT_INIT_ATTEMPTS


def test_a_gcs_address_is_not_retried(flaky) -> None:
    fake = flaky(1)
    with pytest.raises(ConnectionAbortedError):
        ray_runtime.init_ray("10.0.0.1:6379")
    assert fake.calls == 1
