"""Erasing a Telegram user everywhere (apps.bot.flows.erase): afterwards no table and no cache key holds their
id, names or anything they wrote; the ledger and payments stay under a pseudonym, and every count with them."""

import json
import pickle
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db.models import Count, Sum
from django.utils import timezone

from apps.analytics.catalogue import Events
from apps.analytics.jobs import events_rollup
from apps.analytics.models import AnalyticsEvent, EventDailyCount
from apps.analytics.services import daily_session_id, events_store, track
from apps.billing.models import (
    Balance,
    Discrepancy,
    DiscrepancyKind,
    Operation,
    Payment,
    ReconciliationRun,
    RefundAbuse,
    Subscription,
    SubscriptionPlan,
)
from apps.billing.services import add_to_balance, invoice_payload, log_kie_operation, payment_record
from apps.bot import static_text
from apps.bot.flows.erase import SubscriptionNotCanceled, erase_stragglers, user_erase
from apps.bot.flows.export import user_data_json
from apps.bot.flows.profiles import profile_refresh_if_stale
from apps.bot.models import InboxStatus, InboxUpdate, Reply, VoiceTranscript
from apps.bot.services import inbox_receive
from apps.broadcast.models import BroadcastDelivery, DeliveryStatus
from apps.broadcast.selectors import delivery_counts, get_users_by_criteria
from apps.core import sending
from apps.core.redis import redis_client
from apps.journey.services import update_journey_stage
from apps.llm.metering import usage_record_from_payload
from apps.llm.models import DailyUsage, LLMRequest, RequestStatus, RequestType, UserUsageSummary
from apps.sessions.models import UserSession
from apps.users.models import ErasureReceipt, TelegramUser, UserActivityLog, UserActivityLogArchive
from apps.users.selectors import users_due_for_rotation
from tests.factories import (
    BroadcastFactory,
    CreditPackageFactory,
    LLMRequestFactory,
    PaymentFactory,
    SubscriptionFactory,
    UserWithBalanceFactory,
)
from tests.fakes.openai import Answer
from tests.helpers import message_update

pytestmark = pytest.mark.django_db(transaction=True)

USER_ID = 987_650_123_456
USERNAME = "agrippina_quill"
FIRST_NAME = "Агриппина"
LAST_NAME = "Quillfeather"
PHRASE = "бабушкин синий велосипед in Tver №4471"
NEEDLES = [str(USER_ID), USERNAME, FIRST_NAME, LAST_NAME, PHRASE]
SENDER = {"username": USERNAME, "first_name": FIRST_NAME, "last_name": LAST_NAME}


@dataclass
class Planted:
    staff: User
    sent: BroadcastDelivery
    pending: BroadcastDelivery
    other: TelegramUser


