"""Real `celery worker` and gunicorn processes, for the tests that need them and for the benchmarks."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class WorkerProcess:
    """A real `celery worker` in its own process group, with the environment given (database, broker), and
    `concurrency` pool processes."""

    def __init__(self, env: dict[str, str], *, concurrency: int = 1) -> None:
        self.log = tempfile.NamedTemporaryFile("w+", prefix="celery-worker-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=prefork",
                f"--concurrency={concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while "ready." not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = self.output()
                self.stop()
                raise RuntimeError(f"celery worker did not start:\n{output}")
            time.sleep(0.05)

    def output(self) -> str:
        return Path(self.log.name).read_text()

    def kill(self) -> None:
        """SIGKILL the whole worker: main process and pool children, no chance to clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, 9)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """Warm shutdown; then make sure no pool child outlives it (each holds a database connection)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        deadline = time.monotonic() + 10
        while self._group_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if self._group_alive():
            os.killpg(self.process.pid, 9)
        Path(self.log.name).unlink(missing_ok=True)

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True


class ServerProcess:
    """gunicorn serving the project the way the README starts it (gthread workers and threads), on a free
    127.0.0.1 port, with the environment given. Ready once every worker has loaded the application."""

    def __init__(self, env: dict[str, str], *, workers: int = 3, threads: int = 8) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile("w+", prefix="gunicorn-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "-k",
                "gthread",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--bind",
                f"127.0.0.1:{self.port}",
                # Only a hook that says when a worker has loaded the application (tests/gunicorn_hooks.py).
                "--config",
                "python:tests.gunicorn_hooks",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while self.output().count("application loaded in worker") < workers:
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = self.output()
                self.stop()
                raise RuntimeError(f"gunicorn did not start:\n{output}")
            time.sleep(0.05)

    def output(self) -> str:
        return Path(self.log.name).read_text()

    def stop(self) -> None:
        """Graceful shutdown (SIGTERM to the master), then nothing of the process group may be left."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=10)
        Path(self.log.name).unlink(missing_ok=True)
