"""Revenue, LLM cost and margin, each defined once: the user page, the dashboard, /stats, `llm/costs/` and its
CSV all read these figures, in USD (what `STARS_USD_RATE` and the price table are in).

- **Cash revenue**: Stars paid × `STARS_USD_RATE`, net of refunds. A payment counts when it was credited, a
  refund, all its Stars, when Telegram refunded them (a refund pending or undone moves none), however many of
  the credits it could take back (a user who spent them keeps them, or staff take them later). Every period of
  a subscription is a payment like a package's; a paid stream (no credits) counts when paid.
- **Earned revenue**: credits consumed (answers and transcriptions charged, net of charges given back), valued
  at what that user paid per credit: FIFO over the user's credit inflows in time order. A payment is an inflow
  worth its Stars; trial, bonus and staff-adjusted credits, and payments recorded without Stars, are inflows
  worth nothing (no money came in with them). A refunded payment leaves the queue; a deduction that is not a
  charge takes back credits worth nothing first (the latest first), then paid ones. Earned in a period = the
  FIFO value of cumulative consumption at its end minus at its start, so periods add up to the whole.
- **LLM cost**: what providers charged for the user's requests, chat and background (profile rotation,
  journey analysis, transcription: every request type but chat); `background_cost` is that part of it.
- **Margin** = earned revenue − LLM cost.

Everything is computed in a few aggregated queries over the ledger and the request log, then one pass in
Python per user over their inflows (a handful each): no query per user.
"""

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from django.conf import settings
from django.db.models import Count, DateField, Expression, F, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate, TruncWeek
from django.utils import timezone

from apps.llm.models import LLMRequest, RequestType
from apps.users.models import TelegramUser

from .models import Operation, OperationType, Payment, PaymentStatus

# Money to the hundred-millionth, as LLMRequest.cost is stored: a day's sums telescope exactly.
MONEY = Decimal("0.00000001")

# Credits consumed: answers charged, and charges given back (a refund not tied to a payment).
_CONSUMPTION = Q(type=OperationType.GENERATION) | Q(type=OperationType.REFUND, payment__isnull=True)
# What moves credits in or out otherwise: payments (packages and subscription periods) and their refunds, bonuses
# (the trial), staff adjustments, a lapsed subscription's unused credits expired.
_INFLOWS = Q(type__in=[OperationType.PAYMENT, OperationType.BONUS, OperationType.ADJUSTMENT, OperationType.EXPIRY]) | Q(
    type=OperationType.REFUND, payment__isnull=False
)


def as_money(value: Decimal) -> Decimal:
    return value.quantize(MONEY, rounding=ROUND_HALF_UP)


