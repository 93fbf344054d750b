"""Subscriptions in Telegram Stars through the fake Bot API: /buy → createInvoiceLink → payments (first,
renewal, duplicate) → /balance → /subscription (cancel, renew) → refund of a period → lapse."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.analytics.models import AnalyticsEvent
from apps.billing.models import Operation, OperationType, Payment, PaymentStatus, Subscription, SubscriptionPlan
from apps.billing.revenue import GROUPINGS, revenue_rows
from apps.billing.services import create_operation, get_user_balance, subscriptions_lapse
from apps.billing.services.subscriptions import LAPSE_GRACE
from tests.fakes.telegram import successful_payment_update
from tests.helpers import message_update

pytestmark = pytest.mark.django_db(transaction=True)
_ids = iter(range(8_100_000, 8_200_000))
MONTH = 30 * 24 * 3600


@pytest.fixture
def plan(settings) -> SubscriptionPlan:
    settings.BILLING_TRIAL_CREDITS = Decimal("0")
    return SubscriptionPlan.objects.create(title="Monthly", stars=250, credits=Decimal("600"))


def press(post_update, user_id: int, data: str, *, language_code: str = "en") -> None:
    person = {"id": user_id, "is_bot": False, "first_name": "Subscriber", "language_code": language_code}
    message = {"message_id": 5, "date": int(time.time()), "text": "?", "chat": {"id": user_id, "type": "private"}}
    query = {"id": str(next(_ids)), "chat_instance": "ci", "data": data, "from": person, "message": message}
    post_update({"update_id": next(_ids), "callback_query": query})


def pay(post_update, user_id: int, payload: str, charge_id: str, until: float, *, stars: int = 250, **extra) -> None:
    update = successful_payment_update(
        next(_ids), user_id=user_id, payload=payload, stars=stars, charge_id=charge_id, subscription_until=int(until),
        **extra,
    )  # fmt: skip
    post_update(update)


def buttons(call) -> list[dict]:
    return [button for row in call.params["reply_markup"]["inline_keyboard"] for button in row]


def subscribe(post_update, bot_api, user_id: int, plan: SubscriptionPlan, **user) -> str:
    """/buy, the plan chosen, its invoice link: the payload the link's payments carry."""
    post_update(message_update("/buy", user_id=user_id, **user))
    offer = [b for b in buttons(bot_api.calls_to("sendMessage")[-1]) if b.get("callback_data") == f"buy:plan:{plan.pk}"]
    assert len(offer) == 1
    press(post_update, user_id, f"buy:plan:{plan.pk}", language_code=user.get("language_code", "en"))
    return bot_api.calls_to("createInvoiceLink")[-1].params["payload"]


def test_a_plan_is_sold_with_a_subscription_invoice_link_sent_as_a_button(post_update, bot_api, plan):
    subscribe(post_update, bot_api, 2001, plan)

    [link_call] = bot_api.calls_to("createInvoiceLink")
    params = link_call.params
    assert params["currency"] == "XTR" and params["subscription_period"] == 2592000
    assert params["prices"] == [{"label": "Monthly", "amount": 250}]
    assert params["title"] == "Monthly" and params["payload"].startswith("inv:")
    assert "600 credits every 30 days" in params["description"]
    message = bot_api.calls_to("sendMessage")[-1]
    assert "250 ⭐" in message.params["text"]
    [button] = buttons(message)
    assert button["url"].startswith("https://t.me/$fake-invoice-") and "250 ⭐" in button["text"]


