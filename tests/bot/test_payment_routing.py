"""Which updates travel on the payments queue: a pre_checkout_query and a message carrying successful_payment
or refunded_payment, told apart from the payload at the webhook (is_payment) and from the stored row by the sweeper
(PAYMENT_UPDATES), the same way on both databases."""

import pytest

from apps.bot.models import InboxUpdate
from apps.bot.services import PAYMENT_UPDATES, inbox_receive, is_payment
from tests.helpers import CAPTURED_UPDATES, captured_update

PAYMENTS = {
    "pre_checkout_query.json",
    "message_with_successful_payment.json",
    "message_with_refunded_payment.json",
}


def test_the_webhook_tells_payments_from_everything_captured():
    for path in sorted(CAPTURED_UPDATES.glob("*.json")):
        assert is_payment(captured_update(path.name)) == (path.name in PAYMENTS), path.name


@pytest.mark.django_db
def test_the_sweeper_tells_stored_payments_apart_the_same_way(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    names = {}
    for update_id, path in enumerate(sorted(CAPTURED_UPDATES.glob("*.json")), start=1):
        inbox_receive(payload={**captured_update(path.name), "update_id": update_id}, enqueue=False)
        names[update_id] = path.name
    routed = set(InboxUpdate.objects.filter(PAYMENT_UPDATES).values_list("pk", flat=True))
    assert {names[update_id] for update_id in routed} == PAYMENTS