def _plant(post_update, llm_api, settings) -> Planted:
    """The user in every table that can hold them, through the bot where the bot writes it: /start, a chat turn
    (prompts stored), a profile refresh (the LLM's answer cached), the journey; payments (an old payload, an
    invoice, a subscription), a refund-abuse flag, reconciliation's discrepancies, staff's adjustment naming them,
    events, broadcast deliveries, an update still pending with its reply and voice transcript, a failed one, an
    admin history entry. And another user, who must lose nothing."""
    settings.STORE_PROMPTS = True
    now = timezone.now()
    post_update(message_update("/start", user_id=USER_ID, **SENDER))
    llm_api.then(
        Answer(text=f"You said: {PHRASE}"),
        Answer(text=json.dumps({"summary": f"Dreams of {PHRASE}", "streams": ["travel"]}, ensure_ascii=False)),
    )
    post_update(message_update(PHRASE, user_id=USER_ID, **SENDER))
    assert profile_refresh_if_stale(TelegramUser.objects.get(pk=USER_ID)), "the profile answer is cached"
    update_journey_stage(USER_ID, "call_to_adventure")

    staff = User.objects.create_user("clerk", is_staff=True)
    add_to_balance(USER_ID, Decimal(5), reason=f"goodwill for {FIRST_NAME} after the outage", staff=staff)
    old_payment = PaymentFactory(user_id=USER_ID)  # the old payload: "pkg:<package>:<user>"
    RefundAbuse.objects.create(
        user_id=USER_ID, payment=old_payment, credits_consumed=80, stars_returned=50, share_consumed=Decimal("0.8")
    )
    package = CreditPackageFactory(title="Starter")
    payload = invoice_payload(user_id=USER_ID, package=package)
    payment_record(user_id=USER_ID, payload=payload, currency="XTR", total_amount=package.stars, charge_id="charge-1")
    plan = SubscriptionPlan.objects.create(title="Monthly", stars=100, credits=Decimal(300))
    payload = invoice_payload(user_id=USER_ID, plan=plan)
    payment_record(user_id=USER_ID, payload=payload, currency="XTR", total_amount=100, charge_id="charge-2")
    log_kie_operation(USER_ID, "image-model", prompt=PHRASE, result_url=f"https://cdn.example/{USERNAME}.png")
    run = ReconciliationRun.objects.create(since=now - timedelta(days=30))
    run.discrepancies.create(
        kind=DiscrepancyKind.MISSING_PAYMENT,
        charge_id="charge-lost",
        telegram_user_id=USER_ID,
        stars=50,
        invoice_payload=f"pkg:{package.pk}:{USER_ID}",
        details=f"User {USER_ID} paid 50 ⭐; no payment of ours has this charge id.",
    )
    run.discrepancies.create(
        kind=DiscrepancyKind.UNKNOWN_TO_TELEGRAM,
        charge_id=old_payment.telegram_payment_charge_id,
        payment=old_payment,
        details=f"Payment {old_payment.pk} of user {USER_ID} is not in Telegram's Stars ledger.",
    )

    track(
        Events.SERVICE_SUGGESTED,
        user_id=USER_ID,
        properties={"service_name": f"a walk for {FIRST_NAME}", "confidence_score": 0.9, "full_name": LAST_NAME},
    )
    AnalyticsEvent.objects.create(event_name=Events.BOT_STARTED, user_id=USER_ID, occurred_at=now - timedelta(days=1))
    UserActivityLogArchive.objects.create(user_id=USER_ID, chat_id=USER_ID, activity_type="message", details={"n": 1})
    UserActivityLog.objects.create(user_id=USER_ID, chat_id=USER_ID, activity_type="note", details={"text": PHRASE})

    sent = BroadcastFactory().deliveries.create(user_id=USER_ID, status=DeliveryStatus.SENT, message_id=7, sent_at=now)
    pending = BroadcastFactory().deliveries.create(user_id=USER_ID)

    waiting = message_update(PHRASE, user_id=USER_ID, **SENDER)
    inbox_receive(payload=waiting, enqueue=False)
    Reply.objects.create(update_id=waiting["update_id"], chat_id=USER_ID, parts=[f"About {PHRASE}"])
    VoiceTranscript.objects.create(update_id=waiting["update_id"], text=PHRASE)
    failed = message_update(f"/buy {PHRASE}", user_id=USER_ID, **SENDER)
    inbox_receive(payload=failed, enqueue=False)
    InboxUpdate.objects.filter(pk=failed["update_id"]).update(status=InboxStatus.FAILED, error=f"broke on {PHRASE}")

    LogEntry.objects.create(
        user=staff,
        content_type=ContentType.objects.get_for_model(TelegramUser),
        object_id=str(USER_ID),
        object_repr=str(TelegramUser.objects.get(pk=USER_ID)),
        action_flag=CHANGE,
        change_message="[]",
    )
    other = UserWithBalanceFactory(username="someone_else", first_name="Boris")
    post_update(message_update("someone else's own words", user_id=other.pk, username="someone_else"))
    return Planted(staff=staff, sent=sent, pending=pending, other=TelegramUser.objects.get(pk=other.pk))


def _tables() -> dict[str, list[tuple]]:
    """Every row of every table, each value as text (JSON as it reads, not escaped)."""

    def text(value: object) -> str:
        return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)

    tables = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.managed and not model._meta.proxy:
            columns = [field.attname for field in model._meta.concrete_fields]
            rows = model.objects.order_by("pk").values_list(*columns)
            tables[model._meta.label] = [tuple(text(value) for value in row) for row in rows]
    return tables


