"""Inkling's container images run with podman, for the container tests and the soak (``scripts/soak.py``).

    with Network() as net:
        redis = Container("redis", images()["redis"], network=net).start()
        web = Container("web", images()["web"], network=net, env={...}, publish=8000).start()
        web.wait_healthy()                     # seconds from start to /healthz 200
        web.kill(); web.start_again()          # podman kill, podman start: the same container, its data kept

Images are those ``scripts/container_images`` builds (localhost/inkling:web, ...), or the ones the same
variables as compose.yaml's name (INKLING_WEB_IMAGE, INKLING_IMAGE, REDIS_IMAGE, S3_IMAGE, PROXY_IMAGE).
Containers and networks get a random suffix, so runs on one machine do not meet; published ports are on
127.0.0.1 only. Memory is read from the host: each container's processes' resident sets (``/proc``) and its
memory cgroup (v1: usage, peak, out-of-memory kills).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .live_service import free_port
from .processes import rss_kb

IMAGE_VARIABLES = {"web": ("INKLING_WEB_IMAGE", "localhost/inkling:web"),
                   "full": ("INKLING_IMAGE", "localhost/inkling:full"),
                   "redis": ("REDIS_IMAGE", "localhost/inkling-redis:7"),
                   "s3": ("S3_IMAGE", "localhost/inkling-s3:4.48"),
                   "proxy": ("PROXY_IMAGE", "localhost/inkling-proxy:1.22")}
S3_KEYS = {"AWS_ACCESS_KEY_ID": "inkling-test", "AWS_SECRET_ACCESS_KEY": "inkling-test-secret-key",
           "AWS_DEFAULT_REGION": "us-east-1"}


def find_podman() -> str | None:
    return shutil.which("podman")


def find_compose() -> str | None:
    """podman-compose: beside this Python (the dev install's), else on PATH."""
    beside = Path(sys.executable).parent / "podman-compose"
    return str(beside) if beside.exists() else shutil.which("podman-compose")


def compose_images() -> dict[str, str]:
    """The variables compose.yaml names its images by, set to :func:`images`."""
    return {variable: images()[role] for role, (variable, _) in IMAGE_VARIABLES.items()}


def images() -> dict[str, str]:
    return {role: os.environ.get(variable, default) for role, (variable, default) in IMAGE_VARIABLES.items()}


def missing_images() -> list[str]:
    return [image for image in images().values()
            if subprocess.run([find_podman(), "image", "exists", image]).returncode != 0]


def podman(*args: str, timeout: float = 180, check: bool = True) -> str:
    done = subprocess.run([find_podman(), *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:3])} ... failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout.strip()


def suffix() -> str:
    return secrets.token_hex(3)


class Network:
    """A podman network of its own (netavark: containers find each other by name)."""

    def __init__(self, name: str = "inkling-test"):
        self.name = f"{name}-{suffix()}"

    def __enter__(self) -> "Network":
        podman("network", "create", self.name)
        return self

    def __exit__(self, *exc) -> None:
        podman("network", "rm", "-f", self.name, check=False)