def test_first_payment_renewal_and_duplicate(post_update, bot_api, plan):
    payload = subscribe(post_update, bot_api, 2002, plan)
    first_end = time.time() + MONTH
    post_update(
        {"update_id": next(_ids), "pre_checkout_query": {"id": "pcq", "from": {"id": 2002, "is_bot": False,
         "first_name": "S"}, "currency": "XTR", "total_amount": 250, "invoice_payload": payload}}
    )  # fmt: skip
    assert bot_api.calls_to("answerPreCheckoutQuery")[-1].params["ok"] is True
    pay(post_update, 2002, payload, "sub-charge-1", first_end)
    pay(post_update, 2002, payload, "sub-charge-1", first_end)  # Telegram repeats it

    subscription = Subscription.objects.get()
    assert get_user_balance(2002) == Decimal("600")
    assert abs(subscription.expires_at.timestamp() - int(first_end)) < 1
    assert subscription.charge_id == "sub-charge-1" and subscription.renewals == 0
    thanks = [c.params["text"] for c in bot_api.calls_to("sendMessage") if "Thank you" in c.params["text"]]
    assert len(thanks) == 1 and "600 credits added" in thanks[0]

    renewed_end = first_end + MONTH
    pay(post_update, 2002, payload, "sub-charge-2", renewed_end)  # a month later: a new charge id
    pay(post_update, 2002, payload, "sub-charge-2", renewed_end)

    subscription.refresh_from_db()
    assert get_user_balance(2002) == Decimal("1200")
    assert abs(subscription.expires_at.timestamp() - int(renewed_end)) < 1 and subscription.renewals == 1
    assert list(Payment.objects.order_by("created_at").values_list("telegram_payment_charge_id", "subscription")) == [
        ("sub-charge-1", subscription.pk),
        ("sub-charge-2", subscription.pk),
    ]
    assert Operation.objects.filter(user_id=2002, type=OperationType.PAYMENT).count() == 2
    assert AnalyticsEvent.objects.filter(event_name="payment_completed", user_id=2002).count() == 2

    post_update(message_update("/balance", user_id=2002))
    text = bot_api.calls_to("sendMessage")[-1].params["text"]
    assert "Subscription “Monthly”" in text and "renews automatically" in text


def test_a_subscriber_is_not_sold_a_second_subscription(post_update, bot_api, plan):
    payload = subscribe(post_update, bot_api, 2003, plan)
    pay(post_update, 2003, payload, "sub-charge-3", time.time() + MONTH)
    press(post_update, 2003, f"buy:plan:{plan.pk}")

    assert len(bot_api.calls_to("createInvoiceLink")) == 1
    assert "already have the subscription “Monthly”" in bot_api.calls_to("sendMessage")[-1].params["text"]


def test_cancel_with_subscription_then_renew_again(post_update, bot_api, plan):
    payload = subscribe(post_update, bot_api, 2004, plan)
    pay(post_update, 2004, payload, "sub-charge-4", time.time() + MONTH)
    subscription = Subscription.objects.get()

    post_update(message_update("/subscription", user_id=2004))
    status = bot_api.calls_to("sendMessage")[-1]
    assert "renews automatically" in status.params["text"] and "250 ⭐" in status.params["text"]
    assert [b["callback_data"] for b in buttons(status)] == [f"subscription:ask:{subscription.pk}"]
    press(post_update, 2004, f"subscription:ask:{subscription.pk}")
    question = bot_api.calls_to("editMessageText")[-1]
    assert [b["callback_data"] for b in buttons(question)] == [
        f"subscription:cancel:{subscription.pk}",
        f"subscription:keep:{subscription.pk}",
    ]
    assert not bot_api.calls_to("editUserStarSubscription")  # asking changes nothing

    press(post_update, 2004, f"subscription:cancel:{subscription.pk}")
    [cancel] = bot_api.calls_to("editUserStarSubscription")
    assert cancel.params == {"user_id": 2004, "telegram_payment_charge_id": "sub-charge-4", "is_canceled": True}
    subscription.refresh_from_db()
    assert subscription.is_canceled and subscription.canceled_at is not None
    shown = bot_api.calls_to("editMessageText")[-1]
    assert "will not renew" in shown.params["text"]
    post_update(message_update("/balance", user_id=2004))
    assert "cancelled (will not renew)" in bot_api.calls_to("sendMessage")[-1].params["text"]

    [renew_button] = buttons(shown)
    press(post_update, 2004, renew_button["callback_data"])
    assert bot_api.star_subscriptions[(2004, "sub-charge-4")] is False
    subscription.refresh_from_db()
    assert not subscription.is_canceled
    assert "Renewal is back on" in bot_api.calls_to("editMessageText")[-1].params["text"]


