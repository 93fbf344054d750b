from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone

from apps.llm.models import RequestType
from apps.users.models import TelegramUser

from .models import (
    Balance,
    CreditPackage,
    Operation,
    OperationType,
    PaidStream,
    Payment,
    Subscription,
    SubscriptionPlan,
)


def active_packages() -> list[CreditPackage]:
    return list(CreditPackage.objects.filter(is_active=True))


def package_for_sale(package_id: str) -> CreditPackage | None:
    """The active package whose id this text (from a /buy button or an invoice payload) names, or None."""
    if not package_id.isdigit():
        return None
    return CreditPackage.objects.filter(pk=int(package_id), is_active=True).first()


def active_plans() -> list[SubscriptionPlan]:
    return list(SubscriptionPlan.objects.filter(is_active=True))


def plan_for_sale(plan_id: str) -> SubscriptionPlan | None:
    return SubscriptionPlan.objects.filter(pk=int(plan_id), is_active=True).first() if plan_id.isdigit() else None


def active_streams() -> list[PaidStream]:
    return list(PaidStream.objects.filter(is_active=True).select_related("about_link"))


def stream_for_sale(stream_id: str) -> PaidStream | None:
    return PaidStream.objects.filter(pk=int(stream_id), is_active=True).first() if stream_id.isdigit() else None


def live_subscription(user_id: int) -> Subscription | None:
    """The user's subscription whose paid period lasts (the one ending last), or None."""
    live = Subscription.objects.filter(user_id=user_id, expires_at__gt=timezone.now()).select_related("invoice")
    return live.order_by("-expires_at").first()


def renewing_subscriptions(user_id: int) -> list[Subscription]:
    """The user's subscriptions that Telegram will charge again: paid period lasting, renewal not cancelled."""
    renewing = Subscription.objects.filter(user_id=user_id, expires_at__gt=timezone.now(), is_canceled=False)
    return list(renewing.order_by("expires_at"))


def ledger_mismatches() -> tuple[int, list[dict]]:
    """Users whose balance differs from the sum of their operations (users with either count)."""
    balances = dict(Balance.objects.values_list("user_id", "amount"))
    # SQLite sums decimals as floats (9.48769999999998): back to the ledger's places, which are exact.
    places = Decimal(1).scaleb(-Operation._meta.get_field("amount").decimal_places)
    totals = Operation.objects.values("user_id").annotate(total=Sum("amount")).values_list("user_id", "total")
    sums = {user_id: Decimal(total).quantize(places) for user_id, total in totals}
    users = balances.keys() | sums.keys()
    mismatches = [
        {"user_id": user_id, "balance": balances.get(user_id, Decimal(0)), "operations": sums.get(user_id, Decimal(0))}
        for user_id in sorted(users)
        if balances.get(user_id, Decimal(0)) != sums.get(user_id, Decimal(0))
    ]
    return len(users), mismatches


def journey_stage_distribution() -> list[dict]:
    """Users per hero's-journey stage, and how many of them bought credits: conversion by stage."""
    paid = Exists(Payment.objects.filter(user_id=OuterRef("pk")))
    rows = (
        TelegramUser.objects.annotate(paid=paid)
        .values("last_journey_stage")
        .annotate(users=Count("id"), paying=Count("id", filter=Q(paid=True)))
        .order_by("-users")
    )
    return [
        {
            "stage": row["last_journey_stage"] or "not analysed",
            "users": row["users"],
            "paying": row["paying"],
            "conversion": round(row["paying"] / row["users"], 4) if row["users"] else 0.0,
        }
        for row in rows
    ]


class StatementKind(StrEnum):
    TOPUP = "topup"
    ANSWERS = "answers"
    REFUND = "refund"  # a payment refunded: its Stars back to the user, its credits taken back
    REFUND_UNDONE = "refund_undone"  # a refund Telegram did not make: the credits given back
    BONUS = "bonus"
    ADJUSTMENT = "adjustment"
    EXPIRY = "expiry"  # a lapsed subscription's unused credits


@dataclass(frozen=True)
class StatementEntry:
    """One line of a user's statement: an operation as the user knows it, or the answers charged in a row
    on one day (`answers` of them; `heard`: voice messages transcribed, charged with them)."""

    kind: StatementKind
    amount: Decimal  # signed, summed over the entry's operations
    at: datetime  # its latest operation's
    answers: int = 0
    heard: int = 0
    stars: int | None = None  # top-ups and refunds: the Stars paid, when known


# A hold (reserve) is taken before an answer and given back (release) when it is settled: bookkeeping of
# ours, not something the user did or paid.
_NOT_SHOWN_TO_USERS = (OperationType.RESERVE, OperationType.RELEASE)
_STATEMENT_KINDS = {
    OperationType.PAYMENT: StatementKind.TOPUP,
    OperationType.BONUS: StatementKind.BONUS,
    OperationType.ADJUSTMENT: StatementKind.ADJUSTMENT,
    OperationType.EXPIRY: StatementKind.EXPIRY,
}


def _statement_kind(type_: int, amount: Decimal) -> StatementKind:
    if type_ == OperationType.REFUND:
        return StatementKind.REFUND if amount < 0 else StatementKind.REFUND_UNDONE
    return _STATEMENT_KINDS[type_]


def user_statement(user_id: int, *, limit: int = 5) -> list[StatementEntry]:
    """The user's latest operations as they understand them, newest first, at most `limit` entries: top-ups
    (with the Stars paid), answers charged, refunds, bonuses, adjustments; never the holds. Answers charged
    in a row (no other operation between them) on one day are one entry."""
    rows = (
        Operation.objects.filter(user_id=user_id)
        .exclude(type__in=_NOT_SHOWN_TO_USERS)
        .order_by("-id")
        .values_list("type", "amount", "created_at", "payment__stars", "llm_request__request_type")
    )
    entries: list[StatementEntry] = []
    for type_, amount, at, stars, request_type in rows.iterator(chunk_size=100):
        heard = int(request_type == RequestType.TRANSCRIPTION)
        last = entries[-1] if entries else None
        if (
            type_ == OperationType.GENERATION
            and last is not None
            and last.kind == StatementKind.ANSWERS
            and timezone.localdate(last.at) == timezone.localdate(at)
        ):
            entries[-1] = replace(
                last, amount=last.amount + amount, answers=last.answers + 1 - heard, heard=last.heard + heard
            )
        elif len(entries) == limit:
            break
        elif type_ == OperationType.GENERATION:
            entries.append(StatementEntry(StatementKind.ANSWERS, amount, at, answers=1 - heard, heard=heard))
        else:
            entries.append(StatementEntry(_statement_kind(type_, amount), amount, at, stars=stars))
    return entries