class Container:
    """One container, created by :meth:`start` and removed by :meth:`remove` (or leaving a ``with`` block)."""

    def __init__(self, name: str, image: str, *, network: Network | None = None, env: dict | None = None,
                 publish: int | None = None, memory: str | None = None, command: tuple[str, ...] = (),
                 options: tuple[str, ...] = (), alias: str | None = None):
        self.alias = alias or name
        self.name = f"inkling-{name}-{suffix()}"
        self.image, self.network, self.env, self.memory = image, network, dict(env or {}), memory
        self.command, self.options = tuple(command), tuple(options)
        self.container_port, self.port = publish, (free_port() if publish else None)
        self.started_at: float | None = None
        self.log_mentions: dict[str, int] = {}  # what wait_for_log has seen so far

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run_args(self) -> list[str]:
        args = ["run", "-d", "--name", self.name]
        if self.network:
            args += ["--network", self.network.name, "--network-alias", self.alias]
        if self.port:
            args += ["-p", f"127.0.0.1:{self.port}:{self.container_port}"]
        if self.memory:
            args += ["--memory", self.memory, "--memory-swap", self.memory]  # no swap: the limit is the limit
        for key, value in self.env.items():
            args += ["-e", f"{key}={value}"]
        return [*args, *self.options, self.image, *self.command]

    def start(self) -> "Container":
        self.started_at = time.monotonic()
        podman(*self.run_args())
        return self

    def start_again(self) -> "Container":
        """``podman start`` the stopped container: same name, address, volumes and settings."""
        self.started_at = time.monotonic()
        podman("start", self.name)
        return self

    def kill(self, signal: str = "KILL") -> None:
        podman("kill", "--signal", signal, self.name)
        podman("wait", self.name, timeout=60, check=False)

    def stop(self) -> None:
        podman("stop", "-t", "10", self.name, check=False)

    def remove(self) -> None:
        podman("rm", "-f", "-v", self.name, check=False)

    def __enter__(self) -> "Container":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.remove()

    def exec(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([find_podman(), "exec", self.name, *command], capture_output=True, text=True,
                              timeout=timeout)

    def logs(self, tail: int = 80) -> str:
        done = subprocess.run([find_podman(), "logs", "--tail", str(tail), self.name], capture_output=True,
                              text=True, timeout=30)
        return done.stdout + done.stderr

    def state(self) -> dict:
        return json.loads(podman("inspect", "--format", "{{json .State}}", self.name))

    @property
    def running(self) -> bool:
        return self.state().get("Running", False)

    # --- readiness ----------------------------------------------------------------------------

    def wait_healthy(self, timeout: float = 180) -> float:
        """Seconds from :meth:`start` (or :meth:`start_again`) until GET /healthz answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - self.started_at
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if not self.running:
                raise RuntimeError(f"{self.name} exited while starting:\n{self.logs()}")
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not healthy within {timeout:.0f} s:\n{self.logs()}")

    def wait_for_log(self, text: str, timeout: float = 180) -> float:
        """Seconds from start until ``text`` appears in the container's log once more than it did before that
        start (the learner: 'learning: versions'); a restarted container's log holds its earlier runs too."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.logs(tail=100_000).count(text) > self.log_mentions.get(text, 0):
                self.log_mentions[text] = self.log_mentions.get(text, 0) + 1
                return time.monotonic() - self.started_at
            if not self.running:
                raise RuntimeError(f"{self.name} exited while starting:\n{self.logs()}")
            time.sleep(0.25)
        raise RuntimeError(f"{self.name}: no {text!r} in its log within {timeout:.0f} s:\n{self.logs()}")

    # --- memory, read from the host ---------------------------------------------------------------

    def pids(self) -> list[int]:
        """The container's processes, as the host numbers them (its first and every descendant)."""
        first = int(self.state()["Pid"])
        found, stack = [], [first]
        while stack:
            pid = stack.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                stack.extend(int(child) for child in task.read_text().split())
        return found

    def rss_mb(self) -> float:
        """Resident memory of all the container's processes, in MB."""
        total = 0
        for pid in self.pids():
            try:
                total += rss_kb(pid)
            except (FileNotFoundError, ProcessLookupError, RuntimeError):
                pass  # it ended between the listing and the reading
        return total / 1024

    def memory_cgroup(self) -> Path:
        for line in Path(f"/proc/{self.state()['Pid']}/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "memory" in controllers.split(","):
                return Path("/sys/fs/cgroup/memory") / path.lstrip("/")
        raise RuntimeError("no memory cgroup (v1) for the container")

    def cgroup_memory(self) -> dict[str, float]:
        """The container's memory cgroup: limit, usage now and at its peak (MB), and out-of-memory kills."""
        group = self.memory_cgroup()
        read = lambda leaf: (group / leaf).read_text()  # noqa: E731
        oom = dict(line.split() for line in read("memory.oom_control").splitlines())
        mb = 1024 * 1024
        return {"limit_mb": int(read("memory.limit_in_bytes")) / mb,
                "usage_mb": int(read("memory.usage_in_bytes")) / mb,
                "peak_mb": int(read("memory.max_usage_in_bytes")) / mb,
                "oom_kills": int(oom.get("oom_kill", 0))}


def s3_server(network: Network, bucket: str = "inkling") -> Container:
    """SeaweedFS as compose.yaml runs it (the S3 image's ``weed``), its S3 port published, with ``bucket`` made."""
    config = json.dumps({"identities": [{"name": "inkling", "credentials": [
        {"accessKey": S3_KEYS["AWS_ACCESS_KEY_ID"], "secretKey": S3_KEYS["AWS_SECRET_ACCESS_KEY"]}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]})
    script = (f"printf '%s' '{config}' > /tmp/s3.json && exec weed -logtostderr mini -dir=/data -ip=127.0.0.1 "
              "-ip.bind=0.0.0.0 -master.telemetry=false -admin.ui=false -webdav=false -s3.port.iceberg=0 "
              "-s3.port.lance=0 -s3.config=/tmp/s3.json -s3.allowDeleteBucketNotEmpty=false "
              "-s3.autoCreateBucket=false")
    return Container("s3", images()["s3"], network=network, publish=8333, alias="s3",
                     options=("--entrypoint", "/bin/sh"), command=("-c", script))


def s3_client(s3: Container):
    """A boto3 client of :func:`s3_server`'s published port, with its keys (for setup and checks from the host)."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=s3.base_url, region_name=S3_KEYS["AWS_DEFAULT_REGION"],
                        aws_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"],
                        config=Config(s3={"addressing_style": "path"}, connect_timeout=2, read_timeout=5,
                                      retries={"total_max_attempts": 2}))


def make_bucket(s3: Container, bucket: str, timeout: float = 60) -> None:
    """Create ``bucket`` once the server takes writes (its port answers a second or so before)."""
    client = s3_client(s3)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.create_bucket(Bucket=bucket)
            client.put_object(Bucket=bucket, Key="ready", Body=b"ok")
            client.delete_object(Bucket=bucket, Key="ready")
            return
        except client.exceptions.BucketAlreadyOwnedByYou:
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def redis_server(network: Network) -> Container:
    return Container("redis", images()["redis"], network=network, alias="redis",
                     command=("redis-server", "--protected-mode", "no", "--dir", "/data", "--appendonly", "yes"))


def stack_env(bucket: str = "inkling", **extra) -> dict[str, str]:
    """What every Inkling process of a scale-out stack on :func:`redis_server` and :func:`s3_server` needs."""
    return {"INKLING_STORAGE": "s3", "INKLING_S3_BUCKET": bucket, "INKLING_S3_ENDPOINT_URL": "http://s3:8333",
            "INKLING_QUEUE_URL": "redis://redis:6379/0", "INKLING_CLIENT_SALT": "container-tests-salt",
            **S3_KEYS, **extra}