def _found_in_tables() -> dict[str, set[str]]:
    """Which needles each table holds."""
    found = {}
    for label, rows in _tables().items():
        content = "\n".join("\t".join(row) for row in rows).casefold()
        if hits := {needle for needle in NEEDLES if needle.casefold() in content}:
            found[label] = hits
    return found


def _cache_contents() -> list[str]:
    """Every key of the cache and every value it holds, as text: Redis' whole test database on the services
    leg, the local-memory cache otherwise."""
    client = redis_client()
    if client is None:
        return [f"{key} {pickle.loads(value)!r}" for key, value in cache._cache.items()]
    contents = []
    for key in client.scan_iter():
        value = client.get(key) if client.type(key) == b"string" else b""
        try:
            value = repr(pickle.loads(value))
        except Exception:
            value = value.decode(errors="replace")
        contents.append(f"{key.decode(errors='replace')} {value}")
    return contents


def _found_in_cache() -> set[str]:
    content = "\n".join(_cache_contents()).casefold()
    return {needle for needle in NEEDLES if needle.casefold() in content}


def _aggregates() -> dict[str, object]:
    """What counts over users must not change: events per name, the daily rollups, LLM usage per day, payments."""
    events_rollup()
    usage = DailyUsage.objects.values_list("date").annotate(Sum("requests"), Sum("total_tokens"), Sum("cost"))
    return {
        "events": Counter(dict(AnalyticsEvent.objects.values_list("event_name").annotate(Count("id")))),
        "daily counts": list(
            EventDailyCount.objects.order_by("date", "event_name").values_list("date", "event_name", "events", "users")
        ),
        "usage": sorted(usage),
        "requests": LLMRequest.objects.aggregate(Count("id"), Sum("total_tokens"), Sum("cost")),
        "payments": sorted(Payment.objects.values_list("telegram_payment_charge_id", "stars", "credits", "status")),
    }


@pytest.fixture
def planted(post_update, bot_api, llm_api, settings) -> Planted:
    cache.clear()  # today's profile-refresh mark of an earlier test would keep this one's from being made
    return _plant(post_update, llm_api, settings)


def test_after_the_erase_no_table_and_no_cache_key_names_the_user_or_holds_what_they_wrote(planted):
    before = _found_in_tables()
    everywhere = set().union(*before.values())
    assert everywhere == set(NEEDLES), "the planting reached every needle"
    assert {"bot_sessions.UserSession", "llm.LLMRequest", "bot.InboxUpdate", "bot.VoiceTranscript"} <= set(before)
    assert {str(USER_ID), PHRASE} <= _found_in_cache(), "the profile answer and refresh mark are cached"
    balance = Balance.objects.get(pk=USER_ID).amount
    operations = Operation.objects.filter(user_id=USER_ID).count()
    other_data = user_data_json(planted.other.pk)
    aggregates = _aggregates()

    receipt = user_erase(USER_ID, reason="asked by email", via=ErasureReceipt.Via.ADMIN, staff=planted.staff)

    assert _found_in_tables() == {}
    assert _found_in_cache() == set()
    assert _aggregates() == aggregates
    assert user_data_json(planted.other.pk) == other_data, "nobody else lost anything"
    call_command("verify_ledger")  # raises CommandError on any balance != Σ operations

    pseudonym = TelegramUser.objects.get(pk=receipt.pseudonym_id)
    assert pseudonym.pk < 0 and pseudonym.erased_at is not None and not pseudonym.is_active
    assert (pseudonym.username, pseudonym.first_name, pseudonym.psychological_summary) == ("", "", "")
    assert (pseudonym.last_journey_stage, pseudonym.streams, pseudonym.markers) == (None, [], {})
    assert Balance.objects.get(pk=pseudonym.pk).amount == balance
    assert Operation.objects.filter(user=pseudonym).count() == operations
    assert Payment.objects.filter(user=pseudonym).count() == 3
    assert Subscription.objects.get().user == pseudonym and RefundAbuse.objects.get().user == pseudonym
    lost = Discrepancy.objects.get(kind=DiscrepancyKind.MISSING_PAYMENT)
    assert lost.telegram_user_id == pseudonym.pk, "crediting it credits the ledger that stays"
    assert lost.invoice_payload.endswith(f":{pseudonym.pk}")
    assert not UserSession.objects.exists() or UserSession.objects.get().user == planted.other
    assert delivery_counts(planted.sent.broadcast_id)[DeliveryStatus.SENT] == 1
    planted.pending.refresh_from_db()
    assert planted.pending.status == DeliveryStatus.FAILED, "a pending broadcast never reaches the pseudonym"
    assert [entry.object_id for entry in LogEntry.objects.all()] == [str(pseudonym.pk)]

    assert (receipt.erased_by, receipt.via, receipt.reason) == (planted.staff, "admin", "asked by email")
    assert receipt.counts["billing.Operation"] == operations
    assert receipt.counts["bot_sessions.UserSession"] == 1
    assert receipt.counts["bot.InboxUpdate"] == 2 and receipt.counts["users.TelegramUser"] == 1
    assert receipt.counts["analytics.AnalyticsEvent"] == AnalyticsEvent.objects.filter(user=pseudonym).count()