def test_a_cancellation_telegram_refuses_is_not_recorded(post_update, bot_api, plan):
    payload = subscribe(post_update, bot_api, 2005, plan)
    pay(post_update, 2005, payload, "sub-charge-5", time.time() + MONTH)
    subscription = Subscription.objects.get()
    bot_api.refuse_subscription_edits(2005)
    press(post_update, 2005, f"subscription:cancel:{subscription.pk}")

    subscription.refresh_from_db()
    assert not subscription.is_canceled
    assert "did not accept" in bot_api.calls_to("editMessageText")[-1].params["text"]


def test_someone_elses_subscription_cannot_be_cancelled(post_update, bot_api, plan):
    payload = subscribe(post_update, bot_api, 2006, plan)
    pay(post_update, 2006, payload, "sub-charge-6", time.time() + MONTH)
    subscription = Subscription.objects.get()
    press(post_update, 2999, f"subscription:cancel:{subscription.pk}")

    assert not bot_api.calls_to("editUserStarSubscription")
    assert not Subscription.objects.get().is_canceled


def test_staff_refund_a_period(post_update, bot_api, plan, admin_client):
    payload = subscribe(post_update, bot_api, 2007, plan)
    first_end = time.time() + MONTH
    pay(post_update, 2007, payload, "sub-charge-7a", first_end)
    pay(post_update, 2007, payload, "sub-charge-7b", first_end + MONTH)
    renewal = Payment.objects.get(telegram_payment_charge_id="sub-charge-7b")

    admin_client.post(
        reverse("admin:billing_payment_changelist"), {"action": "refund", "_selected_action": [renewal.pk]}
    )

    assert bot_api.calls_to("refundStarPayment")[-1].params == {
        "user_id": 2007,
        "telegram_payment_charge_id": "sub-charge-7b",
    }
    renewal.refresh_from_db()
    assert renewal.status == PaymentStatus.REFUNDED
    assert get_user_balance(2007) == Decimal("600")
    subscription = Subscription.objects.get()
    assert subscription.is_canceled  # Telegram ends a subscription whose payment it refunds
    assert abs(subscription.expires_at.timestamp() - int(first_end)) < 1  # the refunded period is gone

    page = admin_client.get(reverse("admin:billing_subscription_changelist")).content.decode()
    assert "Monthly" in page and "2007" in page


@pytest.mark.parametrize("expire", [True, False], ids=["credits-expire", "credits-kept"])
def test_a_lapsed_subscription_keeps_or_expires_its_unused_credits(post_update, bot_api, plan, settings, expire):
    settings.SUBSCRIPTION_CREDITS_EXPIRE = expire
    payload = subscribe(post_update, bot_api, 2008, plan)
    pay(post_update, 2008, payload, "sub-charge-8", time.time() + MONTH)
    create_operation(2008, "generation", Decimal("-100"))
    subscription = Subscription.objects.get()

    assert subscriptions_lapse(now=subscription.expires_at) == []  # a late renewal is waited for
    later = subscription.expires_at + LAPSE_GRACE + timedelta(minutes=1)
    assert subscriptions_lapse(now=later) == [subscription.pk]
    assert subscriptions_lapse(now=later) == []  # once

    expired = Operation.objects.filter(user_id=2008, type=OperationType.EXPIRY)
    if expire:
        assert [op.amount for op in expired] == [Decimal("-500")]
        assert get_user_balance(2008) == Decimal("0")
    else:
        assert not expired.exists()
        assert get_user_balance(2008) == Decimal("500")
    subscription.refresh_from_db()
    assert subscription.lapsed_at == later


