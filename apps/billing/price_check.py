"""Every model in the price table against what its plan charges, per 1K tokens (and per audio minute): in
credits, in USD at what a credit is worth (BILLING_CREDITS_PER_USD) and at the lowest price per credit an
active package sells at; which plans charge below the provider's cost, and the personas that use them."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from apps.llm.models import BotPersona, ModelPrice

from .models import CreditPackage, PricePlan
from .services.charging import credits_for_cost, plan_charge, plan_for

THOUSAND = 1000


@dataclass(frozen=True)
class Rate:
    """One priced unit (1K input tokens, 1K output tokens or an audio minute): cost and charge."""

    cost: Decimal  # USD
    credits: Decimal
    usd: Decimal  # the credits at what a credit is worth
    usd_cheapest: Decimal | None  # the credits at the cheapest package's price per credit

    @property
    def below_cost(self) -> bool:
        return self.usd < self.cost

    @property
    def below_cost_cheapest(self) -> bool:
        return self.usd_cheapest is not None and self.usd_cheapest < self.cost


@dataclass(frozen=True)
class ModelCharge:
    provider: str
    model: str
    price: ModelPrice | None  # None: a persona's model the price table lacks
    plan: PricePlan  # unsaved: the defaults
    personas: list[str]
    rates: dict[str, Rate] = field(default_factory=dict)  # "input", "output", "audio minute"

    @property
    def below_cost(self) -> bool:
        return any(rate.below_cost for rate in self.rates.values())

    @property
    def below_cost_cheapest(self) -> bool:
        return any(rate.below_cost_cheapest for rate in self.rates.values())

    @property
    def unpriced(self) -> bool:
        """Answers of this model are charged the minimum only: its cost is unknown."""
        return self.price is None and not self.plan.fixed_rates


@dataclass(frozen=True)
class Cheapest:
    package: CreditPackage
    usd_per_credit: Decimal


@dataclass(frozen=True)
class PricesVsCost:
    rows: list[ModelCharge]
    credits_per_usd: Decimal
    cheapest: Cheapest | None

    def losing(self) -> list[ModelCharge]:
        return [row for row in self.rows if row.below_cost or row.below_cost_cheapest or row.unpriced]


def cheapest_package() -> Cheapest | None:
    """The active package that sells a credit for the least (what earned revenue values its credits at)."""
    offers = [
        Cheapest(package, package.stars * settings.STARS_USD_RATE / package.credits)
        for package in CreditPackage.objects.filter(is_active=True, credits__gt=0)
    ]
    return min(offers, key=lambda offer: offer.usd_per_credit, default=None)


def persona_models() -> dict[str, list[str]]:
    """Who uses which model: each persona (empty model: OPENAI_MODEL), and voice transcription."""
    users: dict[str, list[str]] = {}
    for persona in BotPersona.objects.order_by("-is_active", "name"):
        users.setdefault(persona.model or settings.OPENAI_MODEL, []).append(str(persona))
    users.setdefault(settings.LLM_TRANSCRIBE_MODEL, []).append("voice transcription")
    return users


def current_prices(at: datetime) -> list[ModelPrice]:
    """The price of each provider's model in effect at `at`."""
    current: dict[tuple[str, str], ModelPrice] = {}
    for price in ModelPrice.objects.filter(valid_from__lte=at).order_by("provider", "model", "-valid_from"):
        current.setdefault((price.provider, price.model), price)
    return list(current.values())


def _rate(cost: Decimal, credits: Decimal, cheapest: Cheapest | None) -> Rate:
    return Rate(
        cost=cost,
        credits=credits,
        usd=credits / settings.BILLING_CREDITS_PER_USD,
        usd_cheapest=credits * cheapest.usd_per_credit if cheapest else None,
    )


def _rates(price: ModelPrice | None, plan: PricePlan, cheapest: Cheapest | None) -> dict[str, Rate]:
    rates = {}
    if price is None or price.per_audio_minute is None or price.input_per_1m or price.output_per_1m:
        # Tokens: a transcription-only price (no token prices) has none to show.
        for name, tokens in (("input", (THOUSAND, 0)), ("output", (0, THOUSAND))):
            cost = price.cost(prompt_tokens=tokens[0], completion_tokens=tokens[1]) if price else None
            credits = plan_charge(plan, prompt_tokens=tokens[0], completion_tokens=tokens[1], provider_cost=cost)
            if credits is not None:
                rates[name] = _rate(cost or Decimal(0), credits, cheapest)
    if price is not None and price.per_audio_minute is not None:
        rates["audio minute"] = _rate(price.per_audio_minute, credits_for_cost(plan, price.per_audio_minute), cheapest)
    return rates


def prices_vs_cost(at: datetime | None = None) -> PricesVsCost:
    """Every model in the price table (and every model a persona uses), with the plan that prices it."""
    at = at or timezone.now()
    plans = {plan.model: plan for plan in PricePlan.objects.all()}
    users = persona_models()
    cheapest = cheapest_package()
    rows = []
    prices = current_prices(at)
    for price in prices:
        plan = plan_for(price.model, plans)
        rows.append(
            ModelCharge(
                price.provider, price.model, price, plan, users.get(price.model, []), _rates(price, plan, cheapest)
            )
        )
    priced = {price.model for price in prices}
    for model, personas in users.items():
        if model not in priced:
            plan = plan_for(model, plans)
            rows.append(ModelCharge("", model, None, plan, personas, _rates(None, plan, cheapest)))
    return PricesVsCost(rows=rows, credits_per_usd=settings.BILLING_CREDITS_PER_USD, cheapest=cheapest)
