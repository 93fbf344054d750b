"""Who a broadcast reaches, and how far it has got."""

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import BooleanField, Count, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from apps.billing.models import Payment, RefundAbuse
from apps.core.dates import day_start
from apps.users.models import TelegramUser

from .models import Broadcast, BroadcastDelivery, DeliveryStatus

CRITERIA = {
    "gender", "journey_stage", "journey_stages", "streams", "streams_match", "markers", "language",
    "last_seen_within_days", "registered_after", "registered_before", "has_purchased",
    "refund_abuse",
}  # fmt: skip


def get_users_by_criteria(criteria: dict[str, Any]) -> QuerySet[TelegramUser]:
    """Users who have not blocked the bot and match every criterion given (seed 004's name), never an erased
    user's pseudonym. Serves the admin's preview and the send alike. Unknown criteria are an error, not
    silently everyone."""
    unknown = set(criteria) - CRITERIA
    if unknown:
        raise ValueError(f"unknown criteria: {', '.join(sorted(unknown))}")
    users = TelegramUser.objects.filter(is_active=True, erased_at__isnull=True)
    if criteria.get("gender"):
        users = users.filter(gender=criteria["gender"])
    # Seed 004 names one stage (`journey_stage`); Botdesk's segments take several (`journey_stages`).
    stages = [
        *criteria.get("journey_stages", []),
        *([criteria["journey_stage"]] if criteria.get("journey_stage") else []),
    ]
    if stages:
        users = users.filter(last_journey_stage__in=stages)
    if criteria.get("streams"):
        users = _with_streams(users, criteria["streams"], every=criteria.get("streams_match") == "all")
    for number, (key, value) in enumerate((criteria.get("markers") or {}).items()):
        # The key goes through KeyTransform as a parameter: any text is safe, "__" included.
        users = users.alias(**{f"_marker_{number}": KeyTransform(key, "markers")}).filter(
            **{f"_marker_{number}": value}
        )
    if criteria.get("language"):
        language = criteria["language"].lower()
        users = users.filter(Q(language_code__iexact=language) | Q(language_code__istartswith=f"{language}-"))
    if criteria.get("last_seen_within_days") is not None:
        users = users.filter(last_seen_date__gte=timezone.now() - timedelta(days=criteria["last_seen_within_days"]))
    if criteria.get("registered_after"):
        users = users.filter(registration_date__gte=_day_start(criteria["registered_after"]))
    if criteria.get("registered_before"):
        users = users.filter(registration_date__lt=_day_start(criteria["registered_before"]) + timedelta(days=1))
    if criteria.get("has_purchased") is not None:
        paid = Exists(Payment.objects.filter(user=OuterRef("pk")))
        users = users.filter(paid if criteria["has_purchased"] else ~paid)
    if criteria.get("refund_abuse") is not None:
        flagged = Exists(RefundAbuse.objects.filter(user=OuterRef("pk")))
        users = users.filter(flagged if criteria["refund_abuse"] else ~flagged)
    return users.order_by("id")


def _with_streams(users: QuerySet[TelegramUser], streams: list[str], *, every: bool) -> QuerySet[TelegramUser]:
    """`streams` is a JSON list. PostgreSQL asks jsonb containment (@>); SQLite has no JSON containment
    in Django, so it asks json_each."""
    if connection.vendor == "postgresql":
        tests = [Q(streams__contains=[stream]) for stream in streams]
    else:
        table = TelegramUser._meta.db_table
        sql = f'EXISTS (SELECT 1 FROM json_each("{table}"."streams") WHERE json_each.value = %s)'  # noqa: S608
        tests = [Q(RawSQL(sql, [stream], output_field=BooleanField())) for stream in streams]
    combined = tests[0]
    for test in tests[1:]:
        combined = combined & test if every else combined | test
    return users.filter(combined)


def stream_tags_in_use() -> list[tuple[str, int]]:
    """The stream tags of the users a broadcast can reach, with how many have each, the most common first:
    what the segment offers to choose from."""
    return _json_members_in_use("streams", "array")


def marker_keys_in_use() -> list[tuple[str, int]]:
    """The marker keys those users have, the most common first: suggestions for the segment's markers."""
    return _json_members_in_use("markers", "object")


def languages_in_use() -> list[tuple[str, int]]:
    """The languages of those users by their primary subtag (en-US counts as en, as the segment matches it),
    with how many speak each, the most common first."""
    counts: Counter[str] = Counter()
    codes = TelegramUser.objects.filter(is_active=True).exclude(language_code="").values_list("language_code")
    for code, users in codes.annotate(users=Count("id")).order_by():
        counts[code.lower().split("-")[0]] += users
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _json_members_in_use(column: str, kind: str) -> list[tuple[str, int]]:
    """The items (kind "array") or keys (kind "object") of a JSON column of the active users, counted in
    one pass of the database: PostgreSQL unnests jsonb, SQLite asks json_each. A row whose value is not of
    that kind adds nothing."""
    quote = connection.ops.quote_name
    table, column = quote(TelegramUser._meta.db_table), quote(column)
    if connection.vendor == "postgresql":
        unnest, empty = ("jsonb_array_elements_text", "[]") if kind == "array" else ("jsonb_object_keys", "{}")
        sql = (
            f"SELECT member, COUNT(*) FROM {table} CROSS JOIN LATERAL {unnest}("  # noqa: S608
            f"CASE WHEN jsonb_typeof({table}.{column}) = %s THEN {table}.{column} ELSE '{empty}'::jsonb END"
            f") AS member WHERE {table}.is_active GROUP BY member ORDER BY 2 DESC, 1"
        )
    else:
        member, only = ("json_each.value", "AND json_each.type = 'text'") if kind == "array" else ("json_each.key", "")
        sql = (
            f"SELECT {member}, COUNT(*) FROM {table}, json_each({table}.{column})"  # noqa: S608
            f" WHERE {table}.is_active AND json_type({table}.{column}) = %s {only} GROUP BY 1 ORDER BY 2 DESC, 1"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [kind])
        return [(str(member), users) for member, users in cursor.fetchall()]


def _day_start(day: date | str) -> datetime:
    # Staff pick registration dates in the admin's own time zone.
    return day_start(date.fromisoformat(day) if isinstance(day, str) else day)


def delivery_counts(broadcast_id: int) -> dict[str, int]:
    """Deliveries by status, every status present (zeros included)."""
    counts = dict(
        BroadcastDelivery.objects.filter(broadcast_id=broadcast_id)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("status", "n")
    )
    return {status: counts.get(status, 0) for status in DeliveryStatus.values}


def broadcasts_without_live_runner() -> QuerySet[Broadcast]:
    """Broadcasts nobody is sending: no runner yet, or one silent for BROADCAST_STALLED_AFTER seconds."""
    stalled_before = timezone.now() - timedelta(seconds=settings.BROADCAST_STALLED_AFTER)
    return Broadcast.objects.filter(Q(runner="") | Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stalled_before))
