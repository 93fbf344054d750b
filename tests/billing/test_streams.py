"""Paid streams and tracked links through the fake Bot API: /buy → invoice → payment → access (flag, tag,
event, link); /go/<slug> with the bot's signed token; the funnel bot_started → ai_dialog_started →
platform_visited → flow_purchased."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.analytics.models import AnalyticsEvent
from apps.analytics.selectors import funnel
from apps.billing.models import Operation, PaidStream, Payment, PaymentStatus, TrackedLink
from apps.billing.revenue import GROUPINGS, revenue_rows
from apps.billing.services import get_user_balance, payment_refund
from apps.users.models import TelegramUser
from apps.users.services import user_profile_update
from tests.billing.test_subscriptions import buttons, press
from tests.fakes.telegram import successful_payment_update
from tests.helpers import message_update

pytestmark = pytest.mark.django_db(transaction=True)
_ids = iter(range(8_300_000, 8_400_000))
PLATFORM = "https://platform.example.com/course"


@pytest.fixture
def stream(settings) -> PaidStream:
    settings.BILLING_TRIAL_CREDITS = Decimal("0")
    settings.PUBLIC_BASE_URL = "https://bot.example.com"
    link = TrackedLink.objects.create(slug="course", title="Course", target_url=PLATFORM)
    return PaidStream.objects.create(
        title="Hero's path course", stars=300, stream_tag="course", link="https://t.me/+private", about_link=link
    )


def buy_stream(post_update, bot_api, user_id: int, stream: PaidStream, charge_id: str, **user) -> str:
    """/buy, the stream chosen, its invoice, pre-checkout and payment: the invoice's payload."""
    post_update(message_update("/buy", user_id=user_id, **user))
    press(post_update, user_id, f"buy:stream:{stream.pk}", language_code=user.get("language_code", "en"))
    invoice = bot_api.calls_to("sendInvoice")[-1].params
    assert (invoice["currency"], invoice["prices"]) == ("XTR", [{"label": stream.title, "amount": 300}])
    payload = invoice["payload"]
    person = {"id": user_id, "is_bot": False, "first_name": "Buyer"}
    query = {"id": "pcq", "from": person, "currency": "XTR", "total_amount": 300, "invoice_payload": payload}
    post_update({"update_id": next(_ids), "pre_checkout_query": query})
    assert bot_api.calls_to("answerPreCheckoutQuery")[-1].params["ok"] is True
    paid = successful_payment_update(
        next(_ids), user_id=user_id, payload=payload, stars=300, charge_id=charge_id,
        language_code=user.get("language_code", "en"),
    )  # fmt: skip
    post_update(paid)
    post_update({**paid, "update_id": next(_ids)})  # Telegram repeats it
    return payload


def test_buying_a_stream_gives_access_once(post_update, bot_api, stream):
    buy_stream(post_update, bot_api, 3001, stream, "stream-charge-1")

    user = TelegramUser.objects.get(pk=3001)
    assert user.has_purchased_flow and user.streams == ["course"]
    assert AnalyticsEvent.objects.filter(event_name="flow_purchased", user_id=3001).count() == 1
    assert AnalyticsEvent.objects.get(event_name="flow_purchased").properties["stream"] == "course"
    thanks = [c.params["text"] for c in bot_api.calls_to("sendMessage") if "Thank you" in c.params["text"]]
    assert thanks == ["Thank you! “Hero's path course” is yours. Here is your access: https://t.me/+private"]
    payment = Payment.objects.get()
    assert (payment.stream_id, payment.credits, payment.stars) == (stream.pk, Decimal("0"), 300)
    assert not Operation.objects.filter(user_id=3001).exists()  # no credits moved
    assert get_user_balance(3001) == Decimal("0")


def test_buy_offers_the_stream_with_its_tracked_link(post_update, bot_api, stream):
    post_update(message_update("/buy", user_id=3002))
    offer = [b for b in buttons(bot_api.calls_to("sendMessage")[-1]) if "Hero's path" in b["text"]]
    assert offer[0]["callback_data"] == f"buy:stream:{stream.pk}" and "300 ⭐" in offer[0]["text"]
    assert offer[1]["url"].startswith("https://bot.example.com/go/course?u=3002:")


def test_a_withdrawn_stream_is_not_sold(post_update, bot_api, stream):
    post_update(message_update("/buy", user_id=3003))
    press(post_update, 3003, f"buy:stream:{stream.pk}")
    payload = bot_api.calls_to("sendInvoice")[-1].params["payload"]
    PaidStream.objects.filter(pk=stream.pk).update(is_active=False)
    person = {"id": 3003, "is_bot": False, "first_name": "Buyer"}
    query = {"id": "pcq", "from": person, "currency": "XTR", "total_amount": 300, "invoice_payload": payload}
    post_update({"update_id": next(_ids), "pre_checkout_query": query})
    assert bot_api.calls_to("answerPreCheckoutQuery")[-1].params["ok"] is False