def test_the_lapse_job_is_scheduled():
    from config.schedule import SCHEDULE

    assert "apps.billing.tasks.lapse_subscriptions" in {job.task for job in SCHEDULE}


def test_a_russian_speaking_user_subscribes_sees_and_cancels_in_russian(post_update, bot_api, plan):
    ru = {"language_code": "ru", "first_name": "Иван"}
    payload = subscribe(post_update, bot_api, 2010, plan, **ru)
    link = bot_api.calls_to("createInvoiceLink")[-1].params
    assert "600 кредитов каждые 30 дней" in link["description"]
    assert "Оформить подписку за 250 ⭐" in buttons(bot_api.calls_to("sendMessage")[-1])[0]["text"]
    pay(post_update, 2010, payload, "sub-charge-10", time.time() + MONTH, language_code="ru")
    pay(post_update, 2010, payload, "sub-charge-10b", time.time() + 2 * MONTH, language_code="ru")
    thanks = [c.params["text"] for c in bot_api.calls_to("sendMessage") if "Спасибо" in c.params["text"]]
    assert len(thanks) == 2 and "Подписка «Monthly» действует до" in thanks[0]

    post_update(message_update("/balance", user_id=2010, **ru))
    assert "Подписка «Monthly»: до" in bot_api.calls_to("sendMessage")[-1].params["text"]
    post_update(message_update("/subscription", user_id=2010, **ru))
    status = bot_api.calls_to("sendMessage")[-1]
    assert "продлевается автоматически" in status.params["text"]
    subscription = Subscription.objects.get()
    press(post_update, 2010, f"subscription:ask:{subscription.pk}", language_code="ru")
    assert "Отменить подписку «Monthly»?" in bot_api.calls_to("editMessageText")[-1].params["text"]
    press(post_update, 2010, f"subscription:cancel:{subscription.pk}", language_code="ru")
    assert "не продлится" in bot_api.calls_to("editMessageText")[-1].params["text"]
    assert Subscription.objects.get().is_canceled


def test_subscription_periods_are_cash_and_their_credits_earn_what_was_paid(post_update, bot_api, plan, settings):
    settings.STARS_USD_RATE = Decimal("0.013")
    payload = subscribe(post_update, bot_api, 2011, plan)
    pay(post_update, 2011, payload, "sub-charge-11", time.time() + MONTH)
    pay(post_update, 2011, payload, "sub-charge-11b", time.time() + 2 * MONTH)
    create_operation(2011, "generation", Decimal("-60"))  # a tenth of a period's 600 credits

    [row] = revenue_rows(None, timezone.now() + timedelta(seconds=1), GROUPINGS["user"])
    assert (row["stars"], row["cash_revenue"]) == (500, Decimal("6.5"))
    assert row["earned_revenue"] == Decimal("0.325")  # 60 credits at 250 ⭐ × $0.013 / 600


def test_expired_credits_leave_the_paid_queue(post_update, bot_api, plan, settings):
    settings.SUBSCRIPTION_CREDITS_EXPIRE = True
    settings.STARS_USD_RATE = Decimal("0.013")
    payload = subscribe(post_update, bot_api, 2012, plan)
    pay(post_update, 2012, payload, "sub-charge-12", time.time() + MONTH)
    subscription = Subscription.objects.get()
    subscriptions_lapse(now=subscription.expires_at + LAPSE_GRACE + timedelta(minutes=1))
    assert get_user_balance(2012) == Decimal("0")
    create_operation(2012, "bonus", Decimal("10"))
    create_operation(2012, "generation", Decimal("-10"))  # spends the bonus: worth nothing

    [row] = revenue_rows(None, timezone.now() + timedelta(seconds=1), GROUPINGS["user"])
    assert (row["cash_revenue"], row["earned_revenue"]) == (Decimal("3.25"), Decimal(0))
