import os
import threading
import time

from apps.core.publisher import BatchPublisher


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