def test_a_refunded_stream_gives_the_stars_back_and_moves_no_credits(post_update, bot_api, stream):
    buy_stream(post_update, bot_api, 3004, stream, "stream-charge-4")
    payment = payment_refund(payment_id=Payment.objects.get().pk)

    assert payment.status == PaymentStatus.REFUNDED
    assert bot_api.calls_to("refundStarPayment")[-1].params["telegram_payment_charge_id"] == "stream-charge-4"
    assert not Operation.objects.filter(user_id=3004).exists()


def _tracked_link(bot_api) -> str:
    about = [b for b in buttons(bot_api.calls_to("sendMessage")[-1]) if "url" in b]
    return about[0]["url"].removeprefix("https://bot.example.com")


def test_go_marks_the_visitor_once_and_redirects(post_update, bot_api, stream, client):
    post_update(message_update("/buy", user_id=3005))
    url = _tracked_link(bot_api)

    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == PLATFORM
    assert TelegramUser.objects.get(pk=3005).has_visited_platform
    assert AnalyticsEvent.objects.filter(event_name="platform_visited", user_id=3005).count() == 1


@pytest.mark.parametrize("token", ["3006:forged", "3007", "", "junk:junk:junk"], ids=["forged", "bare", "none", "junk"])
def test_go_with_a_token_not_ours_redirects_and_records_nothing(post_update, bot_api, stream, client, token):
    post_update(message_update("/buy", user_id=3006))
    post_update(message_update("/buy", user_id=3007))
    genuine = _tracked_link(bot_api)  # 3007's
    tampered = genuine.replace("u=3007:", "u=3006:")

    for url in (f"/go/course?u={token}", tampered):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == PLATFORM
    assert not TelegramUser.objects.filter(has_visited_platform=True).exists()
    assert not AnalyticsEvent.objects.filter(event_name="platform_visited").exists()
    assert client.get("/go/no-such-link").status_code == 404
    assert reverse("tracked-link", args=["course"]) == "/go/course"


def test_the_funnel_works_out_of_the_box(post_update, bot_api, stream, client, settings):
    settings.BILLING_TRIAL_CREDITS = Decimal("20")  # enough to talk before buying
    post_update(message_update("/start", user_id=3008))
    post_update(message_update("Hello, I need to talk", user_id=3008))
    post_update(message_update("/buy", user_id=3008))
    client.get(_tracked_link(bot_api))
    buy_stream(post_update, bot_api, 3008, stream, "stream-charge-8")

    steps = ["bot_started", "ai_dialog_started", "platform_visited", "flow_purchased"]
    now = timezone.now()
    rows = funnel(steps, now - timedelta(hours=1), now + timedelta(minutes=1))
    assert [row["users"] for row in rows] == [1, 1, 1, 1]


def test_a_russian_speaking_user_buys_a_stream_in_russian(post_update, bot_api, stream):
    buy_stream(post_update, bot_api, 3009, stream, "stream-charge-9", language_code="ru", first_name="Иван")

    offer = [
        b["text"] for call in bot_api.calls_to("sendMessage") if "reply_markup" in call.params for b in buttons(call)
    ]
    assert "Hero's path course за 300 ⭐" in offer and "Подробнее о «Hero's path course»" in offer
    assert bot_api.calls_to("sendInvoice")[-1].params["description"] == "Доступ к «Hero's path course»"
    thanks = [c.params["text"] for c in bot_api.calls_to("sendMessage") if "Спасибо" in c.params["text"]]
    assert thanks == ["Спасибо! Доступ к «Hero's path course» открыт: https://t.me/+private"]


def test_a_stream_is_cash_revenue_net_of_its_refund(post_update, bot_api, stream, settings):
    settings.STARS_USD_RATE = Decimal("0.013")
    buy_stream(post_update, bot_api, 3010, stream, "stream-charge-10")
    [row] = revenue_rows(None, timezone.now() + timedelta(seconds=1), GROUPINGS["user"])
    assert (row["group"], row["stars"], row["cash_revenue"], row["earned_revenue"]) == (
        3010,
        300,
        Decimal("3.9"),
        Decimal(0),
    )

    payment_refund(payment_id=Payment.objects.get().pk)
    [row] = revenue_rows(None, timezone.now() + timedelta(seconds=1), GROUPINGS["user"])
    assert (row["stars"], row["cash_revenue"]) == (0, Decimal(0))


def test_a_new_profile_keeps_the_tags_of_streams_bought(post_update, bot_api, stream):
    buy_stream(post_update, bot_api, 3011, stream, "stream-charge-11")
    user_profile_update(TelegramUser.objects.get(pk=3011), summary="Works a lot.", streams=["work", "course"])
    assert TelegramUser.objects.get(pk=3011).streams == ["work", "course"]
    user_profile_update(TelegramUser.objects.get(pk=3011), summary="Rests now.", streams=["rest"])
    assert TelegramUser.objects.get(pk=3011).streams == ["rest", "course"]
