"""The Telegram Stars flow through the fake Bot API: /buy → invoice → pre_checkout → payment → refund."""

import time
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.analytics.models import AnalyticsEvent
from apps.billing.exceptions import RefundRefused
from apps.billing.models import CreditPackage, Operation, Payment, PaymentStatus
from apps.billing.services import create_operation, get_user_balance, invoice_payload, payment_refund
from apps.bot.models import InboxStatus, InboxUpdate
from apps.bot.services import inbox_sweep
from tests.helpers import captured_update, message_update

pytestmark = pytest.mark.django_db(transaction=True)
_ids = iter(range(7_000_000, 8_000_000))


def _person(user_id: int) -> dict:
    return {"id": user_id, "is_bot": False, "first_name": "Payer", "username": "payer"}


def pre_checkout_update(user_id: int, payload: str, amount: int, currency: str = "XTR") -> dict:
    return {
        "update_id": next(_ids),
        "pre_checkout_query": {
            "id": f"pcq-{user_id}-{amount}",
            "from": _person(user_id),
            "currency": currency,
            "total_amount": amount,
            "invoice_payload": payload,
        },
    }


def payment_update(user_id: int, payload: str, amount: int, charge_id: str) -> dict:
    return {
        "update_id": next(_ids),
        "message": {
            "message_id": next(_ids),
            "date": int(time.time()),
            "from": _person(user_id),
            "chat": {"id": user_id, "type": "private", "first_name": "Payer"},
            "successful_payment": {
                "currency": "XTR",
                "total_amount": amount,
                "invoice_payload": payload,
                "telegram_payment_charge_id": charge_id,
                "provider_payment_charge_id": "",
            },
        },
    }


@pytest.fixture
def package(reference_data) -> CreditPackage:
    return CreditPackage.objects.get(title="Starter")  # 100 credits for 50 Stars