def test_erasing_twice_changes_nothing_the_second_time(planted):
    first = user_erase(USER_ID, reason="asked by email", via=ErasureReceipt.Via.COMMAND)
    tables = _tables()
    assert user_erase(USER_ID, reason="again", via=ErasureReceipt.Via.COMMAND) is None
    assert user_erase(first.pseudonym_id, reason="the pseudonym", via=ErasureReceipt.Via.COMMAND) is None
    assert _tables() == tables
    assert ErasureReceipt.objects.get() == first


def test_a_new_update_from_the_same_id_starts_a_new_user_with_no_trace_of_the_old(planted, post_update, bot_api):
    receipt = user_erase(USER_ID, reason="asked by email", via=ErasureReceipt.Via.USER)
    bot_api.reset()
    post_update(message_update("/start", user_id=USER_ID, **SENDER))

    user = TelegramUser.objects.get(pk=USER_ID)
    assert user.registration_date > receipt.erased_at and user.erased_at is None
    assert (user.psychological_summary, user.last_journey_stage, user.streams) == ("", None, [])
    [welcome] = [call.params["text"] for call in bot_api.calls_to("sendMessage")]
    assert welcome == static_text.WELCOME_NEW.format(name=FIRST_NAME)
    [trial] = Operation.objects.filter(user=user)
    assert (trial.reason, trial.amount) == ("trial credit", Decimal(20)), "a trial of their own"
    assert Balance.objects.get(pk=USER_ID).amount == Decimal(20)
    assert not Payment.objects.filter(user=user).exists() and not UserSession.objects.filter(user=user).exists()
    assert not AnalyticsEvent.objects.filter(user=user).exclude(event_name=Events.BOT_STARTED).exists()
    call_command("verify_ledger")


def test_a_pseudonym_is_nobody_to_profile_or_to_broadcast_to_even_if_marked_active(planted):
    receipt = user_erase(USER_ID, reason="asked by email", via=ErasureReceipt.Via.ADMIN)
    TelegramUser.objects.filter(pk=receipt.pseudonym_id).update(is_active=True, last_seen_date=timezone.now())
    assert UserActivityLog.objects.filter(user_id=receipt.pseudonym_id, activity_type="message").exists()
    assert receipt.pseudonym_id not in users_due_for_rotation().values_list("id", flat=True)
    assert receipt.pseudonym_id not in get_users_by_criteria({}).values_list("id", flat=True)


@pytest.mark.parametrize(
    ("reason", "via", "error"), [("", "admin", "reason"), ("   ", "admin", "reason"), ("ok", "api", "Via")]
)
def test_an_erase_needs_a_reason_and_a_known_way(reason, via, error):
    UserWithBalanceFactory(id=USER_ID)
    with pytest.raises(ValueError, match=error):
        user_erase(USER_ID, reason=reason, via=via)
    assert TelegramUser.objects.filter(pk=USER_ID).exists() and not ErasureReceipt.objects.exists()


