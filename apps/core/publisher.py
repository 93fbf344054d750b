"""Handing work to the broker off the caller's thread, batched.

A Celery publish costs a request as much as a durable INSERT (building the message, a Redis round
trip). Callers hand items to a per-process publisher thread instead, which passes whatever queued
up meanwhile to one `publish_many` call: idle, an item goes out at once; under load, one round
trip carries many. Used for the webhook's update ids (already stored: one lost with a dying
process is only late, the inbox sweeper enqueues it again) and for analytics events, which may
also `linger`: wait that long for more before publishing, so a steady trickle (a broadcast's
30 deliveries a second) becomes one task a second, not thirty. Without a broker, the same thread
serves the inbox as its processing thread: `publish_many` processes the updates in the process.

`TaskMessages` makes the messages themselves cheap: a Celery message of one task differs from the
next only in its task id, its argument and kombu's delivery tag, so it is built once by Celery and
copied with those filled in.
"""

import atexit
import base64
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from celery import Task, current_app
from kombu.entity import maybe_delivery_mode
from kombu.utils.json import dumps

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


class TaskMessages:
    """Publishes `task(argument)` for many arguments at once, for a tenth of `apply_async`'s CPU.

    `apply_async` spends some 300 us per message merging options, routing, copying kombu entities and
    serializing: more than the webhook's whole request. Here Celery builds the first message of each
    process (`apply_async` itself, handed a producer that records what it would publish), and every
    message after it is that one with a fresh task id (the claim token), the argument and a fresh
    delivery tag, all of a batch pushed onto the queue's Redis list with one LPUSH, as kombu's Redis
    transport pushes them. What a copy could not reproduce (an exchange other than the default direct
    one, a priority, compression, another serializer or body encoding, a broker other than Redis, a
    message sent from inside a task, sent events) goes through `apply_async`, as before.
    """

    _TASK_ID = "00000000-0000-4000-8000-000000000000"  # stands for the task id in the recorded message
    _ARGSREPR = "(argument,)"  # and this for the argument's repr
    # kombu Producer.publish's own arguments; any other keyword Celery passes is a message property.
    _PUBLISH_ARGUMENTS = frozenset(
        ("exchange", "routing_key", "serializer", "compression", "retry", "retry_policy", "delivery_mode",
         "declare", "headers", "timeout", "confirm_timeout", "content_type", "content_encoding", "mandatory",
         "immediate", "expiration", "priority")
    )  # fmt: skip

    def __init__(self, task: Task, **options: Any) -> None:
        """`options`: apply_async's, the same for every message (queue=…)."""
        self._task = task
        self._options = options
        self._template: tuple | None = None  # (queue key, envelope, headers, properties, embed)
        self._declare: list = []
        self._template_pid = 0

    def publish(self, arguments: list[Any]) -> None:
        """One message per argument, in order, through one producer."""
        app = self._task.app
        with app.producer_or_acquire() as producer:
            template = self._template_for(producer)
            if template is None:
                self._publish_through_celery(producer, arguments)
                return
            key, envelope, headers, properties, embed = template
            messages = []
            for argument in arguments:
                task_id = str(uuid.uuid4())
                argsrepr = f"({argument!r},)"
                body = dumps([[argument], {}, embed]).encode()
                messages.append(
                    dumps(
                        {
                            **envelope,
                            "body": base64.b64encode(body).decode(),
                            "headers": {**headers, "id": task_id, "root_id": task_id, "argsrepr": argsrepr},
                            "properties": {
                                **properties,
                                "correlation_id": task_id,
                                "argsrepr": argsrepr,
                                "delivery_tag": str(uuid.uuid4()),
                            },
                        }
                    )
                )
            with producer.channel.conn_or_acquire() as client:
                client.lpush(key, *messages)

    def _publish_through_celery(self, producer, arguments: list[Any]) -> None:
        with producer.batch():
            for argument in arguments:
                # Given reprs spare Celery its saferepr of the arguments: a fifth of a publish's CPU.
                self._task.apply_async(
                    (argument,), producer=producer, argsrepr=f"({argument!r},)", kwargsrepr="{}", **self._options
                )

    def _template_for(self, producer) -> tuple | None:
        if self._template_pid == os.getpid():
            return self._template
        self._template, self._template_pid = self._record(producer), os.getpid()
        if self._template is not None:
            for entity in self._declare:  # as Celery declares the queue before its first publish
                producer.maybe_declare(entity)
        return self._template

    def _record(self, producer) -> tuple | None:
        """What Celery would publish for this task, as kombu's Redis transport would push it; None when a
        copy of it could not stand for every message."""
        app = self._task.app
        channel = producer.channel
        if app.conf.task_send_sent_event or app.current_worker_task is not None:
            return None
        if producer.connection.transport.driver_type != "redis" or not hasattr(channel, "conn_or_acquire"):
            return None
        recorder = _RecordingProducer(producer.connection)
        self._task.apply_async(
            (0,), producer=recorder, task_id=self._TASK_ID, argsrepr=self._ARGSREPR, kwargsrepr="{}", **self._options
        )
        (args, kwargs, embed), options = recorder.published
        properties = {name: value for name, value in options.items() if name not in self._PUBLISH_ARGUMENTS}
        headers = options.get("headers") or {}
        if (
            (args, kwargs) != ((0,), {})
            or options.get("exchange") != ""
            or options.get("priority")
            or options.get("compression")
            or options.get("expiration") is not None
            or options.get("serializer") != "json"
            or channel.body_encoding != "base64"
            or headers.get("parent_id") is not None
            or (headers.get("id"), headers.get("root_id"), properties.get("correlation_id")) != (self._TASK_ID,) * 3
        ):
            return None
        # As kombu's Producer.publish, Channel.prepare_message and basic_publish complete it.
        properties.pop("argsrepr", None)
        properties.update(
            delivery_mode=maybe_delivery_mode(options.get("delivery_mode")),
            priority=channel.default_priority,
            delivery_info={"exchange": "", "routing_key": options["routing_key"]},
            body_encoding="base64",
        )
        envelope = {"content-encoding": "utf-8", "content-type": "application/json"}
        self._declare = options.get("declare") or []
        return options["routing_key"], envelope, headers, properties, embed


class _RecordingProducer:
    """Stands in for kombu's Producer in `apply_async`: records the publish instead of making it."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.published: tuple | None = None

    def publish(self, body, **options) -> None:
        self.published = (body, options)
