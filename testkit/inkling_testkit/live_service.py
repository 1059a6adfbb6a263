"""Run the real Inkling service in a subprocess, for tests that talk to it over HTTP.

>>> with LiveService(tmp_path) as svc:                      # doctest: +SKIP
...     httpx.get(f"{svc.base_url}/healthz").status_code
200

The service listens on 127.0.0.1 only, on a free port unless one is given, with
``INKLING_DATA_DIR=data_dir`` (local-folder storage) plus any ``env`` given. Its
stdout and stderr go to ``data_dir/service.log``, which is left in place after
it stops. ``kill()`` sends SIGKILL, for crash tests; ``stop()`` sends SIGTERM and
then SIGKILL if it has not exited after ``stop_timeout`` seconds.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from service.core.settings import PROJECT_ROOT

HOST = "127.0.0.1"


class ServiceStartError(RuntimeError):
    """The service exited or did not become healthy in time; the message ends with its log's tail."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class LiveService:
    def __init__(
        self,
        data_dir: Path,
        env: dict | None = None,
        port: int | None = None,
        *,
        start_timeout: float = 120.0,
        stop_timeout: float = 15.0,
        app: str = "service.app:app",
        workers: int = 1,
        cwd: Path = PROJECT_ROOT,
        server_args: tuple[str, ...] = (),
    ):
        self.data_dir = Path(data_dir)
        self.env = dict(env or {})
        self.port = port
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.app, self.workers, self.cwd, self.server_args = app, workers, cwd, tuple(server_args)
        self.process: subprocess.Popen | None = None
        self._log_file = None

    # --- addresses ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the service has not been started")
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "service.log"

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # --- life cycle -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> "LiveService":
        if self.running:
            raise RuntimeError("the service is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.port is None:
            self.port = free_port()
        env = {**os.environ, "INKLING_DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1", **self.env}
        env = {key: str(value) for key, value in env.items()}
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(f"\n--- starting on {HOST}:{self.port} at {time.strftime('%H:%M:%S')} ---\n".encode())
        self._log_file.flush()
        self._started_at = self.log_path.stat().st_size
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_healthy()
        except BaseException:
            self._terminate()
            raise
        return self

    def command(self) -> list[str]:
        return [sys.executable, "-m", "uvicorn", self.app, "--host", HOST, "--port", str(self.port),
                *(["--workers", str(self.workers)] if self.workers > 1 else []), *self.server_args]

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False  # not listening yet, or 503 while the models load

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            code = self.process.poll()
            if code is not None:
                raise ServiceStartError(f"the service exited with code {code} while starting; log tail:\n{self.log_tail()}")
            if self.ready():
                return
            if time.monotonic() > deadline:
                raise ServiceStartError(
                    f"the service did not answer 200 on /healthz within {self.start_timeout:.0f} s; log tail:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after ``stop_timeout`` s; returns the exit code."""
        return self._terminate()

    def kill(self) -> int | None:
        """SIGKILL at once, as a crash would; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        code = self.process.wait()
        self._close_log()
        return code

    def _terminate(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGKILL)
                self.process.wait()
        self._close_log()
        return self.process.returncode

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def restart(self) -> "LiveService":
        """Stop (gracefully) and start again on the same port and data folder."""
        self.stop()
        return self.start()

    def __enter__(self) -> "LiveService":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class LiveLearner(LiveService):
    """``python -m service.learner`` in a subprocess; ready once it logs that it is learning.

    Its log is ``data_dir/learner.log``; ``base_url`` means nothing for it.
    """

    @property
    def log_path(self) -> Path:
        return self.data_dir / "learner.log"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "service.learner"]

    def ready(self) -> bool:
        with open(self.log_path, "rb") as log:
            log.seek(self._started_at)
            return b"learning: versions" in log.read()