def test_manage_py_erase_user_prints_the_receipts_counts(capsys):
    UserWithBalanceFactory(id=USER_ID, username=USERNAME)
    call_command("erase_user", str(USER_ID), "--reason", "court order 12/7")
    out = capsys.readouterr().out
    receipt = ErasureReceipt.objects.get()
    assert (receipt.via, receipt.reason, receipt.erased_by) == ("command", "court order 12/7", None)
    assert "billing.Operation: 1" in out and "users.TelegramUser: 1" in out and f"receipt {receipt.pk}" in out
    assert not TelegramUser.objects.filter(pk=USER_ID).exists()

    call_command("erase_user", str(USER_ID), "--reason", "again")
    assert "nothing to erase" in capsys.readouterr().out
    assert ErasureReceipt.objects.count() == 1


def test_a_reason_typed_in_a_shell_that_is_not_utf_8_is_kept_as_far_as_it_reads(capsys):
    """Python hands bytes that are not UTF-8 in argv over as lone surrogates, which neither database stores."""
    UserWithBalanceFactory(id=USER_ID)
    call_command("erase_user", str(USER_ID), "--reason", "court order \udcff12")
    assert ErasureReceipt.objects.get().reason == "court order \ufffd12"
    assert not TelegramUser.objects.filter(pk=USER_ID).exists()


@pytest.mark.parametrize("reason", [[], ["--reason", " "]])
def test_manage_py_erase_user_refuses_without_a_reason(reason):
    UserWithBalanceFactory(id=USER_ID)
    with pytest.raises(CommandError, match="a reason is required"):
        call_command("erase_user", str(USER_ID), *reason)
    assert TelegramUser.objects.filter(pk=USER_ID).exists()


def test_events_and_activity_stored_after_the_erase_move_to_the_pseudonym_unless_they_are_a_new_users():
    """A batch of events on its way through the broker lands after the erase, under the old id: the sweep the
    erase schedules moves what happened by the erase, and leaves what a new user of the same id did since."""
    TelegramUser.objects.create(id=USER_ID, username=USERNAME)
    receipt = user_erase(USER_ID, reason="asked by email", via=ErasureReceipt.Via.ADMIN)
    before, after = receipt.erased_at - timedelta(seconds=1), receipt.erased_at + timedelta(seconds=1)
    late = {"event_name": Events.DIALOG_STARTED, "user_id": USER_ID, "properties": {}, "platform": "telegram"}
    events_store(
        [
            {**late, "session_id": daily_session_id(USER_ID, before), "occurred_at": before.isoformat()},
            {**late, "session_id": daily_session_id(USER_ID, after), "occurred_at": after.isoformat()},
        ]
    )
    TelegramUser.objects.create(id=USER_ID)  # they wrote again: a new user
    UserActivityLog.objects.create(user_id=USER_ID, activity_type="message", timestamp=before, chat_id=USER_ID)
    UserActivityLog.objects.create(user_id=USER_ID, activity_type="message", timestamp=after, chat_id=USER_ID)

    moved = erase_stragglers(user_id=USER_ID, pseudonym_id=receipt.pseudonym_id, erased_at=receipt.erased_at)

    assert moved == 2
    [old_event] = AnalyticsEvent.objects.filter(user_id=receipt.pseudonym_id)
    assert old_event.session_id == daily_session_id(receipt.pseudonym_id, before)
    assert list(AnalyticsEvent.objects.filter(user_id=USER_ID).values_list("occurred_at", flat=True)) == [after]
    assert UserActivityLog.objects.get(user_id=receipt.pseudonym_id).chat_id is None
    assert list(UserActivityLog.objects.filter(user_id=USER_ID).values_list("timestamp", flat=True)) == [after]
    assert erase_stragglers(user_id=USER_ID, pseudonym_id=receipt.pseudonym_id, erased_at=receipt.erased_at) == 0


def _usage_stored_late(at, session_id: int | None = None) -> LLMRequest:
    """An answer of theirs whose usage record waited in the broker (the database was away), stored now, as
    record_usage_later stores it."""
    return usage_record_from_payload(
        {
            "user_id": USER_ID,
            "username": USERNAME,
            "session_id": session_id,
            "request_type": RequestType.CHAT,
            "provider": "openai",
            "model": "gpt-4.1-mini",
            "prompt_tokens": 100,
            "completion_tokens": 20,
            "total_tokens": 120,
            "cached_tokens": 0,
            "cost": "0.00008",
            "latency_ms": 700,
            "status": RequestStatus.SUCCESS,
            "created_at": at.isoformat(),
            "prompt_text": "what they asked last",
            "response_text": "what they were answered",
        }
    )


