"""What a call cost at the provider's list price (ModelPrice) in effect when it was made, and the import of
prices from a LiteLLM price map, keeping their history."""

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

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


# --- Importing a price map in LiteLLM's format (model_prices_and_context_window.json) ---------------------

PER_1M = Decimal(1_000_000)
PRICE_PLACES = Decimal("0.000001")  # ModelPrice keeps six decimals
LITELLM_SPEC = "sample_spec"  # LiteLLM's description of its format, not a model
PRICE_FIELDS = ("input_per_1m", "cached_input_per_1m", "output_per_1m", "per_audio_minute")


class Unpriced(Exception):
    """An entry the price table cannot hold; its message says why."""


@dataclass
class PriceImport:
    added: list[ModelPrice] = field(default_factory=list)
    changed: list[tuple[ModelPrice, ModelPrice]] = field(default_factory=list)  # (was, now)
    unchanged: list[ModelPrice] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # entry's key: why


def _usd(entry: Mapping[str, Any], name: str, per: Decimal) -> Decimal | None:
    value = entry.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal) or value < 0:
        raise Unpriced(f"{name} is not a price: {value!r}")
    return (Decimal(str(value)) * per).quantize(PRICE_PLACES)


def litellm_price(key: str, entry: Any) -> tuple[str, str, dict[str, Decimal | None]]:
    """Provider, model and the ModelPrice fields one LiteLLM entry sets: token prices per 1M for a chat model,
    the price per audio minute for a transcription model priced by the second. Unpriced otherwise."""
    if not isinstance(entry, Mapping):
        raise Unpriced("not a price entry")
    provider, mode = entry.get("litellm_provider"), entry.get("mode")
    if not isinstance(provider, str) or not provider:
        raise Unpriced("no litellm_provider")
    if mode == "chat":
        fields = {
            "input_per_1m": _usd(entry, "input_cost_per_token", PER_1M),
            "cached_input_per_1m": _usd(entry, "cache_read_input_token_cost", PER_1M),
            "output_per_1m": _usd(entry, "output_cost_per_token", PER_1M),
        }
        if fields["input_per_1m"] is None or fields["output_per_1m"] is None:
            raise Unpriced("chat model without input and output prices per token")
    elif mode == "audio_transcription":
        fields = {"per_audio_minute": _usd(entry, "input_cost_per_second", Decimal(60))}
        if fields["per_audio_minute"] is None:
            raise Unpriced("transcription priced per token, not per second of audio: its price per minute stays as set")
    else:
        raise Unpriced(f"mode {mode!r}: only chat and transcription models are priced" if mode else "no mode")
    # LiteLLM names most models "<provider>/<model>"; requests name them as the provider does.
    model = key.removeprefix(f"{provider}/")
    if len(provider) > ModelPrice._meta.get_field("provider").max_length:
        raise Unpriced("provider name too long for the price table")
    if len(model) > ModelPrice._meta.get_field("model").max_length:
        raise Unpriced("model name too long for the price table")
    return provider, model, fields


@transaction.atomic
def prices_import(
    entries: Mapping[str, Any], *, at: datetime, models: Collection[str] = (), known_only: bool = False
) -> PriceImport:
    """Add the prices of a LiteLLM price map that are new or changed, in effect from `at`; earlier prices stay
    (past requests keep their cost) and an unchanged price adds nothing, so importing twice changes nothing.
    `models`: only these (by LiteLLM's key or the model's name); `known_only`: only the providers' models that
    are in the table already."""
    result = PriceImport()
    known = set(ModelPrice.objects.values_list("provider", "model")) if known_only else set()
    known_models = {model for _, model in known}
    seen: dict[tuple[str, str], str] = {}
    for key, entry in entries.items():
        names = {key, key.split("/", 1)[-1]}
        if (models and not names & set(models)) or (known_only and not names & known_models):
            continue
        if key == LITELLM_SPEC:
            result.skipped[key] = "LiteLLM's description of the format, not a model"
            continue
        try:
            provider, model, fields = litellm_price(key, entry)
        except Unpriced as unpriced:
            result.skipped[key] = str(unpriced)
            continue
        if known_only and (provider, model) not in known:
            continue  # the same model from another provider (azure/gpt-4o)
        if (provider, model) in seen:
            result.skipped[key] = f"{provider}/{model} again (priced from {seen[provider, model]})"
            continue
        seen[provider, model] = key
        was = (
            ModelPrice.objects.filter(provider=provider, model=model, valid_from__lte=at)
            .order_by("-valid_from")
            .first()
        )
        if was is not None and all(getattr(was, name) == value for name, value in fields.items()):
            result.unchanged.append(was)
            continue
        # A new row keeps what the entry does not price (a chat model's audio price, a transcriber's tokens).
        kept = {"input_per_1m": Decimal(0), "output_per_1m": Decimal(0)}
        if was is not None:
            kept = {name: getattr(was, name) for name in PRICE_FIELDS}
        now = ModelPrice.objects.create(provider=provider, model=model, valid_from=at, **{**kept, **fields})
        if was is None:
            result.added.append(now)
        else:
            result.changed.append((was, now))
    return result
