"""Paid streams: products that are not credits. Buying one gives access: the stream's tag among the
user's streams (broadcasts can target buyers), the purchased-flow flag, the flow_purchased event."""

from django.db import transaction

from apps.analytics.catalogue import Events
from apps.analytics.services import track
from apps.users.services import user_stream_purchased

from ..models import PaidStream, Payment


def stream_purchased(payment: Payment) -> None:
    """Give the buyer what the paid stream sells; called once, with the new payment, in its transaction."""
    stream = PaidStream.objects.filter(pk=payment.stream_id).first()
    tag = stream.stream_tag if stream is not None else ""
    title = payment.invoice.title if payment.invoice else ""
    user_stream_purchased(user_id=payment.user_id, tag=tag)
    transaction.on_commit(
        lambda: track(
            Events.FLOW_PURCHASED,
            user_id=payment.user_id,
            properties={"stream": tag, "title": title, "stars": payment.stars},
        )
    )
