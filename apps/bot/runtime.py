"""One python-telegram-bot Application and one event loop per process.

PTB is asyncio; Celery tasks, management commands and Django views are synchronous. The
Application's HTTP client is bound to the loop it first ran on, so the loop must outlive single
calls (`asyncio.run()` per update closes it, and the next update fails with "Event loop is
closed"). The loop runs in a daemon thread started lazily in the process that uses it (after a
Celery fork, never inherited), and synchronous callers hand it coroutines.
"""

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from django.utils import translation
from telegram import Update
from telegram.ext import Application

from . import overrides
from .handler_errors import collected

T = TypeVar("T")


class UnusableUpdate(ValueError):
    """python-telegram-bot cannot parse the update (an older or foreign shape): retrying won't help."""


class Runtime:
    """An Application built by `build` on a loop thread of its own. The process's bot is one (`_current`);
    the stand-in of "Try the bot" (apps.bot.standin) is another, used by threads inside `using()`."""

    def __init__(self, build: Callable[[], Application]) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="telegram-bot-loop", daemon=True)
        self.thread.start()
        self._build = build
        self._application: Application | None = None
        self._ready = asyncio.Lock()

    async def application(self) -> Application:
        async with self._ready:
            if self._application is None:
                application = self._build()
                await application.initialize()
                self._application = application
        return self._application

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        if self._application is not None:
            try:
                self.call(self._application.shutdown(), timeout=10)
            except Exception:  # closing a client that is already broken must not block a reset
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


_lock = threading.Lock()
_runtime: Runtime | None = None


def _current() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None or _runtime.pid != os.getpid():
            # Only a process that runs the bot builds it: importing the runtime (the inbox, the gateway)
            # does not import every handler and flow behind the Application.
            from .application import build_application

            _runtime = Runtime(build_application)
        return _runtime


def reset() -> None:
    """Drop the Application (settings changed); the next call builds a new one."""
    global _runtime
    with _lock:
        runtime, _runtime = _runtime, None
    if runtime is not None and runtime.pid == os.getpid():
        runtime.stop()


_local = threading.local()


@contextmanager
def using(other: Runtime) -> Iterator[None]:
    """Meanwhile, what this thread runs on the bot (`run`, `process_update`) goes to `other`'s Application,
    not the process's own: the stand-in's, which answers a test user without Telegram while real users'
    updates, in other threads, are answered by the real bot."""
    previous = getattr(_local, "runtime", None)
    _local.runtime = other
    try:
        yield
    finally:
        _local.runtime = previous


def run(make: Callable[[Application], Coroutine[Any, Any, T]], timeout: float | None = None) -> T:
    """Run `make(application)` on the bot loop and wait for its result (sync callers only)."""
    runtime = getattr(_local, "runtime", None) or _current()
    # Staff's texts as saved now, read here: the handlers on the loop must not query (apps.bot.overrides).
    overrides.refresh()

    async def with_application() -> T:
        return await make(await runtime.application())

    return runtime.call(with_application(), timeout)


def process_update(payload: dict[str, Any], timeout: float | None = None) -> None:
    """Run one update through the handlers; raise if it cannot be parsed or a handler failed."""
    run(lambda application: _process(application, payload), timeout)


async def _process(application: Application, payload: dict[str, Any]) -> None:
    with collected() as errors:
        # The handlers' ORM calls run on asgiref's one sync thread; give its connection the same
        # care a request gets (health check before, CONN_MAX_AGE honoured after).
        await sync_to_async(close_old_connections)()
        try:
            try:
                update = Update.de_json(payload, application.bot)
            except (TypeError, ValueError, KeyError) as error:
                raise UnusableUpdate(f"{type(error).__name__}: {error}") from error
            # Every text the handlers produce for it is in its user's language (apps.bot.language).
            with translation.override(await sync_to_async(_language)(update)):
                await application.process_update(update)
        finally:
            await sync_to_async(close_old_connections)()
    if errors:
        raise errors[0]


def _language(update: Update) -> str:
    from .language import user_language

    user = update.effective_user
    if user is None:
        return user_language(None)
    return user_language(user.id, user.language_code)