@dataclass
class Figures:
    """The money and usage of one user-day (a cell) or of a group of them."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    credits_charged: Decimal = Decimal(0)
    stars: int = 0  # net of refunds
    cash_revenue: Decimal = Decimal(0)
    earned_revenue: Decimal = Decimal(0)
    llm_cost: Decimal = Decimal(0)
    background_cost: Decimal = Decimal(0)

    @property
    def margin(self) -> Decimal:
        return self.earned_revenue - self.llm_cost

    def add(self, other: "Figures") -> None:
        for name in _FIGURES:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_row(self, group: Hashable) -> dict:
        return {
            "group": group,
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "credits_charged": self.credits_charged,
            "stars": self.stars,
            "cash_revenue": self.cash_revenue,
            "earned_revenue": self.earned_revenue,
            "llm_cost": self.llm_cost,
            "background_cost": self.background_cost,
            "margin": self.margin,
            "cost": self.llm_cost,  # the name the API had before llm_cost
        }


_FIGURES = [item.name for item in fields(Figures)]


class Cell(NamedTuple):
    """The finest grain figures are kept at: a user (None: requests of nobody), a day, and the values of the
    LLM request fields a grouping asked for (None where a figure has no request: cash, a charge given back)."""

    user_id: int | None
    day: date
    request: tuple


@dataclass(frozen=True)
class Grouping:
    """How cells become rows: `key` names a cell's group; `request_fields` are the LLMRequest fields it reads
    from `cell.request` (a user-day's earned revenue is shared among them by the credits each consumed). Or
    `user_group`, a TelegramUser field or expression: every cell of a user falls in the user's group (requests
    of nobody in None)."""

    key: Callable[[Cell], Hashable] | None = None
    request_fields: tuple[str, ...] = ()
    user_group: F | Expression | None = None


GROUPINGS = {
    "day": Grouping(lambda cell: cell.day),
    "user": Grouping(lambda cell: cell.user_id),
    "model": Grouping(lambda cell: cell.request[0], ("model",)),
    "provider": Grouping(lambda cell: cell.request[0], ("provider",)),
    # The Monday of the week the user registered in.
    "cohort": Grouping(user_group=TruncWeek("registration_date", output_field=DateField())),
    # The deep-link payload of their first /start; "" when they came without one.
    "source": Grouping(user_group=F("source")),
    # Their hero's-journey stage now; "" when not analysed yet.
    "stage": Grouping(user_group=Coalesce("last_journey_stage", Value(""))),
    # The name of the persona that answered; "" for a request without one (background). A request always has a
    # model, so a cell without one has no request (cash): None, as by model.
    "persona": Grouping(
        lambda cell: None if cell.request[0] is None else cell.request[1] or "", ("model", "persona__name")
    ),
}

# Users looked up at a time for a grouping by user: a bounded number of query parameters.
_USERS_AT_ONCE = 5000


def revenue_rows(
    start: datetime | None, end: datetime, grouping: Grouping, *, user_ids: Iterable[int] | None = None
) -> list[dict]:
    """Figures per group for [start, end) (start None: since the beginning), every money figure in USD to
    MONEY's precision; groups in order, None last."""
    groups: dict[Hashable, Figures] = defaultdict(Figures)
    cells = revenue_cells(start, end, request_fields=grouping.request_fields, user_ids=user_ids)
    key = grouping.key
    if grouping.user_group is not None:
        of_user = _user_groups(grouping.user_group, {cell.user_id for cell in cells} - {None})
        key = lambda cell: of_user.get(cell.user_id)  # noqa: E731
    for cell, figures in cells.items():
        groups[key(cell)].add(figures)
    # A grouping's keys are of one type (days, user ids, names), None aside.
    order = sorted(groups, key=lambda group: (group is None, "" if group is None else group))
    return [groups[group].as_row(group) for group in order]


def _user_groups(group: F | Expression, user_ids: set[int]) -> dict[int, Hashable]:
    ids, found = sorted(user_ids), {}
    for at in range(0, len(ids), _USERS_AT_ONCE):
        users = TelegramUser.objects.filter(pk__in=ids[at : at + _USERS_AT_ONCE])
        found.update(users.annotate(group_key=group).values_list("pk", "group_key"))
    return found


def user_revenue(user_id: int) -> Figures:
    """One user's figures since their first operation: what their page shows."""
    total = Figures()
    for figures in revenue_cells(None, timezone.now(), user_ids=[user_id]).values():
        total.add(figures)
    return total


