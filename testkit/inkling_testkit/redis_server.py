"""A real Redis server for tests: Debian's ``redis-server`` on 127.0.0.1, a free port, append-only.

    server = RedisServer(tmp_path / "redis")
    server.start()          # blocks until it answers PING
    server.url              # redis://127.0.0.1:PORT/0
    server.restart()        # same port and data: "Redis went away and came back"
    server.stop()

In tests, prefer the ``redis_server`` fixture from conftest.py, with a fresh
``INKLING_QUEUE_NAME`` per test (``queue_env``) so tests share the server, not keys.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

from inkling_testkit.live_service import free_port


def find_redis() -> str | None:
    return shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if Path(p).is_file()), None)


class RedisServer:
    def __init__(self, data_dir: Path, port: int | None = None):
        self.data_dir, self.port = Path(data_dir), port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> "RedisServer":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "redis.log", "ab")
        self.process = subprocess.Popen(
            [find_redis(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--protected-mode", "yes"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        import redis

        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.ping():
                    return self
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start; see {self.data_dir / 'redis.log'}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.running:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> "RedisServer":
        self.stop()
        return self.start()

    def client(self):
        import redis

        return redis.Redis.from_url(self.url)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
