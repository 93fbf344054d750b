"""Handing work to the broker off the caller's thread, batched.

A Celery publish costs a request as much as a durable INSERT (building the message, a Redis round
trip). Callers hand items to a per-process publisher thread instead, which passes whatever queued
up meanwhile to one `publish_many` call: idle, an item goes out at once; under load, one round
trip carries many. Used for the webhook's update ids (already stored: one lost with a dying
process is only late, the inbox sweeper enqueues it again) and for analytics events, which may
also `linger`: wait that long for more before publishing, so a steady trickle (a broadcast's
30 deliveries a second) becomes one task a second, not thirty. Without a broker, the same thread
serves the inbox as its processing thread: `publish_many` processes the updates in the process.
"""

import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from celery import current_app

logger = logging.getLogger(__name__)
_FLUSH = object()  # put by flush(): publish what is there without lingering


class BatchPublisher:
    def __init__(
        self,
        publish_many: Callable[[list[Any]], None],
        *,
        max_batch: int = 500,
        linger: float = 0.0,
        name: str = "task-publisher",
    ) -> None:
        self._publish_many = publish_many
        self._name = name
        self._max_batch = max_batch
        self._linger = linger
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
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._pending += 1
            self._drained.clear()
        self._queue.put(item)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far has been handed on (published, or failed)."""
        if not self._drained.is_set():
            self._queue.put(_FLUSH)
        return self._drained.wait(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _FLUSH:
                continue
            batch = [first]
            deadline = time.monotonic() + self._linger
            while len(batch) < self._max_batch:
                try:
                    remaining = deadline - time.monotonic()
                    item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _FLUSH:
                    break
                batch.append(item)
            try:
                self._publish_many(batch)
            except Exception:
                logger.warning("could not publish %d item(s)", len(batch), exc_info=True)
            finally:
                with self._lock:
                    self._pending -= len(batch)
                    if not self._pending:
                        self._drained.set()


def enqueue(publisher: BatchPublisher, item: Any, *, run_now: Callable[[list[Any]], object]) -> None:
    """Hand `item` on: without a broker (Celery eager, the embedded default) `run_now([item])` does the
    work here and now; with one, the publisher's thread passes it to the broker in a batch."""
    if current_app.conf.task_always_eager:
        run_now([item])
    else:
        publisher.submit(item)
