import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.core.upsert import upsert

from .models import ActiveUserDay, TelegramUser, UserActivityLog, UserActivityLogArchive

# Refreshed from Telegram on every contact; everything else on the row belongs to the product.
_CONTACT_FIELDS = ["username", "first_name", "last_name", "language_code", "is_premium", "last_seen_date"]


@dataclass(frozen=True)
class TelegramIdentity:
    """Who Telegram says the user is, as of this update."""

    id: int
    first_name: str = ""
    last_name: str = ""
    username: str = ""
    language_code: str = ""
    is_premium: bool = False


@dataclass(frozen=True)
class Contact:
    user: TelegramUser
    created: bool


@dataclass(frozen=True)
class ContactActivity:
    chat_id: int | None
    activity_type: str
    details: dict[str, Any] = field(default_factory=dict)


@transaction.atomic
def user_record_contact(*, identity: TelegramIdentity, activity: ContactActivity, source: str = "") -> Contact:
    """Upsert the user from this contact and log it, without a read-modify-write race.

    `source` is stored only when this contact creates the user.
    """
    now = timezone.now()
    TelegramUser.objects.bulk_create(
        [
            TelegramUser(
                id=identity.id,
                username=identity.username or "",
                first_name=identity.first_name or "",
                last_name=identity.last_name or "",
                language_code=identity.language_code or "",
                is_premium=bool(identity.is_premium),
                registration_date=now,
                last_seen_date=now,
                source=source[:64],
            )
        ],
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=_CONTACT_FIELDS,
    )
    user = TelegramUser.objects.get(pk=identity.id)
    UserActivityLog.objects.create(
        user=user,
        chat_id=activity.chat_id,
        activity_type=activity.activity_type,
        timestamp=now,
        details=activity.details,
    )
    active_days_add([(timezone.localdate(now), user.pk, int(activity.activity_type in MESSAGE_ACTIVITIES))])
    # Only the insert writes registration_date, so it equals this contact's own timestamp only
    # when this contact created the row, however many contacts race.
    return Contact(user=user, created=user.registration_date == now)


# --- Active users per day (ActiveUserDay): what DAU, WAU, MAU and retention count ---------------------------
MESSAGE_ACTIVITIES = ("message", "command")


def active_days_add(days: Iterable[tuple[date, int, int]]) -> None:
    """Fold (day, user_id, messages) into ActiveUserDay: one row per user and day, messages added up. A contact
    that is no message, on a day already counted, writes nothing."""
    rows = [
        (connection.ops.adapt_datefield_value(day), user_id, messages)
        for (day, user_id), messages in {(day, user_id): messages for day, user_id, messages in days}.items()
    ]
    if not rows:
        return
    table = connection.ops.quote_name(ActiveUserDay._meta.db_table)
    upsert(
        f"INSERT INTO {table} (date, user_id, messages)",
        f"ON CONFLICT (date, user_id) DO UPDATE SET messages = {table}.messages + excluded.messages "
        "WHERE excluded.messages > 0",
        rows,
        ("date", "bigint", "integer"),
    )


def _active_days_select(model, users: Q):
    """The SELECT of (day in settings.TIME_ZONE, user_id, messages) from the log or its archive."""
    rows = (
        model.objects.filter(users)
        .annotate(day=TruncDate("timestamp"), uid=F("user_id"))
        .values("day", "uid")
        .annotate(messages=Count("id", filter=Q(activity_type__in=MESSAGE_ACTIVITIES)))
        .order_by()
    )
    return rows.query.sql_with_params()


def active_days_rebuild(*, user_ids: Iterable[int] | None = None, chunk: int = 20_000) -> int:
    """ActiveUserDay again from the activity log and its archive, `chunk` users per transaction. Days before the
    oldest logged contact stay (nothing left to recount them from). Returns rows."""
    user_ids = None if user_ids is None else sorted(set(user_ids))
    logs = (UserActivityLog, UserActivityLogArchive)
    oldest = [m.objects.order_by("timestamp").values_list("timestamp", flat=True).first() for m in logs]
    oldest = [moment for moment in oldest if moment is not None]
    kept = ActiveUserDay.objects.all() if user_ids is None else ActiveUserDay.objects.filter(user_id__in=user_ids)
    if not oldest:
        return kept.count()
    since = timezone.localdate(min(oldest))
    if user_ids is None:
        ids = list(TelegramUser.objects.order_by("pk").values_list("pk", flat=True)[chunk - 1 :: chunk])
        bounds = list(zip([None, *ids], [*ids, None], strict=True))
        groups = [
            Q(**({} if low is None else {"user_id__gt": low}), **({} if high is None else {"user_id__lte": high}))
            for low, high in bounds
        ]
    else:
        groups = [Q(user_id__in=user_ids[start : start + 500]) for start in range(0, len(user_ids), 500)]
    table = connection.ops.quote_name(ActiveUserDay._meta.db_table)
    for users in groups:
        with transaction.atomic(), connection.cursor() as cursor:
            ActiveUserDay.objects.filter(users, date__gte=since).delete()
            for model in logs:
                select, params = _active_days_select(model, users)
                cursor.execute(
                    f"INSERT INTO {table} (date, user_id, messages) {select} ON CONFLICT (date, user_id) "
                    f"DO UPDATE SET messages = {table}.messages + excluded.messages",
                    params,
                )
    return kept.count()


