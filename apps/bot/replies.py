"""Replies produced once per update (apps.bot.models.Reply): found, stored, marked sent, purged."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from .keyboards import Keyboard
from .models import Reply, ReplyKind, VoiceTranscript


@dataclass(frozen=True)
class Answer:
    """What a handler's use case answers: texts sent in order (the keyboard on the last), the pressed
    message's new text (EDIT), an invoice's fields (INVOICE), or a file's (DOCUMENT: filename, content,
    caption)."""

    parts: list = field(default_factory=list)
    markup: Keyboard | None = None
    kind: str = ReplyKind.MESSAGE


def reply_find(update_id: int) -> Reply | None:
    return Reply.objects.filter(pk=update_id).first()


def reply_store(*, update_id: int, chat_id: int, answer: Answer) -> Reply:
    """The reply to `update_id`: this answer, or the one stored before (a redelivery that raced)."""
    try:
        with transaction.atomic():
            return Reply.objects.create(
                update_id=update_id, chat_id=chat_id, kind=answer.kind, parts=answer.parts, markup=answer.markup
            )
    except IntegrityError:
        return Reply.objects.get(pk=update_id)


@transaction.atomic
def reply_once(*, update_id: int, chat_id: int, produce: Callable[[], Answer | None]) -> Reply | None:
    """The stored reply to the update, or, the first time, what `produce()` answers (its writes and the
    reply committed together, so a redelivery neither repeats them nor loses the reply). None: nothing
    to answer."""
    if (stored := reply_find(update_id)) is not None:
        return stored
    answer = produce()
    return None if answer is None else reply_store(update_id=update_id, chat_id=chat_id, answer=answer)


def reply_sent(reply: Reply, *, parts: int) -> None:
    """Telegram confirmed the first `parts` parts of the reply; once it confirmed all, the texts go."""
    total = max(len(reply.parts), 1)
    changes: dict = {"sent": parts}
    if parts >= total:
        changes.update(sent_at=timezone.now(), parts=[])
    Reply.objects.filter(pk=reply.pk, sent__lt=parts).update(**changes)
    reply.sent = parts


def replies_purge(*, older_than: timedelta) -> int:
    """Replies, and the transcripts of voice notes whose answers a crash left unstored, past `older_than`."""
    deleted, _ = Reply.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    transcripts, _ = VoiceTranscript.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted + transcripts


def replies_forget(*, chat_id: int, update_ids: Iterable[int]) -> dict[str, int]:
    """What the bot answered in the user's chat, and the transcripts of their voice notes (found by the
    replies' updates and by `update_ids`, their other updates). Rows deleted per table."""
    replies = Reply.objects.filter(chat_id=chat_id)
    update_ids = {*update_ids, *replies.values_list("pk", flat=True)}
    deleted, _ = replies.delete()
    transcripts, _ = VoiceTranscript.objects.filter(pk__in=update_ids).delete()
    return {Reply._meta.label: deleted, VoiceTranscript._meta.label: transcripts}
