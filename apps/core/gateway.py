"""How the domain reaches Telegram without importing the bot: through the gateway module that the
TELEGRAM_GATEWAY setting names (the bot's `apps.bot.gateway`), handed over at call time, the way a
payment module is handed its provider. The domain stays below the integration; tests may name another."""

from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
from types import ModuleType

from django.conf import settings


def telegram_gateway() -> ModuleType:
    return import_module(settings.TELEGRAM_GATEWAY)


@dataclass(frozen=True)
class StarTransaction:
    """One entry of the bot's Telegram Stars ledger (getStarTransactions), as the gateway hands it over. A
    refund carries the id of the payment it refunds (its telegram_payment_charge_id) and goes out."""

    id: str
    amount: int
    date: datetime
    outgoing: bool  # to a user (a refund), not from one (a payment)
    user_id: int | None  # the user it came from or went to, if a user
    invoice_payload: str = ""  # a payment from a user for an invoice: the invoice's payload
