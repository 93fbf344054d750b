"""Charging per answer: the price plans, what an answer costs, and the hold on the balance that is
settled to the actual cost or released; the trial credit."""

import logging
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from apps.llm.services import price_for

from ..models import Operation, OperationType, PricePlan
from .credits import as_credits
from .ledger import idempotency_hash, ledger_apply, ledger_apply_together, operation_key

logger = logging.getLogger(__name__)


def plan_for(model: str, plans: Mapping[str, PricePlan] | None = None) -> PricePlan:
    """The plan that prices `model`: its own, else staff's plan for every other model, else an unsaved plan of
    the defaults (cost × BILLING_DEFAULT_MARKUP, BILLING_MINIMUM_CHARGE). `plans`: all plans by model, to
    price many models with one query."""
    if plans is None:
        plans = {plan.model: plan for plan in PricePlan.objects.filter(model__in={model, ""})}
    return plans.get(model) or plans.get("") or PricePlan(model="")


def credits_for_cost(plan: PricePlan, cost: Decimal) -> Decimal:
    """A provider cost in USD, marked up by the plan, in credits."""
    return cost * plan.effective_markup * settings.BILLING_CREDITS_PER_USD


def plan_charge(
    plan: PricePlan, *, prompt_tokens: int, completion_tokens: int, provider_cost: Decimal | None
) -> Decimal | None:
    """What `plan` charges for this usage before its minimum, unrounded: its fixed rates per 1K tokens, or the
    provider's cost marked up; None where that cost is unknown (the model has no price)."""
    if plan.fixed_rates:
        return (prompt_tokens * plan.credits_per_1k_prompt + completion_tokens * plan.credits_per_1k_completion) / 1000
    return None if provider_cost is None else credits_for_cost(plan, provider_cost)


def _charge(
    plan: PricePlan, *, model: str, prompt_tokens: int, completion_tokens: int, provider_cost: Decimal | None
) -> Decimal:
    charge = plan_charge(
        plan, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, provider_cost=provider_cost
    )
    if charge is None:
        logger.warning("no price for %s: charged the minimum only", model)
        charge = Decimal(0)
    return as_credits(max(charge, plan.effective_minimum))


def charge_estimate(*, model: str, prompt_chars: int, max_tokens: int) -> Decimal:
    """The most an answer can cost: a generous prompt estimate (3 characters a token) and every
    allowed completion token."""
    plan = plan_for(model)
    prompt_tokens = prompt_chars // 3 + 1
    price = None if plan.fixed_rates else price_for("", model, timezone.now())
    provider_cost = price.cost(prompt_tokens=prompt_tokens, completion_tokens=max_tokens) if price else None
    return _charge(
        plan, model=model, prompt_tokens=prompt_tokens, completion_tokens=max_tokens, provider_cost=provider_cost
    )


def charge_for_usage(
    *, model: str, prompt_tokens: int | None, completion_tokens: int | None, provider_cost: Decimal | None
) -> Decimal:
    """What an answer costs the user. Usage the provider did not report costs the minimum charge."""
    plan = plan_for(model)
    if prompt_tokens is None or completion_tokens is None:
        return as_credits(plan.effective_minimum)
    return _charge(
        plan,
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        provider_cost=provider_cost,
    )


def charge_for_audio(*, model: str, audio_seconds: int, provider_cost: Decimal | None = None) -> Decimal:
    """What transcribing `audio_seconds` costs the user: the provider's cost (its price per audio minute)
    marked up by the plan (per-token rates do not apply to audio); never below the plan's minimum.
    `provider_cost` None: from the price list now (the hold's estimate, or a cost that is unknown)."""
    plan = plan_for(model)
    if provider_cost is None:
        price = price_for("", model, timezone.now())
        provider_cost = price.audio_cost(audio_seconds) if price else None
    charge = credits_for_cost(plan, provider_cost) if provider_cost else Decimal(0)
    return as_credits(max(charge, plan.effective_minimum))


def is_billable(user) -> bool:
    return not settings.BILLING_FREE_MODE and not user.is_admin


def billing_reserve(*, user_id: int, amount: Decimal, for_update: int | None = None, purpose: str = "") -> Operation:
    """Hold the most an answer can cost; InsufficientBalance if the balance cannot cover it. A hold for a
    Telegram update is made once, however often the update is processed: the same hold comes back.
    `purpose`: a second hold for the same update (a voice note's transcription, before its answer's)."""
    ref = f"update:{for_update}" + (f":{purpose}" if purpose else "")
    key = operation_key("hold", ref) if for_update is not None else None
    return ledger_apply(user_id=user_id, type=OperationType.RESERVE, amount=-as_credits(amount), idempotency_key=key)


def billing_settle(*, reserve: Operation, charge: Decimal, llm_request_id: int | None, model: str = "") -> Operation:
    """Release the hold and charge what the answer cost, never more than was held: two operations
    written together, once per hold (whether or not the LLM request could be recorded)."""
    held = -reserve.amount
    release = Operation(
        user_id=reserve.user_id,
        type=OperationType.RELEASE,
        amount=held,
        idempotency_key=idempotency_hash(operation_key("release", reserve.pk)),
    )
    generation = Operation(
        user_id=reserve.user_id,
        type=OperationType.GENERATION,
        amount=-min(as_credits(charge), held),
        model=model[: Operation._meta.get_field("model").max_length],  # a label here; the request has it whole
        llm_request_id=llm_request_id,
        idempotency_key=idempotency_hash(operation_key("generation", f"hold:{reserve.pk}")),
    )
    return ledger_apply_together([release, generation])


def billing_release(*, reserve: Operation) -> Operation:
    """The answer failed: give back everything that was held."""
    return ledger_apply(
        user_id=reserve.user_id,
        type=OperationType.RELEASE,
        amount=-reserve.amount,
        idempotency_key=operation_key("release", reserve.pk),
    )


def billing_grant_trial(*, user_id: int) -> Operation | None:
    if settings.BILLING_TRIAL_CREDITS <= 0:
        return None
    return ledger_apply(
        user_id=user_id,
        type=OperationType.BONUS,
        amount=settings.BILLING_TRIAL_CREDITS,
        reason="trial credit",
        idempotency_key=operation_key("trial", user_id),
    )


def reserves_release_stale(
    *, older_than: timedelta = timedelta(minutes=15), lookback: timedelta = timedelta(days=7)
) -> int:
    """Holds whose answer never settled (the worker died mid-call) go back to their users. Looks at
    holds from the last `lookback`; the job runs every few minutes."""
    now = timezone.now()
    reserves = list(
        Operation.objects.filter(
            type=OperationType.RESERVE, created_at__range=(now - older_than - lookback, now - older_than)
        )
    )
    release_keys = {idempotency_hash(operation_key("release", reserve.pk)): reserve for reserve in reserves}
    settled = set(Operation.objects.filter(idempotency_key__in=release_keys).values_list("idempotency_key", flat=True))
    stale = [reserve for key, reserve in release_keys.items() if key not in settled]
    for reserve in stale:
        billing_release(reserve=reserve)
    return len(stale)
