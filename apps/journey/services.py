"""Seed 004's JourneyTrackingService: where a user stands on the hero's journey, read by the LLM."""

import json
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.analytics.catalogue import Events
from apps.analytics.services import track
from apps.llm.client import LLMError
from apps.llm.models import RequestType
from apps.llm.services import llm_complete
from apps.sessions.models import UserSession
from apps.users.models import TelegramUser

from .models import JourneyProgress, JourneyStage

logger = logging.getLogger(__name__)

ANALYSIS_PROMPT = (
    "You read a conversation between a person and their AI companion and place the person on "
    "Campbell's hero's journey. The stages, in order: {stages}. Their last known stage: {current}. "
    'Answer with JSON only: {{"stage": "<one of the stage ids>", "reason": "<one sentence>"}}.'
)


def analyze_journey_stage(user_id: int, conversation_history: list[dict]) -> str | None:
    """The stage the conversation shows (a JourneyStage value), or None when the model's answer is
    not one (invalid output is logged; the current stage stands) or the model cannot be reached."""
    user = TelegramUser.objects.get(pk=user_id)
    turns = "\n".join(f"{turn['role']}: {turn['content']}" for turn in conversation_history[-40:])
    prompt = ANALYSIS_PROMPT.format(stages=", ".join(JourneyStage.values), current=user.last_journey_stage or "none")
    try:
        completion = llm_complete(
            [{"role": "system", "content": prompt}, {"role": "user", "content": turns}],
            user_id=user_id,
            username=user.username,
            request_type=RequestType.JOURNEY_ANALYSIS,
            temperature=0,
            max_tokens=200,
            json_response=True,
        )
    except LLMError:
        logger.warning("journey analysis for user %s failed: the LLM could not be reached", user_id)
        return None
    try:
        stage = json.loads(completion.text)["stage"]
    except (ValueError, KeyError, TypeError):
        # Logs carry no model text: its length says enough to look the request up.
        logger.warning(
            "journey analysis for user %s: not JSON with a stage (%d characters)", user_id, len(completion.text)
        )
        return None
    if stage not in JourneyStage.values:
        logger.warning("journey analysis for user %s: a stage not in the twelve", user_id)
        return None
    return stage


@transaction.atomic
def update_journey_stage(user_id: int, new_stage: str) -> bool:
    """Move the user to `new_stage`: the user's field, a progress row, the conversion flags, and
    journey_stage_changed. False (and nothing written) when they already stand there."""
    if new_stage not in JourneyStage.values:
        raise ValueError(f"unknown journey stage {new_stage!r}")
    user = TelegramUser.objects.select_for_update().get(pk=user_id)
    old_stage = user.last_journey_stage
    if old_stage == new_stage:
        return False
    previous = JourneyProgress.objects.filter(user_id=user_id).first()
    completed = list(previous.completed_stages) if previous else []
    if old_stage and old_stage not in completed:
        completed.append(old_stage)
    JourneyProgress.objects.create(
        user_id=user_id, current_stage=new_stage, completed_stages=completed, stage_start_time=timezone.now()
    )
    user.last_journey_stage = new_stage
    fields = ["last_journey_stage"]
    if JourneyStage.position(new_stage) > 0 and not user.has_started_journey:
        user.has_started_journey = True
        fields.append("has_started_journey")
    if new_stage == JourneyStage.RETURN_WITH_THE_ELIXIR and not user.has_completed_journey:
        user.has_completed_journey = True
        fields.append("has_completed_journey")
    user.save(update_fields=fields)
    transaction.on_commit(
        lambda: track(
            Events.JOURNEY_STAGE_CHANGED,
            user_id=user_id,
            properties={"from_stage": old_stage or "", "to_stage": new_stage},
        )
    )
    return True


def journey_refresh(*, user_id: int, session_id: int | None = None) -> str | None:
    """Analyse the user's session (the given one, else their latest) and move them if it shows a new stage."""
    sessions = UserSession.objects.filter(user_id=user_id)
    session = sessions.filter(pk=session_id).first() if session_id else sessions.first()
    if session is None or not session.conversation_history:
        return None
    stage = analyze_journey_stage(user_id, session.conversation_history)
    if stage is not None:
        update_journey_stage(user_id, stage)
    return stage


def analysis_due(question_count: int) -> bool:
    """Every JOURNEY_ANALYSIS_EVERY user messages of a session, the stage is read again."""
    every = settings.JOURNEY_ANALYSIS_EVERY
    return every > 0 and question_count > 0 and question_count % every == 0


def journey_erase(user_id: int) -> int:
    """The stages the LLM read in the user's conversations go. Returns how many rows."""
    deleted, _ = JourneyProgress.objects.filter(user_id=user_id).delete()
    return deleted
