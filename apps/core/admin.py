"""The admin's shared bases for rows staff may look at but not shape, and money shown as people read it."""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import admin
from django.http import HttpRequest

from .money import CREDIT_PLACES, USD_PLACES, amount_text, stars_text, usd_text


@dataclass(frozen=True)
class Money:
    """How a column of amounts reads: `text` for a value; `unit` said once, in the header, not on every row."""

    text: Callable[[Decimal], str]
    unit: str = ""


# Credits to the ledger's four places without trailing zeros (100, 13.8605); a movement signed (+20, -0.1752).
CREDITS = Money(lambda value: amount_text(value, CREDIT_PLACES), "credits")
CREDITS_MOVED = Money(lambda value: f"{'+' if value > 0 else ''}{amount_text(value, CREDIT_PLACES)}", "credits")
STARS = Money(lambda value: stars_text(value).replace(" ", "\N{NO-BREAK SPACE}"))
# What providers charged: $0.06; under a cent to two significant digits, $0.00058.
USD = Money(usd_text)
# A list price exactly as set, in the currency beside it: 1, 0.075, 0.0000125.
PRICE = Money(lambda value: amount_text(value, USD_PLACES))


class MoneyFields:
    """Mix in before a ModelAdmin base: the model fields named in `money` read as people read them in the list
    and on a record's read-only page, sorted still by the stored value. A record staff may edit keeps its
    inputs."""

    money: dict[str, Money] = {}

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        for name, money in cls.money.items():
            setattr(cls, _shown_name(name), _money_display(name, money))

    def _shown(self, names):
        return [
            self._shown(name) if isinstance(name, list | tuple) else _shown_name(name) if name in self.money else name
            for name in names
        ]

    def get_list_display(self, request: HttpRequest):
        return self._shown(super().get_list_display(request))

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        return [(title, {**options, "fields": self._shown(options["fields"])}) for title, options in fieldsets]


def _shown_name(name: str) -> str:
    return f"{name}_shown"


def _money_display(name: str, money: Money) -> Callable:
    def display(model_admin, obj) -> str:
        value = getattr(obj, name)
        return "-" if value is None else money.text(value)

    header = name.replace("_", " ") + (f", {money.unit}" if money.unit else "")
    return admin.display(description=header, ordering=name)(display)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the system writes (logs, rollups, runs): staff look and filter, never add or edit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class PermanentRecordAdmin(ReadOnlyAdmin):
    """Records staff must not delete either (the ledger, payments, logs, broadcast deliveries): only the
    code that writes them, or their retention job, removes any."""

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
