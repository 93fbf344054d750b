"""The answer shown while the model writes it: drafts (sendMessageDraft), or, where Telegram refuses them
(an older Bot API server, a group), one message edited in place.

The chat flow runs in asgiref's sync thread and hands every piece of text to `Preview.push`, which only
notes the latest text and wakes the sender, a task on the bot's event loop: the stream never waits for
Telegram. The sender shows the latest text at most STREAM_DRAFTS_PER_SECOND times a second (edits at
most once a second), skipping the texts that came in between. A preview is never the reply: the reply is
stored with the charge and sent by `deliver`, which edits the in-place message into the final text
instead of sending a second message.
"""

import asyncio
import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from telegram import Bot
from telegram.constants import ChatType, MessageLimit
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken, RetryAfter, TelegramError

from apps.bot.formatting import split_message

logger = logging.getLogger(__name__)

_EDITS_EVERY = 1.0  # seconds: an edited message changes at most once a second
# What a server that has no sendMessageDraft (or will not draft in this chat) answers.
_REFUSED = (BadRequest, InvalidToken, EndPointNotFound)


def _shown(text: str) -> str:
    """What fits in one message: the part being written, once the answer outgrows the first."""
    return text if len(text) <= MessageLimit.MAX_TEXT_LENGTH else split_message(text)[-1]


def _seconds(period: object) -> float:
    return period.total_seconds() if isinstance(period, timedelta) else float(period)  # type: ignore[arg-type]


class Preview:
    def __init__(self, bot: Bot, *, chat_id: int, chat_type: str, draft_id: int) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.draft_id = draft_id or 1  # must be non-zero
        # Drafts are for private chats; elsewhere the answer is shown in a message edited in place.
        self.drafting = chat_type == ChatType.PRIVATE
        self.message_id: int | None = None  # the message edited in place, once there is one
        self.shown = ""  # the text that message shows
        self.drafts = 0
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._latest = ""
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._next_at = 0.0  # monotonic: nothing is shown before this
        self._task = self._loop.create_task(self._run())

    def push(self, text: str) -> None:
        """The answer so far (called from the flow's thread): noted, never waited on."""
        with self._lock:
            self._latest = text
        self._loop.call_soon_threadsafe(self._wake.set)

    async def close(self) -> None:
        """Stop showing. What is on its way to Telegram arrives first (the reply must come after it), and a
        message edited in place is not edited again within its second."""
        self._closing.set()
        self._wake.set()
        await self._task
        if self.message_id is not None and (wait := self._next_at - time.monotonic()) > 0:
            await asyncio.sleep(wait)

    async def _run(self) -> None:
        sent = ""
        while not self._closing.is_set():
            await self._wake.wait()
            self._wake.clear()
            if (wait := self._next_at - time.monotonic()) > 0:
                try:  # closing ends the wait: nothing more is shown
                    await asyncio.wait_for(self._closing.wait(), wait)
                except TimeoutError:
                    pass
            if self._closing.is_set():
                return
            with self._lock:
                text = self._latest
            if not text or text == sent:
                continue
            started = time.monotonic()
            try:
                await self._show(_shown(text))
                sent = text
            except RetryAfter as flood:
                started += _seconds(flood.retry_after)
            except Forbidden:
                return  # the user blocked the bot: the reply will find out
            except TelegramError as error:
                logger.info("preview of chat %s not shown: %s", self.chat_id, error)
            except Exception:
                logger.exception("preview of chat %s failed", self.chat_id)
                return
            interval = 1 / max(settings.STREAM_DRAFTS_PER_SECOND, 0.01)
            self._next_at = started + (interval if self.drafting else max(interval, _EDITS_EVERY))
            self._wake.set()  # the text may have grown meanwhile

    async def _show(self, text: str) -> None:
        if self.drafting:
            try:
                await self.bot.send_message_draft(chat_id=self.chat_id, draft_id=self.draft_id, text=text)
                self.drafts += 1
                return
            except _REFUSED as refused:
                logger.info("drafts refused in chat %s (%s): editing a message instead", self.chat_id, refused)
                self.drafting = False
        if self.message_id is None:
            message = await self.bot.send_message(chat_id=self.chat_id, text=text)
            self.message_id = message.message_id
        else:
            try:
                await self.bot.edit_message_text(text, chat_id=self.chat_id, message_id=self.message_id)
            except BadRequest as error:
                if "not modified" not in str(error).lower():
                    raise
        self.shown = text