def _usage(user_id: int) -> tuple:
    days = DailyUsage.objects.filter(user_id=user_id).aggregate(requests=Sum("requests"), tokens=Sum("total_tokens"))
    summary = UserUsageSummary.objects.filter(user_id=user_id).values_list("total_requests", "total_tokens").first()
    return days["requests"], days["tokens"], summary


def test_a_usage_record_stored_after_the_erase_moves_to_the_pseudonym_and_the_row_it_made_goes():
    user = TelegramUser.objects.create(id=USER_ID, username=USERNAME)
    session = UserSession.objects.create(user=user)
    LLMRequestFactory(user=user, session=session, prompt_text="what they asked first")
    receipt = user_erase(USER_ID, reason="asked by email", via=ErasureReceipt.Via.ADMIN)
    # In the session the erase deleted: stored without it (the session's foreign key failed it every time).
    assert _usage_stored_late(receipt.erased_at - timedelta(seconds=1), session_id=session.pk).session_id is None
    assert TelegramUser.objects.filter(pk=USER_ID, username=USERNAME).exists(), "the late record made their row"

    erase_stragglers(user_id=USER_ID, pseudonym_id=receipt.pseudonym_id, erased_at=receipt.erased_at)

    assert not TelegramUser.objects.filter(pk=USER_ID).exists()
    moved = LLMRequest.objects.filter(user_id=receipt.pseudonym_id)
    assert moved.count() == 2 and set(moved.values_list("prompt_text", "response_text")) == {("", "")}
    assert _usage(receipt.pseudonym_id) == (2, 150 + 120, (2, 150 + 120)), "the rollups went with the record"
    assert _usage(USER_ID) == (None, None, None)


def test_the_row_a_late_record_made_stays_once_anything_points_at_it():
    """A broadcast reached the row meanwhile: deleting the row would take its delivery (and the broadcast's
    counts) with it. Deliveries point at users without a reverse name ("+"): they are looked for all the same."""
    TelegramUser.objects.create(id=USER_ID, username=USERNAME)
    receipt = user_erase(USER_ID, reason="asked by email", via=ErasureReceipt.Via.ADMIN)
    _usage_stored_late(receipt.erased_at - timedelta(seconds=1))
    BroadcastDelivery.objects.create(broadcast=BroadcastFactory(), user_id=USER_ID, status=DeliveryStatus.SENT)

    erase_stragglers(user_id=USER_ID, pseudonym_id=receipt.pseudonym_id, erased_at=receipt.erased_at)

    assert TelegramUser.objects.filter(pk=USER_ID).exists() and BroadcastDelivery.objects.filter(user_id=USER_ID)
    assert _usage(USER_ID) == (None, None, None), "the late record moved all the same"


def test_a_late_usage_record_moves_and_a_new_user_of_the_same_id_keeps_their_own():
    TelegramUser.objects.create(id=USER_ID, username=USERNAME)
    receipt = user_erase(USER_ID, reason="asked by email", via=ErasureReceipt.Via.ADMIN)
    after = receipt.erased_at + timedelta(seconds=1)
    new_user = TelegramUser.objects.create(id=USER_ID)  # they wrote again: a new user
    UserActivityLog.objects.create(user_id=USER_ID, activity_type="message", timestamp=after, chat_id=USER_ID)
    LLMRequestFactory(user=new_user, created_at=after, prompt_text="a new question")
    _usage_stored_late(receipt.erased_at - timedelta(seconds=1))
    assert _usage(USER_ID) == (2, 270, (2, 270))

    erase_stragglers(user_id=USER_ID, pseudonym_id=receipt.pseudonym_id, erased_at=receipt.erased_at)

    assert TelegramUser.objects.filter(pk=USER_ID).exists()
    assert list(LLMRequest.objects.filter(user_id=USER_ID).values_list("prompt_text", flat=True)) == ["a new question"]
    assert _usage(USER_ID) == (1, 150, (1, 150))
    assert DailyUsage.objects.get(user_id=USER_ID).models == {"gpt-4o-mini": 1}
    assert _usage(receipt.pseudonym_id) == (1, 120, (1, 120))
    assert LLMRequest.objects.get(user_id=receipt.pseudonym_id).prompt_text == ""


