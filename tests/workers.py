"""A real `celery worker` process, for the tests that need one and for the benchmarks."""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class WorkerProcess:
    """A real `celery worker` in its own process group, with the environment given (database, broker)."""

    def __init__(self, env: dict[str, str]) -> None:
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
                "--concurrency=1",
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
