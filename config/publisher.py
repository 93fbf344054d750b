"""Handing work to the broker off the caller's thread, batched.

A Celery publish costs a request as much as a durable INSERT (building the message, a Redis round
trip). Callers hand items to a per-process publisher thread instead, which passes whatever queued
up meanwhile to one `publish_many` call: idle, an item goes out at once; under load, one round
trip carries many. Used for the webhook's update ids (already stored: one lost with a dying
process is only late, the inbox sweeper enqueues it again) and for analytics events.
"""

import atexit
import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class BatchPublisher:
    def __init__(self, publish_many: Callable[[list[Any]], None], *, max_batch: int = 500) -> None:
        self._publish_many = publish_many
        self._max_batch = max_batch
        self._reset()
        # A forked child (gunicorn, Celery prefork) inherits no thread: start afresh there.
        os.register_at_fork(after_in_child=self._reset)
        atexit.register(self.flush)

    def _reset(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pending = 0
        self._drained = threading.Event()
        self._drained.set()
        self._thread: threading.Thread | None = None

    def submit(self, item: Any) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="task-publisher", daemon=True)
                self._thread.start()
            self._pending += 1
            self._drained.clear()
        self._queue.put(item)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far has been handed to the broker (or failed)."""
        return self._drained.wait(timeout)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._publish_many(batch)
            except Exception:
                logger.warning("could not publish %d item(s)", len(batch), exc_info=True)
            finally:
                with self._lock:
                    self._pending -= len(batch)
                    if not self._pending:
                        self._drained.set()