def test_the_pseudonym_reads_as_an_erased_user_wherever_it_is_named():
    TelegramUser.objects.create(id=USER_ID, username=USERNAME, first_name=FIRST_NAME)
    receipt = user_erase(USER_ID, reason="asked by email", via=ErasureReceipt.Via.ADMIN)
    assert str(TelegramUser.objects.get(pk=receipt.pseudonym_id)) == f"erased user ({receipt.pseudonym_id})"


def test_manage_py_erase_user_cancels_the_subscription_with_telegram_first(bot_api, capsys):
    subscription = SubscriptionFactory(user=UserWithBalanceFactory(id=USER_ID))
    call_command("erase_user", str(USER_ID), "--reason", "court order 12/7")

    assert len(bot_api.calls_to("editUserStarSubscription")) == 1
    assert bot_api.star_subscriptions == {(USER_ID, subscription.charge_id): True}, "cancelled"
    receipt = ErasureReceipt.objects.get()
    assert f"receipt {receipt.pk}" in capsys.readouterr().out
    subscription.refresh_from_db()
    assert (subscription.user_id, subscription.is_canceled) == (receipt.pseudonym_id, True), "recorded, then moved"
    assert subscription.canceled_at is not None


def test_manage_py_erase_user_fails_and_erases_nothing_when_telegram_refuses_to_cancel_the_subscription(bot_api):
    subscription = SubscriptionFactory(user=UserWithBalanceFactory(id=USER_ID))
    bot_api.refuse_subscription_edits(USER_ID)
    with pytest.raises(CommandError) as refused:
        call_command("erase_user", str(USER_ID), "--reason", "court order 12/7")

    assert str(refused.value) == (
        "Telegram did not cancel the subscription: Subscription_not_found. Nothing was erased. Try again."
    )
    assert len(bot_api.calls_to("editUserStarSubscription")) == 1
    assert TelegramUser.objects.filter(pk=USER_ID).exists() and not ErasureReceipt.objects.exists()
    subscription.refresh_from_db()
    assert (subscription.user_id, subscription.is_canceled) == (USER_ID, False)


def test_a_subscription_telegram_did_not_answer_about_erases_nothing():
    """No answer in time: Telegram may have cancelled it, or not. Nothing is recorded or erased; again asks again."""
    subscription = SubscriptionFactory(user=UserWithBalanceFactory(id=USER_ID))
    asked = []

    def unanswered(**request: object) -> None:
        asked.append(request)
        raise sending.Unconfirmed("Timed out")

    with pytest.raises(SubscriptionNotCanceled, match="cancel the subscription: Timed out. Nothing was erased"):
        user_erase(USER_ID, reason="asked by email", via=ErasureReceipt.Via.ADMIN, cancel_subscription=unanswered)
    assert asked == [{"user_id": USER_ID, "charge_id": subscription.charge_id}]
    assert TelegramUser.objects.filter(pk=USER_ID).exists() and not ErasureReceipt.objects.exists()
    assert not Subscription.objects.get(pk=subscription.pk).is_canceled


def test_erasing_a_pseudonym_asks_telegram_nothing():
    """A pseudonym is nobody to erase, whatever subscription it holds (erases from before subscriptions were
    cancelled left renewing ones): Telegram is not asked about a negative id."""
    receipt = user_erase(UserWithBalanceFactory(id=USER_ID).pk, reason="asked by email", via=ErasureReceipt.Via.ADMIN)
    SubscriptionFactory(user=TelegramUser.objects.get(pk=receipt.pseudonym_id))

    def unexpected(**request: object) -> None:
        raise AssertionError(f"Telegram asked: {request}")

    assert user_erase(receipt.pseudonym_id, reason="x", via="admin", cancel_subscription=unexpected) is None
