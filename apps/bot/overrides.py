"""What staff wrote for the bot's texts in the admin (BotText), as this process reads it.

Each process keeps a snapshot of the overrides, {(key, language): text}, and the version it was loaded at.
Saving an override sets a new version in the Django cache (Redis where configured, so every process sees
it) and drops this process's snapshot. Checks are sync code, never on the bot's event loop (no database
from async code): every call into the bot (apps.bot.runtime.run: an update, the command menu, a send)
checks first, so an update's handlers read what was saved before it started; a text read outside the
bot's loop checks when the last check is over CHECK_AFTER seconds old. Processes that share no cache
(several of them without Redis) still reload every RELOAD_AFTER seconds."""

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, replace

from django.core.cache import cache
from django.db import transaction

from .models import BotText

logger = logging.getLogger(__name__)

VERSION_KEY = "bot:texts:version"
CHECK_AFTER = 1.0
RELOAD_AFTER = 60.0


@dataclass(frozen=True)
class _Snapshot:
    texts: dict[tuple[str, str], str]
    version: str | None
    loaded_at: float
    checked_at: float


_NEVER = float("-inf")
_snapshot = _Snapshot({}, None, _NEVER, _NEVER)


def override(key: str, language: str | None) -> str | None:
    """What staff wrote for this text in this language ("ru", or "en-us" read as "en"); None: the code's."""
    snapshot = _snapshot
    if time.monotonic() - snapshot.checked_at > CHECK_AFTER and not _on_event_loop():
        refresh()
        snapshot = _snapshot
    if not language or not snapshot.texts:
        return None
    return snapshot.texts.get((key, language)) or snapshot.texts.get((key, language.split("-")[0]))


def refresh() -> None:
    """Reload the snapshot if an override was saved since it was loaded. Never raises: when the cache or
    the database cannot answer, the texts loaded before stay."""
    global _snapshot
    snapshot, now = _snapshot, time.monotonic()
    try:
        # The version before the rows: a save in between makes the next check load again.
        version = cache.get(VERSION_KEY)
        if version == snapshot.version and now - snapshot.loaded_at < RELOAD_AFTER:
            _snapshot = replace(snapshot, checked_at=now)
            return
        # A savepoint when the caller is inside a transaction: a failure here leaves the caller's usable.
        with transaction.atomic():
            rows = BotText.objects.exclude(text="").values_list("key", "language", "text")
            texts = {(key, language): text for key, language, text in rows}
    except Exception:
        logger.warning("the bot's text overrides were not reloaded; those loaded before stay", exc_info=True)
        _snapshot = replace(snapshot, checked_at=now)
        return
    _snapshot = _Snapshot(texts, version, loaded_at=now, checked_at=now)


def changed() -> None:
    """An override was saved (call on commit): every process loads the overrides again at its next check,
    this one at once."""
    global _snapshot
    _snapshot = replace(_snapshot, loaded_at=_NEVER, checked_at=_NEVER)
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
