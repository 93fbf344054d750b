import base64
import copy
import json
import os
import threading
import time

import pytest

from apps.core.publisher import BatchPublisher, TaskMessages


def test_items_queued_while_a_publish_runs_go_out_together():
    batches: list[list[int]] = []
    first_call_started, release_first_call = threading.Event(), threading.Event()

    def publish_many(items: list[int]) -> None:
        batches.append(items)
        if len(batches) == 1:
            first_call_started.set()
            release_first_call.wait(5)

    publisher = BatchPublisher(publish_many)
    publisher.submit(1)
    first_call_started.wait(5)
    for item in range(2, 7):
        publisher.submit(item)
    release_first_call.set()
    assert publisher.flush(5)
    assert batches == [[1], [2, 3, 4, 5, 6]]


def test_a_lingering_publisher_gathers_a_trickle_and_flush_cuts_the_wait_short():
    batches: list[list[int]] = []
    publisher = BatchPublisher(batches.append, linger=30.0)
    for item in range(5):
        publisher.submit(item)
        time.sleep(0.02)
    assert batches == [], "still lingering"
    started = time.monotonic()
    assert publisher.flush(5)
    assert time.monotonic() - started < 1 and batches == [[0, 1, 2, 3, 4]]
    publisher.submit(5)
    assert publisher.flush(5) and batches[-1] == [5]


def test_a_failing_publish_is_logged_and_the_thread_goes_on(caplog):
    published: list[int] = []

    def publish_many(items: list[int]) -> None:
        if 13 in items:
            raise ConnectionError("broker down")
        published.extend(items)

    publisher = BatchPublisher(publish_many)
    publisher.submit(13)
    assert publisher.flush(5)
    publisher.submit(14)
    assert publisher.flush(5)
    assert published == [14]
    assert "could not publish 1 item(s)" in caplog.text


def test_a_forked_child_publishes_from_its_own_thread(tmp_path):
    marker = tmp_path / "child.txt"
    publisher = BatchPublisher(lambda items: None)
    publisher.submit(1)
    assert publisher.flush(5)

    pid = os.fork()
    if pid == 0:  # the child: inherits no publisher thread, must start one
        try:
            child = BatchPublisher(lambda items: marker.write_text(",".join(map(str, items))))
            publisher._publish_many = child._publish_many
            publisher.submit(2)
            os._exit(0 if publisher.flush(5) else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert marker.read_text() == "2"


@pytest.fixture
def broker_queue(require_services):
    """The default queue on the suite's Redis, emptied before and after; tasks are published, not run."""
    from config.celery import app

    app.control.purge()
    app.conf.task_always_eager = False
    with app.connection_for_write() as connection:
        channel = connection.default_channel

        def messages() -> list[dict]:
            """What waits on the queue, oldest (the next a worker takes) first."""
            with channel.conn_or_acquire() as client:
                return [json.loads(raw) for raw in reversed(client.lrange("celery", 0, -1))]

        try:
            yield messages
        finally:
            app.conf.task_always_eager = True
            app.control.purge()


def _without_ids(message: dict) -> dict:
    message = copy.deepcopy(message)
    for part, name in [("headers", "id"), ("headers", "root_id"), ("properties", "correlation_id")]:
        message[part][name] = "task id"
    message["properties"]["delivery_tag"] = "delivery tag"
    return message


def test_task_messages_are_what_celery_publishes_but_for_their_ids(broker_queue):
    from apps.bot.tasks import process_update

    process_update.apply_async((7,), argsrepr="(7,)", kwargsrepr="{}")
    TaskMessages(process_update).publish([7, 8, 9])
    celerys, *copies = broker_queue()
    assert len(copies) == 3
    assert _without_ids(copies[0]) == _without_ids(celerys), "the same argument: the same message"
    decoded = [json.loads(base64.b64decode(message["body"])) for message in copies]
    assert [body[0] for body in decoded] == [[7], [8], [9]], "in order, each with its own argument"
    assert [message["headers"]["argsrepr"] for message in copies] == ["(7,)", "(8,)", "(9,)"]
    ids = {message["headers"]["id"] for message in copies} | {celerys["headers"]["id"]}
    tags = {message["properties"]["delivery_tag"] for message in copies} | {celerys["properties"]["delivery_tag"]}
    assert len(ids) == len(tags) == 4, "every message its own task id (the inbox's claim token) and delivery tag"
    assert all(
        message["properties"]["correlation_id"] == message["headers"]["root_id"] == message["headers"]["id"]
        for message in copies
    )


def test_task_messages_that_a_copy_cannot_stand_for_go_through_celery(broker_queue):
    """A priority puts a message on a Redis list of its own: apply_async publishes those itself."""
    from apps.bot.tasks import process_update
    from config.celery import app

    prioritised = TaskMessages(process_update, priority=5)
    prioritised.publish([2])
    assert prioritised._template is None, "no copy made"
    with app.connection_for_write() as connection, connection.default_channel.conn_or_acquire() as client:
        raw = client.lrange(connection.default_channel._q_for_pri("celery", 5), 0, -1)
    assert [json.loads(base64.b64decode(json.loads(m)["body"]))[0] for m in raw] == [[2]]
