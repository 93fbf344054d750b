"""Effects happen once per update (DESIGN, "The way an update travels", 5): processing is at least once,
so a redelivered update is answered from the reply stored for it: no second LLM call, no second charge,
no second write, and nothing at all once Telegram confirmed the answer."""

from decimal import Decimal

import pytest

from apps.billing.models import Operation, OperationType
from apps.billing.selectors import ledger_mismatches
from apps.billing.services import get_user_balance
from apps.bot import runtime, services, static_text
from apps.bot.keyboards import NEW_CONFIRM
from apps.bot.models import InboxStatus, InboxUpdate, Reply
from apps.llm.models import LLMRequest
from apps.sessions.models import UserSession
from tests.factories import CreditPackageFactory, UserWithBalanceFactory
from tests.fakes.openai import Answer
from tests.helpers import message_update

pytestmark = pytest.mark.django_db(transaction=True)


def _texts(bot_api, chat_id: int) -> list[str]:
    return [
        call.params["text"]
        for call in bot_api.calls_to("sendMessage")
        if int(call.params["chat_id"]) == chat_id and call.status == 200
    ]


def _charges(user_id: int) -> list[Decimal]:
    return list(
        Operation.objects.filter(user_id=user_id, type=OperationType.GENERATION).values_list("amount", flat=True)
    )


def test_a_chat_update_delivered_again_asks_and_charges_once(post_update, bot_api, llm_api, settings):
    settings.BILLING_FREE_MODE = False
    user = UserWithBalanceFactory(credits=10)
    llm_api.then(Answer(text="Tell me more."), Answer(text="A second answer nobody should see."))
    payload = message_update("hello", user_id=user.id)
    post_update(payload)
    balance = get_user_balance(user.id)

    runtime.process_update(payload)  # the same update again, as a redelivered task would run it

    assert len(llm_api.requests) == 1 and LLMRequest.objects.filter(user_id=user.id).count() == 1
    assert len(_charges(user.id)) == 1 and get_user_balance(user.id) == balance
    assert _texts(bot_api, user.id) == ["Tell me more."], "confirmed sent: nothing is sent again"
    session = UserSession.objects.get(user_id=user.id)
    assert [turn["role"] for turn in session.conversation_history] == ["user", "assistant"]
    assert ledger_mismatches()[1] == []


def test_an_answer_telegram_did_not_take_is_sent_again_from_the_store(post_update, bot_api, llm_api, settings):
    """sendMessage fails (Telegram 5xx): the update fails after the answer was produced and charged. Its
    replay sends the stored answer: the LLM is not asked again, the user is not charged again."""
    settings.BILLING_FREE_MODE = False
    user = UserWithBalanceFactory(credits=10)
    llm_api.then(Answer(text="The one answer."), Answer(text="A second answer nobody should see."))
    bot_api.fail_chat(user.id, 502, times=1, method="sendMessage")
    payload = message_update("hello", user_id=user.id)
    post_update(payload)
    assert InboxUpdate.objects.get(pk=payload["update_id"]).status == InboxStatus.FAILED
    assert _texts(bot_api, user.id) == []

    assert services.inbox_replay(update_ids=[payload["update_id"]]) == 1

    assert InboxUpdate.objects.get(pk=payload["update_id"]).status == InboxStatus.DONE
    assert _texts(bot_api, user.id) == ["The one answer."]
    assert len(llm_api.requests) == 1 and len(_charges(user.id)) == 1
    reply = Reply.objects.get(pk=payload["update_id"])
    assert reply.sent_at is not None and reply.parts == [], "what the model wrote goes once it is sent"


def test_a_long_answer_half_sent_sends_only_the_rest(post_update, bot_api, llm_api, settings):
    settings.BILLING_FREE_MODE = True
    user = UserWithBalanceFactory(credits=0)
    first, second = "a" * 4000, "b" * 3000
    llm_api.then(Answer(text=f"{first}\n\n{second}"))
    payload = message_update("tell me everything", user_id=user.id)
    post_update(payload)
    assert _texts(bot_api, user.id) == [first, second]
    Reply.objects.filter(pk=payload["update_id"]).update(sent=1, sent_at=None, parts=[first, second])

    runtime.process_update(payload)

    assert _texts(bot_api, user.id) == [first, second, second], "only the part Telegram had not confirmed"
    assert len(llm_api.requests) == 1


def test_new_confirmed_twice_by_one_update_finishes_one_session(post_update, bot_api, llm_api):
    user = UserWithBalanceFactory()
    post_update(message_update("/new", user_id=user.id))  # no running session: one starts
    first = UserSession.objects.get(user_id=user.id, is_active=True)
    query = {
        "update_id": 990_001,
        "callback_query": {
            "id": "1",
            "from": {"id": user.id, "is_bot": False, "first_name": "A"},
            "message": {
                "message_id": 5,
                "date": 0,
                "chat": {"id": user.id, "type": "private"},
                "text": static_text.NEW_SESSION_CONFIRM,
            },
            "chat_instance": "1",
            "data": NEW_CONFIRM,
        },
    }
    post_update(query)
    runtime.process_update(query)

    sessions = UserSession.objects.filter(user_id=user.id).order_by("id")
    assert [s.is_active for s in sessions] == [False, True], "one finished, one new: not a second round"
    assert sessions[0].pk == first.pk
    assert len(bot_api.calls_to("editMessageText")) == 1


def test_an_invoice_is_sent_once_per_press(post_update, bot_api):
    user = UserWithBalanceFactory()
    package = CreditPackageFactory()
    query = {
        "update_id": 990_002,
        "callback_query": {
            "id": "2",
            "from": {"id": user.id, "is_bot": False, "first_name": "A"},
            "message": {"message_id": 6, "date": 0, "chat": {"id": user.id, "type": "private"}, "text": "x"},
            "chat_instance": "1",
            "data": f"buy:{package.pk}",
        },
    }
    post_update(query)
    runtime.process_update(query)
    [invoice] = bot_api.calls_to("sendInvoice")
    assert invoice.params["title"] == package.title and int(invoice.params["prices"][0]["amount"]) == package.stars


def test_start_delivered_again_tracks_and_greets_once(post_update, bot_api):
    from apps.analytics.models import AnalyticsEvent

    payload = message_update("/start", user_id=4321)
    post_update(payload)
    runtime.process_update(payload)
    assert len(_texts(bot_api, 4321)) == 1
    assert AnalyticsEvent.objects.filter(event_name="bot_started", user_id=4321).count() == 1