def revenue_cells(
    start: datetime | None,
    end: datetime,
    *,
    request_fields: tuple[str, ...] = (),
    user_ids: Iterable[int] | None = None,
) -> dict[Cell, Figures]:
    """Every figure of [start, end) per cell: four aggregated queries, then the FIFO valuation in one pass."""
    operations = Operation.objects.annotate(at=Coalesce("llm_request__created_at", "created_at"))
    requests = LLMRequest.objects.all()
    if user_ids is not None:
        user_ids = list(user_ids)
        operations, requests = operations.filter(user_id__in=user_ids), requests.filter(user_id__in=user_ids)
    consumption = operations.filter(_CONSUMPTION)
    # An answer is consumed when it was asked (its request's time), so it falls on the day its cost does.
    consumed = _between(consumption, "at", start, end)
    moved = _between(operations.filter(_INFLOWS), "created_at", start, end)
    # Only users who consumed, or whose credits came or went otherwise, in the period earned or paid in it.
    concerned = Q(user_id__in=Subquery(consumed.values("user_id"))) | Q(user_id__in=Subquery(moved.values("user_id")))
    inflows = operations.filter(_INFLOWS, concerned, created_at__lt=end)
    before = (
        consumption.filter(concerned, at__lt=start).values("user_id").annotate(credits=-Sum("amount")).order_by()
        if start is not None
        else []
    )
    request_keys = [f"llm_request__{name}" for name in request_fields]
    by_day = consumed.annotate(day=TruncDate("at")).values("user_id", "day", *request_keys)
    cells: dict[Cell, Figures] = defaultdict(Figures)
    _add_requests(cells, _between(requests, "created_at", start, end), request_fields)
    _add_payment_cash(cells, start, end, empty=(None,) * len(request_fields), user_ids=user_ids)
    _add_revenue(
        cells,
        start=start,
        empty=(None,) * len(request_fields),
        consumed_before={row["user_id"]: row["credits"] for row in before},
        consumed=[
            (row["user_id"], row["day"], tuple(row[key] for key in request_keys), row["credits"])
            for row in by_day.annotate(credits=-Sum("amount")).order_by()
        ],
        inflows=inflows.order_by("user_id", "created_at", "id").values_list(
            "user_id", "created_at", "type", "amount", "payment_id", "payment__stars", "payment__credits"
        ),
    )
    return cells


def payment_consumed(*, user_id: int, payment_id: int, before_id: int | None = None) -> Decimal:
    """How many credits of the payment the user had consumed, by the same FIFO as earned revenue, over the
    ledger before the operation `before_id` (the refund that takes them back), or all of it (None)."""
    before = Operation.objects.filter(user_id=user_id)
    if before_id is not None:
        before = before.filter(pk__lt=before_id)
    queue = _Queue()
    rate = settings.STARS_USD_RATE
    for inflow in (
        before.filter(_INFLOWS)
        .order_by("created_at", "id")
        .values_list("type", "amount", "payment_id", "payment__stars", "payment__credits")
    ):
        queue.apply(*inflow, rate=rate)
    left = -(before.filter(_CONSUMPTION).aggregate(total=Sum("amount"))["total"] or Decimal(0))
    for layer in queue.layers:
        taken = min(max(left, Decimal(0)), layer.size)
        if layer.payment_id == payment_id:
            return taken
        left -= taken
    return Decimal(0)


def _between(queryset: QuerySet, name: str, start: datetime | None, end: datetime) -> QuerySet:
    queryset = queryset.filter(**{f"{name}__lt": end})
    return queryset.filter(**{f"{name}__gte": start}) if start is not None else queryset


def _add_payment_cash(
    cells: dict[Cell, Figures], start: datetime | None, end: datetime, *, empty: tuple, user_ids: list[int] | None
) -> None:
    """Stars no ledger operation carries: those of paid streams (they sell no credits) on the day of the
    payment, and every refund's on the day Telegram refunded them. One query."""
    streams = Q(stream_id__isnull=False, credits=0)
    payments = Payment.objects.filter(streams | Q(status=PaymentStatus.REFUNDED))
    if user_ids is not None:
        payments = payments.filter(user_id__in=user_ids)
    paid_in = streams & Q(created_at__lt=end) & (Q(created_at__gte=start) if start is not None else Q())
    refunded_in = Q(status=PaymentStatus.REFUNDED, refunded_at__lt=end) & (
        Q(refunded_at__gte=start) if start is not None else Q()
    )
    rows = payments.filter(paid_in | refunded_in).values_list(
        "user_id", "created_at", "refunded_at", "stars", "status", "stream_id", "credits"
    )
    for user_id, paid_at, refunded_at, stars, status, stream_id, credits in rows:
        stream = stream_id is not None and not credits
        moves = [(1, paid_at)] if stream and (start is None or paid_at >= start) and paid_at < end else []
        if status == PaymentStatus.REFUNDED and (start is None or refunded_at >= start) and refunded_at < end:
            moves.append((-1, refunded_at))
        for sign, at in moves:
            figures = cells[Cell(user_id, timezone.localdate(at), empty)]
            figures.stars += sign * stars
            figures.cash_revenue += as_money(sign * stars * settings.STARS_USD_RATE)


