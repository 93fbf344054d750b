"""What a call cost at the provider's list price (ModelPrice) in effect when it was made."""

import logging
from datetime import datetime
from decimal import Decimal

from .models import ModelPrice

logger = logging.getLogger(__name__)


def price_for(provider: str, model: str, at: datetime) -> ModelPrice | None:
    """The price in effect at `at`: the provider's own, else the model's list price elsewhere."""
    prices = ModelPrice.objects.filter(model=model, valid_from__lte=at).order_by("-valid_from")
    return prices.filter(provider=provider).first() or prices.first()


def cost_at(
    *,
    provider: str,
    model: str,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    cached_tokens: int | None,
    at: datetime,
    audio_seconds: int | None = None,
) -> Decimal | None:
    """Null when the provider reported no usage or the model has no price: unknown, never a silent 0.
    A transcription (`audio_seconds`) costs its minutes of audio at the model's price per minute."""
    if audio_seconds is None and (prompt_tokens is None or completion_tokens is None):
        return None
    price = price_for(provider, model, at)
    if price is None:
        logger.warning("no price for %s/%s: cost left unknown", provider, model)
        return None
    if audio_seconds is not None:
        cost = price.audio_cost(audio_seconds)
        if cost is None:
            logger.warning("no price per audio minute for %s/%s: cost left unknown", provider, model)
        return cost
    return price.cost(
        prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cached_tokens=cached_tokens or 0
    )
