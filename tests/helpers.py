"""What tests import: running work concurrently, waiting for a condition, a broker that is down, and
Telegram updates shaped like the captured ones. Fixtures stay in conftest.py."""

import itertools
import json
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
CAPTURED_UPDATES = Path(__file__).resolve().parent / "fixtures" / "telegram-updates"
WEBHOOK_URL = "/telegram/webhook/"

_update_ids = itertools.count(500_000)


def run_concurrently(work: Callable[[int], Any], count: int) -> list[Any]:
    """Run `work(n)` in `count` threads released together; each closes its database connection.
    Returns the results in no particular order; fails the test with the first error raised."""
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            results.append(work(n))
        except BaseException as error:  # reported below, in the test's own thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def wait_until(condition: Callable[[], Any], timeout: float = 30, interval: float = 0.05) -> Any:
    """Poll until `condition()` is truthy; fail the test with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s: {getattr(condition, '__name__', condition)}")


@contextmanager
def broker_down():
    """Celery publishes to a Redis port where nothing listens: a real connection refusal."""
    from config.celery import app

    def use(broker_url: str, eager: bool) -> None:
        app.conf.broker_url = broker_url
        app.conf.task_always_eager = eager
        app._pool = None
        app.amqp._producer_pool = None

    original = (app.conf.broker_url, app.conf.task_always_eager)
    use("redis://127.0.0.1:1/0", eager=False)
    try:
        yield
    finally:
        use(*original)


def captured_update(name: str) -> dict[str, Any]:
    return json.loads((CAPTURED_UPDATES / name).read_text())


def message_update(text: str, *, user_id: int = 12345678, update_id: int | None = None, **user: Any) -> dict[str, Any]:
    """A private-chat text message shaped like the captured `message.json`, from an English-speaking user
    (`language_code="ru"`, as captured, for a Russian-speaking one)."""
    payload = captured_update("message.json")
    payload["update_id"] = update_id if update_id is not None else next(_update_ids)
    message = payload["message"]
    message["from"].update({"id": user_id, "language_code": "en", **user})
    message["chat"]["id"] = user_id
    message["text"] = text
    message["date"] = int(time.time())
    if text.startswith("/"):
        command = text.split()[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return payload


def callback_update(
    data: str,
    *,
    user_id: int = 12345678,
    message_id: int = 5,
    message_date: int | None = None,
    update_id: int | None = None,
    **user: Any,
) -> dict[str, Any]:
    """A press of an inline button with `data`, under the bot's message `message_id` (sent at `message_date`,
    Unix time; now unless given) in the user's private chat, from an English-speaking user unless
    `language_code` says otherwise."""
    update_id = update_id if update_id is not None else next(_update_ids)
    person = {"id": user_id, "is_bot": False, "first_name": "FirstName", "language_code": "en", **user}
    message = {
        "message_id": message_id,
        "date": message_date if message_date is not None else int(time.time()),
        "chat": {"id": user_id, "type": "private"},
        "text": "?",
    }
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(update_id),
            "from": person,
            "message": message,
            "chat_instance": "1",
            "data": data,
        },
    }


def my_chat_member_update(*, user_id: int, old: str, new: str) -> dict[str, Any]:
    person = {"id": user_id, "is_bot": False, "first_name": "FirstName", "username": "username"}
    bot = {"id": 123456, "is_bot": True, "first_name": "Botdesk Test", "username": "botdesk_test_bot"}
    return {
        "update_id": next(_update_ids),
        "my_chat_member": {
            "chat": {"id": user_id, "type": "private", "first_name": "FirstName"},
            "from": person,
            "date": int(time.time()),
            "old_chat_member": {"user": bot, "status": old, **({"until_date": 0} if old == "kicked" else {})},
            "new_chat_member": {"user": bot, "status": new, **({"until_date": 0} if new == "kicked" else {})},
        },
    }


def admin_login(browser: Any, server_url: str, next_path: str, *, username: str, password: str) -> None:
    """Log into the admin in the browser and wait until the page it was going to has loaded: a click on the
    login button returns before the next page is there, and a busy machine shows it late."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{server_url}/admin/login/?next={next_path}")
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 30).until(
        lambda driver: (
            "/admin/login/" not in driver.current_url
            and driver.execute_script("return document.readyState") == "complete"
        ),
        message="the login never led to the page",
    )