def user_set_active(*, user_id: int, is_active: bool) -> bool:
    """Mark a user reachable or not (they blocked or unblocked the bot). True if it changed."""
    return bool(TelegramUser.objects.filter(pk=user_id).exclude(is_active=is_active).update(is_active=is_active))


def user_profile_update(user: TelegramUser, *, summary: str, streams: list) -> None:
    """A freshly written psychological profile (seed 004), stamped with when it was written."""
    user.psychological_summary = summary[:2000]
    user.streams = [str(stream)[:40] for stream in streams][:5]
    # The tags of paid streams they bought are not the profile's to drop: broadcasts target buyers by them.
    user.streams += [tag for tag in purchased_streams(user) if tag not in user.streams]
    user.markers = {**(user.markers or {}), "profile_updated_at": timezone.now().isoformat()}
    user.save(update_fields=["psychological_summary", "streams", "markers"])


def user_stream_purchased(*, user_id: int, tag: str) -> None:
    """A paid stream bought: the purchased-flow flag, and its tag among the user's streams (once)."""
    user = TelegramUser.objects.select_for_update().get(pk=user_id)
    user.has_purchased_flow = True
    if tag and tag not in purchased_streams(user):
        user.markers = {**(user.markers or {}), "purchased_streams": [*purchased_streams(user), tag]}
    if tag and tag not in (user.streams or []):
        user.streams = [*(user.streams or []), tag]
    user.save(update_fields=["has_purchased_flow", "streams", "markers"])


def purchased_streams(user: TelegramUser) -> list[str]:
    """The tags of the paid streams the user bought (kept in their markers)."""
    return list((user.markers or {}).get("purchased_streams", []))


def user_visited_platform(user_id: int) -> bool:
    """The user followed a tracked link to the platform. True the first time only."""
    return bool(TelegramUser.objects.filter(pk=user_id, has_visited_platform=False).update(has_visited_platform=True))


# --- Erasing a user (apps.bot.flows.erase composes every app's part) ----------------------------
# Shorter names are not looked for in text: "Al" is in half of every note.
_SHORTEST_NAME = 3


def user_names(user: TelegramUser) -> list[str]:
    """What identifies the user in text: their Telegram id, username and names."""
    names = [str(user.pk), user.username, user.first_name, user.last_name]
    return [name for name in names if len(name) >= _SHORTEST_NAME]


def user_pseudonym_create(user: TelegramUser) -> TelegramUser:
    """The row an erased user's ledger and payments move to. Its id is random and negative (Telegram's user
    ids are positive), so nothing links it back to them; it is marked erased, is never active, and keeps
    only what aggregates group by: when they registered, where from, in which language."""
    return TelegramUser.objects.create(
        id=-1 - secrets.randbelow(2**62),
        language_code=user.language_code,
        bot_language=user.bot_language,
        registration_date=user.registration_date,
        last_seen_date=user.registration_date,
        source=user.source,
        is_active=False,
        erased_at=timezone.now(),
    )


def activity_pseudonymise(*, user_id: int, pseudonym_id: int, until: datetime | None = None) -> dict[str, int]:
    """The user's activity log and its archive move to the pseudonym without their chat and details: what
    was done, and when, still counts. `until`: only what was done by then."""
    done_by = {} if until is None else {"timestamp__lte": until}
    moved = {
        model._meta.label: model.objects.filter(user_id=user_id, **done_by).update(
            user_id=pseudonym_id, chat_id=None, details={}
        )
        for model in (UserActivityLog, UserActivityLogArchive)
    }
    # Their active days go too. With `until` a day may hold both what they did and what a later user of the same
    # id did since: both ids' days are counted again from the log, as it now stands.
    days = ActiveUserDay.objects.filter(user_id=user_id)
    if until is not None:
        active_days_rebuild(user_ids=[user_id, pseudonym_id])  # recounted, not moved: not in the count
        return moved
    active_days_add((day, pseudonym_id, messages) for day, messages in days.values_list("date", "messages"))
    moved[ActiveUserDay._meta.label] = days.delete()[0]
    return moved


def user_delete_if_bare(user_id: int, *, since: datetime) -> bool:
    """Delete the user's row if it was made after `since` and no row of any table points at it: the row a late
    record made for an erased user (a usage record stored after the erase, since moved). The row is locked first,
    so a first contact under way is waited for, then seen. True if it was deleted."""
    with transaction.atomic():
        user = TelegramUser.objects.select_for_update().filter(pk=user_id, registration_date__gt=since).first()
        if user is None:
            return False
        # include_hidden: relations named "+" (deliveries, invoices, active days) point at it too
        for relation in TelegramUser._meta.get_fields(include_hidden=True):
            if not (relation.auto_created and not relation.concrete) or relation.on_delete is models.SET_NULL:
                continue  # not a row pointing at it, or one that stays without the id
            if relation.related_model._base_manager.filter(**{relation.field.name: user_id}).exists():
                return False
        user_delete(user_id)
    return True


def user_delete(user_id: int) -> dict[str, int]:
    """The user's own row, last, once everything that stays has moved: rows deleted per table (whatever
    still pointed at it goes with it)."""
    _, deleted = TelegramUser.objects.filter(pk=user_id).delete()
    return deleted
