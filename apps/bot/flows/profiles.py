"""Seed 004's ProfileRotationService: psychological profiles kept fresh by the LLM."""

import hashlib
import json
import logging
import time
from datetime import date, timedelta

from django.core.cache import cache
from django.utils import timezone

from apps.llm.client import LLMError
from apps.llm.models import RequestType
from apps.llm.services import llm_complete
from apps.users.models import ProfileRotationRun, TelegramUser, UserActivityLog
from apps.users.selectors import profile_due, users_due_for_rotation
from apps.users.services import user_profile_update

logger = logging.getLogger(__name__)

ANSWER_CACHE_TTL = 24 * 3600
PROFILE_PROMPT = (
    "You write short, kind psychological profiles for an AI companion, from what a person did and said. "
    'Answer with JSON only: {"summary": "<three sentences at most>", "streams": ["<up to five short topic tags>"]}.'
)


def _material(user: TelegramUser) -> str:
    activity = UserActivityLog.objects.filter(user=user).order_by("-timestamp")[:50]
    lines = [
        f"{row.timestamp:%Y-%m-%d} {row.activity_type} {json.dumps(row.details, sort_keys=True)}" for row in activity
    ]
    session = user.sessions.order_by("-created_at").first()
    turns = session.conversation_history[-20:] if session else []
    lines += [f"{turn['role']}: {turn['content']}" for turn in turns]
    return "\n".join(lines)


def _answer_key(user_id: int) -> str:
    return f"profile-answer:{user_id}"


def _refresh_key(user_id: int, day: date) -> str:
    return f"profile-refresh:{user_id}:{day}"


def profile_refresh(user_id: int) -> bool:
    """Rebuild one user's profile. The LLM's answer is cached under the user, with the hash of the prompt it
    answered, so the same material is not paid for twice (and an erase finds what it says about them).
    Raises LLMError or ValueError when it cannot."""
    user = TelegramUser.objects.get(pk=user_id)
    material = _material(user)
    digest = hashlib.sha256(f"{PROFILE_PROMPT}\n{material}".encode()).hexdigest()
    cached = cache.get(_answer_key(user_id))
    answer = cached["answer"] if cached and cached["prompt"] == digest else None
    if answer is None:
        completion = llm_complete(
            [{"role": "system", "content": PROFILE_PROMPT}, {"role": "user", "content": material or "(no activity)"}],
            user_id=user_id,
            username=user.username,
            request_type=RequestType.PROFILE_SUMMARY,
            temperature=0.3,
            max_tokens=300,
            json_response=True,
        )
        answer = completion.text
        cache.set(_answer_key(user_id), {"prompt": digest, "answer": answer}, ANSWER_CACHE_TTL)
    parsed = json.loads(answer)
    summary, streams = parsed["summary"], parsed.get("streams", [])
    if not isinstance(summary, str) or not isinstance(streams, list):
        raise ValueError("profile answer has the wrong shape")
    user_profile_update(user, summary=summary, streams=streams)
    return True


def rotate_profiles(*, batch_size: int = 10, pause: float = 5.0) -> ProfileRotationRun:
    """Refresh every due profile, `batch_size` users at a time with a pause between batches (the LLM
    rate limit applies too). One user's failure is logged and skipped. The run's figures are stored."""
    run = ProfileRotationRun.objects.create()
    due = list(users_due_for_rotation().values_list("id", flat=True))
    run.selected = len(due)
    for start in range(0, len(due), batch_size):
        if start:
            time.sleep(pause)
        for user_id in due[start : start + batch_size]:
            try:
                profile_refresh(user_id)
                run.updated += 1
            except (LLMError, ValueError, KeyError, TypeError) as error:
                logger.warning("profile of user %s not refreshed: %s", user_id, error)
                run.failed += 1
    run.finished_at = timezone.now()
    run.save()
    return run


def profile_refresh_if_stale(user: TelegramUser) -> bool:
    """On contact: a profile older than 7 days (or none, once the user has written something) is refreshed
    in the background, once per user a day."""
    if not profile_due(user):
        return False
    if not cache.add(_refresh_key(user.pk, timezone.localdate()), 1, 24 * 3600):
        return False
    from apps.bot.tasks import refresh_profile

    refresh_profile.delay(user.pk)
    return True


def profile_caches_forget(user_id: int) -> None:
    """What the cache holds about the user: the LLM's profile answer, and the marks of today's and
    yesterday's refresh (a mark lives a day)."""
    today = timezone.localdate()
    cache.delete_many(
        [_answer_key(user_id), _refresh_key(user_id, today), _refresh_key(user_id, today - timedelta(days=1))]
    )