def _buy_and_pay(post_update, bot_api, user_id: int, package: CreditPackage, charge_id: str) -> str:
    post_update(message_update("/buy", user_id=user_id))
    keyboard = bot_api.calls_to("sendMessage")[-1].params["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in keyboard] == [f"buy:{p.pk}" for p in CreditPackage.objects.all()]
    post_update(
        {
            "update_id": next(_ids),
            "callback_query": {
                "id": "cb",
                "chat_instance": "ci",
                "data": f"buy:{package.pk}",
                "from": _person(user_id),
                "message": {"message_id": 5, "date": 1, "text": "?", "chat": {"id": user_id, "type": "private"}},
            },
        }
    )
    [invoice] = bot_api.calls_to("sendInvoice")
    assert (invoice.params["currency"], invoice.params["provider_token"]) == ("XTR", "")
    assert invoice.params["prices"] == [{"label": package.title, "amount": package.stars}]
    payload = invoice.params["payload"]
    post_update(pre_checkout_update(user_id, payload, package.stars))
    assert bot_api.calls_to("answerPreCheckoutQuery")[-1].params["ok"] is True
    post_update(payment_update(user_id, payload, package.stars, charge_id))
    return payload


def test_a_payment_delivered_twice_is_credited_once(post_update, bot_api, package, settings):
    settings.BILLING_TRIAL_CREDITS = Decimal("0")
    payload = _buy_and_pay(post_update, bot_api, 1001, package, "charge-1")
    post_update(payment_update(1001, payload, package.stars, "charge-1"))  # Telegram repeats it

    assert get_user_balance(1001) == Decimal("100")
    assert Payment.objects.get().telegram_payment_charge_id == "charge-1"
    assert Operation.objects.filter(user_id=1001).count() == 1
    assert AnalyticsEvent.objects.filter(event_name="payment_completed").count() == 1
    thanks = [call for call in bot_api.calls_to("sendMessage") if "credits added" in call.params["text"]]
    assert len(thanks) == 1 and "100 credits added" in thanks[0].params["text"]


@pytest.mark.parametrize(
    ("payload", "amount", "currency"),
    [("pkg:999:1002", 50, "XTR"), (None, 49, "XTR"), (None, 50, "USD"), ("pkg:{pk}:4242", 50, "XTR")],
    ids=["unknown-package", "wrong-amount", "wrong-currency", "someone-elses-invoice"],
)
def test_pre_checkout_refuses_what_does_not_match_an_offer(post_update, bot_api, package, payload, amount, currency):
    post_update(message_update("/start", user_id=1002))
    payload = (payload or invoice_payload(package=package, user_id=1002)).format(pk=package.pk)
    post_update(pre_checkout_update(1002, payload, amount, currency))
    answer = bot_api.calls_to("answerPreCheckoutQuery")[-1].params
    assert answer["ok"] is False and answer["error_message"]


def test_the_captured_foreign_payment_is_acknowledged_and_not_credited(post_update, bot_api, reference_data):
    post_update(captured_update("pre_checkout_query.json"))
    assert bot_api.calls_to("answerPreCheckoutQuery")[-1].params["ok"] is False
    post_update(captured_update("message_with_successful_payment.json"))
    assert not Payment.objects.exists()


def test_refund_gives_stars_back_once(post_update, bot_api, package, settings, admin_client):
    settings.BILLING_TRIAL_CREDITS = Decimal("0")
    _buy_and_pay(post_update, bot_api, 1003, package, "charge-3")
    payment = Payment.objects.get()
    url = reverse("admin:billing_payment_changelist")
    admin_client.post(url, {"action": "refund", "_selected_action": [payment.pk]})
    page = admin_client.post(url, {"action": "refund", "_selected_action": [payment.pk]}, follow=True)

    assert "already refunded" in page.content.decode()
    [refund_call] = bot_api.calls_to("refundStarPayment")
    assert refund_call.params == {"user_id": 1003, "telegram_payment_charge_id": "charge-3"}
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED and payment.refunded_by.username == "admin"
    assert get_user_balance(1003) == Decimal("0")


def test_a_refund_telegram_refuses_changes_nothing(post_update, bot_api, package, settings):
    settings.BILLING_TRIAL_CREDITS = Decimal("0")
    _buy_and_pay(post_update, bot_api, 1004, package, "charge-4")
    bot_api.fail_chat(1004, 400)  # the fake answers calls naming this user with an error
    payment = Payment.objects.get()
    bot_api.reset()
    create_operation(1004, "generation", Decimal("-99"))
    with pytest.raises(RefundRefused, match="already spent"):
        payment_refund(payment_id=payment.pk)
    assert Payment.objects.get().status == PaymentStatus.PAID
    assert get_user_balance(1004) == Decimal("1")


def test_balance_shows_the_amount_and_latest_operations(post_update, bot_api, settings):
    settings.BILLING_TRIAL_CREDITS = Decimal("20")
    post_update(message_update("/start", user_id=1005))
    post_update(message_update("/balance", user_id=1005))
    text = bot_api.calls_to("sendMessage")[-1].params["text"]
    assert "20 credits" in text and "bonus" in text


# --- What the invoice sold is what is credited -------------------------------------------------
def _invoice_and_pre_checkout(post_update, bot_api, user_id: int, package: CreditPackage) -> str:
    """/buy, a package chosen, the invoice sent and its pre-checkout accepted: the payload."""
    post_update(message_update("/buy", user_id=user_id))
    post_update(
        {
            "update_id": next(_ids),
            "callback_query": {
                "id": "cb",
                "chat_instance": "ci",
                "data": f"buy:{package.pk}",
                "from": _person(user_id),
                "message": {"message_id": 5, "date": 1, "text": "?", "chat": {"id": user_id, "type": "private"}},
            },
        }
    )
    payload = bot_api.calls_to("sendInvoice")[-1].params["payload"]
    post_update(pre_checkout_update(user_id, payload, package.stars))
    assert bot_api.calls_to("answerPreCheckoutQuery")[-1].params["ok"] is True
    return payload


def _thanks(bot_api, user_id: int) -> list[str]:
    return [
        call.params["text"]
        for call in bot_api.calls_to("sendMessage")
        if call.params["chat_id"] == user_id and "added" in call.params["text"] and call.status == 200
    ]


def _withdraw(package: CreditPackage) -> None:
    package.is_active = False
    package.save()


def _reprice(package: CreditPackage) -> None:
    package.stars, package.credits = 75, Decimal("80")
    package.save()


@pytest.mark.parametrize(
    "change", [_withdraw, _reprice, CreditPackage.delete], ids=["withdrawn", "repriced", "deleted"]
)
def test_a_package_changed_after_pre_checkout_is_credited_as_invoiced(post_update, bot_api, package, settings, change):
    """The user paid 50 Stars for 100 credits; staff withdrew or changed the package before the payment came."""
    settings.BILLING_TRIAL_CREDITS = Decimal("0")
    payload = _invoice_and_pre_checkout(post_update, bot_api, 1006, package)
    change(package)
    post_update(payment_update(1006, payload, 50, "charge-6"))

    payment = Payment.objects.get(telegram_payment_charge_id="charge-6")
    assert (payment.user_id, payment.stars, payment.credits, payment.status) == (1006, 50, Decimal("100"), "paid")
    assert payment.invoice.title == "Starter" and payment.invoice_payload == payload
    assert get_user_balance(1006) == Decimal("100")
    assert _thanks(bot_api, 1006) == ["Thank you! 100 credits added. Your balance: 100 credits."]


@pytest.mark.parametrize("change", [_withdraw, _reprice], ids=["withdrawn", "repriced"])
def test_an_invoice_whose_package_changed_is_refused_before_payment(post_update, bot_api, package, change):
    """Until the user pays, staff's change holds: the pre-checkout is refused and nothing is taken."""
    post_update(message_update("/start", user_id=1007))
    payload = invoice_payload(package=package, user_id=1007)
    change(package)
    post_update(pre_checkout_update(1007, payload, 50))
    answer = bot_api.calls_to("answerPreCheckoutQuery")[-1].params
    assert answer["ok"] is False and "/buy" in answer["error_message"]


def test_an_invoice_sent_before_invoices_were_recorded_is_honoured(post_update, bot_api, package, settings):
    """Old payloads ("pkg:<package>:<user>") name the package: its credits, even once it is withdrawn."""
    settings.BILLING_TRIAL_CREDITS = Decimal("0")
    post_update(message_update("/start", user_id=1008))
    payload = f"pkg:{package.pk}:1008"
    post_update(pre_checkout_update(1008, payload, 50))
    assert bot_api.calls_to("answerPreCheckoutQuery")[-1].params["ok"] is True
    _withdraw(package)
    post_update(payment_update(1008, payload, 50, "charge-8"))

    payment = Payment.objects.get(telegram_payment_charge_id="charge-8")
    assert (payment.credits, payment.invoice, payment.package) == (Decimal("100"), None, package)
    assert get_user_balance(1008) == Decimal("100")
    assert len(_thanks(bot_api, 1008)) == 1


# --- Every paid invoice recorded, credited and thanked for once --------------------------------
def test_thanks_that_did_not_reach_telegram_are_sent_when_the_payment_comes_again(
    post_update, bot_api, package, settings
):
    """The first processing credits the payment, then its thanks fail (Telegram 500): the update is
    processed again (the sweeper), which credits nothing more and thanks once."""
    settings.BILLING_TRIAL_CREDITS = Decimal("0")
    settings.INBOX_PENDING_GRACE = settings.INBOX_PENDING_GRACE * 0
    payload = _invoice_and_pre_checkout(post_update, bot_api, 1009, package)
    bot_api.fail_chat(1009, 500, times=1)
    paid = payment_update(1009, payload, 50, "charge-9")
    post_update(paid)
    assert InboxUpdate.objects.get(pk=paid["update_id"]).status == InboxStatus.FAILED
    assert get_user_balance(1009) == Decimal("100") and _thanks(bot_api, 1009) == []

    assert inbox_sweep() == 1
    post_update(paid)  # and Telegram repeats it: acknowledged, not processed again
    post_update({**payment_update(1009, payload, 50, "charge-9"), "update_id": next(_ids)})  # the charge again

    assert InboxUpdate.objects.get(pk=paid["update_id"]).status == InboxStatus.DONE
    assert get_user_balance(1009) == Decimal("100")
    assert Operation.objects.filter(user_id=1009).count() == 1
    assert _thanks(bot_api, 1009) == ["Thank you! 100 credits added. Your balance: 100 credits."]
    assert Payment.objects.get(telegram_payment_charge_id="charge-9").thanked_at is not None