def _add_requests(cells: dict[Cell, Figures], requests: QuerySet, request_fields: tuple[str, ...]) -> None:
    rows = (
        requests.annotate(day=TruncDate("created_at"))
        .values("user_id", "day", *request_fields)
        .annotate(
            requests=Count("id"),
            prompt_tokens=Coalesce(Sum("prompt_tokens"), 0),
            completion_tokens=Coalesce(Sum("completion_tokens"), 0),
            total_tokens=Coalesce(Sum("total_tokens"), 0),
            llm_cost=Coalesce(Sum("cost"), Decimal(0)),
            background_cost=Coalesce(Sum("cost", filter=~Q(request_type=RequestType.CHAT)), Decimal(0)),
        )
        .order_by()
    )
    for row in rows:
        figures = cells[Cell(row["user_id"], row["day"], tuple(row[name] for name in request_fields))]
        figures.requests += row["requests"]
        figures.prompt_tokens += row["prompt_tokens"]
        figures.completion_tokens += row["completion_tokens"]
        figures.total_tokens += row["total_tokens"]
        figures.llm_cost += as_money(row["llm_cost"])
        figures.background_cost += as_money(row["background_cost"])


def _add_revenue(
    cells: dict[Cell, Figures],
    *,
    start: datetime | None,
    empty: tuple,
    consumed_before: dict[int, Decimal],
    consumed: list[tuple[int, date, tuple, Decimal]],
    inflows: Iterable[tuple],
) -> None:
    """Cash and earned revenue per cell: each concerned user's inflows replayed in time order, their queue
    valued at the end of every day of the period on which it or their consumption changed."""
    consumed_on: dict[int, dict[date, dict[tuple, Decimal]]] = defaultdict(lambda: defaultdict(dict))
    for user_id, day, request, credits in consumed:
        consumed_on[user_id][day][request] = credits
        cells[Cell(user_id, day, request)].credits_charged += credits
    inflows_of: dict[int, list[tuple]] = defaultdict(list)
    for user_id, *inflow in inflows:
        inflows_of[user_id].append(inflow)
    rate = settings.STARS_USD_RATE
    for user_id in consumed_on.keys() | inflows_of.keys():
        queue = _Queue()
        days: dict[date, list[tuple]] = defaultdict(list)
        for at, type_, amount, payment_id, stars, credits in inflows_of.get(user_id, []):
            inflow = (type_, amount, payment_id, stars, credits)
            if start is not None and at < start:
                queue.apply(*inflow, rate=rate)
            else:
                days[timezone.localdate(at)].append(inflow)
        total = consumed_before.get(user_id, Decimal(0))
        value = queue.value(total)
        for day in sorted(days.keys() | consumed_on[user_id].keys()):
            stars, cash = 0, Decimal(0)
            for inflow in days.get(day, []):
                moved_stars, moved_cash = queue.apply(*inflow, rate=rate)
                stars, cash = stars + moved_stars, cash + moved_cash
            today = consumed_on[user_id].get(day, {})
            total += sum(today.values(), Decimal(0))
            earned = queue.value(total) - value
            value += earned
            if stars or cash:
                figures = cells[Cell(user_id, day, empty)]
                figures.stars += stars
                figures.cash_revenue += cash
            for request, share in _shares(earned, today, empty):
                cells[Cell(user_id, day, request)].earned_revenue += share


def _shares(amount: Decimal, weights: dict[tuple, Decimal], empty: tuple) -> list[tuple[tuple, Decimal]]:
    """`amount` split by `weights` to MONEY, the last share taking the rounding so the shares add up exactly;
    all of it to `empty` when there is nothing to weigh it by."""
    if not amount:
        return []
    total = sum(weights.values(), Decimal(0))
    if not total:
        return [(empty, amount)]
    keys = list(weights)
    shares = [(key, as_money(amount * weights[key] / total)) for key in keys[:-1]]
    return [*shares, (keys[-1], amount - sum((share for _, share in shares), Decimal(0)))]


@dataclass
class _Layer:
    payment_id: int | None  # None: credits worth nothing
    size: Decimal  # credits still in the queue
    unit: Decimal  # USD a credit


@dataclass
class _Queue:
    """A user's credit inflows in time order. The first `consumed` credits of it are what they consumed."""

    layers: list[_Layer] = field(default_factory=list)
    _ends: list[Decimal] | None = None  # cumulative sizes, and values, rebuilt after a change
    _values: list[Decimal] = field(default_factory=list)

    def apply(
        self,
        type_: int,
        amount: Decimal,
        payment_id: int | None,
        stars: int | None,
        credits: Decimal | None,
        *,
        rate: Decimal,
    ) -> tuple[int, Decimal]:
        """Replay one inflow operation; returns the Stars and cash it moved: a payment's, when it credited them.
        Taking its credits back moves no cash: its refund's Stars leave when Telegram refunded them, all of them
        (revenue_cells)."""
        self._ends = None
        if payment_id is None or type_ not in (OperationType.PAYMENT, OperationType.REFUND):
            if amount > 0:
                self.layers.append(_Layer(None, amount, Decimal(0)))
            else:
                self._take_back(-amount)
            return 0, Decimal(0)
        layer = next((layer for layer in self.layers if layer.payment_id == payment_id), None)
        if layer is None:
            layer = _Layer(payment_id, Decimal(0), stars * rate / credits if credits else Decimal(0))
            self.layers.append(layer)
        if amount >= 0 or layer.size >= -amount:
            layer.size += amount
        else:  # less of the payment left than refunded (taken back before): the rest from the others
            self._take_back(-amount - layer.size)
            layer.size = Decimal(0)
        if type_ == OperationType.REFUND:
            return 0, Decimal(0)
        moved_stars = stars * (amount / credits if credits else Decimal(1))
        return int(moved_stars.to_integral_value(ROUND_HALF_UP)), as_money(moved_stars * rate)

    def _take_back(self, credits: Decimal) -> None:
        """A deduction that is no charge: credits worth nothing first, then paid ones, the latest first."""
        for free in (True, False):
            for layer in reversed(self.layers):
                if credits <= 0:
                    return
                if (layer.payment_id is None) == free:
                    taken = min(layer.size, credits)
                    layer.size -= taken
                    credits -= taken

    def value(self, consumed: Decimal) -> Decimal:
        """What the first `consumed` credits were worth; credits beyond every inflow are worth nothing."""
        consumed = max(consumed, Decimal(0))
        if self._ends is None:
            self._ends, self._values = [], []
            end, value = Decimal(0), Decimal(0)
            for layer in self.layers:
                end, value = end + layer.size, value + layer.size * layer.unit
                self._ends.append(end)
                self._values.append(value)
        index = bisect_left(self._ends, consumed)
        if index == len(self._ends):
            return as_money(self._values[-1]) if self._values else Decimal(0)
        before_end = self._ends[index - 1] if index else Decimal(0)
        before_value = self._values[index - 1] if index else Decimal(0)
        return as_money(before_value + (consumed - before_end) * self.layers[index].unit)
