"""A realistic demo population, so the admin (and later the dashboards) show something true to life.

Demo users live in their own id range, so seeding again replaces them and nothing else.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.analytics.catalogue import Events
from apps.analytics.models import AnalyticsEvent
from apps.analytics.services import daily_session_id
from apps.billing.models import Balance, CreditPackage, Operation, OperationType, Payment
from apps.billing.services import charge_for_usage, idempotency_hash, operation_key
from apps.llm.models import LLMRequest, RequestStatus
from apps.llm.services import price_for
from apps.llm.usage import rollups_rebuild
from apps.sessions.models import UserSession
from apps.users.models import Gender, TelegramUser, UserActivityLog

DEMO_ID_START = 7_000_000_000
DEMO_ID_END = DEMO_ID_START + 1_000_000

_FIRST_NAMES = [
    "Anna",
    "Maria",
    "Olga",
    "Elena",
    "Irina",
    "Daria",
    "Ivan",
    "Alexei",
    "Dmitry",
    "Sergei",
    "Pavel",
    "Nikita",
    "Sofia",
    "Kate",
    "Max",
    "Leo",
    "Mila",
    "Nora",
    "Tim",
    "Vera",
]
_LAST_NAMES = ["Ivanova", "Petrova", "Smirnov", "Kuznetsov", "Popova", "Volkov", "Sokolova", "Lebedev", ""]
_SOURCES = ["", "", "", "instagram", "friend", "ads_autumn", "channel_post"]
_LANGUAGES = ["ru", "ru", "ru", "en", "uk", "kk"]
_COMMANDS = ["start", "help", "new", "balance", "journey"]
_CONTENT = ["text"] * 12 + ["voice", "photo", "sticker"]


_MODELS = [("openai", "gpt-4o-mini")] * 6 + [("openai", "gpt-4.1-mini")] * 3 + [("openai", "gpt-4o")]
_DEMO_TURNS = [
    ("I keep putting off the things that matter to me.", "What do you tell yourself right before you put one off?"),
    ("That I'll do it better tomorrow.", "And what would 'better' look like, if today were enough?"),
    ("I'm not sure. Maybe I'm afraid it won't be good.", "Whose voice is that fear speaking in?"),
]


@dataclass(frozen=True)
class DemoStats:
    users: int
    activities: int
    events: int
    llm_requests: int = 0
    sessions: int = 0
    operations: int = 0
    payments: int = 0


def _activity_rows(
    rng: random.Random, user: TelegramUser, now: datetime, start_update_id: int
) -> list[UserActivityLog]:
    rows = []
    day = user.registration_date
    update_id = start_update_id
    engagement = rng.random()  # some users come back every day, most drift away
    while day < now:
        if day == user.registration_date or rng.random() < engagement * 0.8:
            for _ in range(rng.randint(1, 8)):
                moment = min(day + timedelta(minutes=rng.randint(0, 600)), now)
                update_id += 1
                if rng.random() < 0.15:
                    activity_type, details = "command", {"command": rng.choice(_COMMANDS)}
                else:
                    activity_type, details = "message", {"content": rng.choice(_CONTENT)}
                rows.append(
                    UserActivityLog(
                        user=user,
                        chat_id=user.id,
                        activity_type=activity_type,
                        timestamp=moment,
                        details={"update_id": update_id, **details},
                    )
                )
        day += timedelta(days=1)
    return rows


def _llm_requests(rng: random.Random, activities: list[UserActivityLog]) -> list[LLMRequest]:
    """One metered LLM call per text message, priced like the real ones; a few fail or lack usage."""
    requests = []
    prices: dict[tuple[str, str], object] = {}
    for row in activities:
        if row.activity_type != "message" or row.details.get("content") != "text":
            continue
        provider, model = rng.choice(_MODELS)
        price = prices.setdefault((provider, model), price_for(provider, model, row.timestamp))
        request = LLMRequest(
            user_id=row.user_id,
            provider=provider,
            model=model,
            created_at=row.timestamp,
            latency_ms=rng.randint(600, 9000),
            status=RequestStatus.SUCCESS,
        )
        luck = rng.random()
        if luck < 0.03:
            request.status, request.error_message = RequestStatus.ERROR, "InternalServerError: upstream error"
        elif luck < 0.04:
            pass  # the provider reported no usage: tokens and cost stay unknown
        else:
            request.prompt_tokens = rng.randint(300, 2500)
            request.completion_tokens = rng.randint(40, 400)
            request.total_tokens = request.prompt_tokens + request.completion_tokens
            if price is not None:
                request.cost = price.cost(
                    prompt_tokens=request.prompt_tokens, completion_tokens=request.completion_tokens
                )
        requests.append(request)
    return requests


def _sessions(rng: random.Random, people: list[TelegramUser], now: datetime) -> list[UserSession]:
    sessions = []
    for person in people:
        turns = []
        for question, answer in _DEMO_TURNS[: rng.randint(1, len(_DEMO_TURNS))]:
            turns += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        active = person.last_seen_date > now - timedelta(days=3)
        sessions.append(
            UserSession(
                user=person,
                conversation_history=turns,
                question_count=len(turns) // 2,
                is_active=active,
                created_at=person.registration_date,
                completed_at=None if active else person.last_seen_date,
            )
        )
    return sessions


def _ledger(rng: random.Random, people: list[TelegramUser], requests: list[LLMRequest]) -> tuple[int, int]:
    """Trial credit, answers charged by the price plan, some purchases: balance == Σ operations."""
    packages = list(CreditPackage.objects.filter(is_active=True))
    by_user: dict[int, list[LLMRequest]] = {}
    for request in requests:
        by_user.setdefault(request.user_id, []).append(request)
    operations, payments, balances = [], [], []
    trial = settings.BILLING_TRIAL_CREDITS
    for person in people:
        events: list[tuple[datetime, str, object]] = [(person.registration_date, "trial", trial)]
        events += [(request.created_at, "answer", request) for request in by_user.get(person.id, [])]
        if packages and rng.random() < 0.15:
            moment = person.registration_date + (person.last_seen_date - person.registration_date) * rng.random()
            events.append((moment, "purchase", rng.choice(packages)))
        balance = Decimal(0)
        for moment, kind, subject in sorted(events, key=lambda event: event[0]):
            if kind == "answer":
                if subject.status != RequestStatus.SUCCESS:
                    continue
                amount = -charge_for_usage(
                    model=subject.model,
                    prompt_tokens=subject.prompt_tokens,
                    completion_tokens=subject.completion_tokens,
                    provider_cost=subject.cost,
                )
                if balance + amount < 0:
                    continue  # in real life this user got a top-up offer instead of an answer
                extra = {
                    "type": OperationType.GENERATION,
                    "model": subject.model,
                    "llm_request_id": subject.pk,
                    "idempotency_key": idempotency_hash(operation_key("generation", subject.pk)),
                }
            elif kind == "purchase":
                payment = Payment(
                    user=person,
                    package=subject,
                    stars=subject.stars,
                    credits=subject.credits,
                    telegram_payment_charge_id=f"demo-{person.id}",
                    created_at=moment,
                    invoice_payload=f"pkg:{subject.pk}:{person.id}",
                )
                payments.append(payment)
                amount = subject.credits
                extra = {
                    "type": OperationType.PAYMENT,
                    "payment": payment,
                    "idempotency_key": idempotency_hash(operation_key("payment", payment.telegram_payment_charge_id)),
                }
            else:
                if not subject:
                    continue
                amount = subject
                extra = {
                    "type": OperationType.BONUS,
                    "reason": "trial credit",
                    "idempotency_key": idempotency_hash(operation_key("trial", person.id)),
                }
            balance += amount
            operations.append(Operation(user=person, amount=amount, balance_after=balance, created_at=moment, **extra))
        balances.append(Balance(user=person, amount=balance))
    Payment.objects.bulk_create(payments, batch_size=500)
    for operation in operations:
        operation.payment_id = operation.payment.pk if operation.payment else None
    Operation.objects.bulk_create(operations, batch_size=2000)
    Balance.objects.bulk_create(balances, batch_size=500)
    return len(operations), len(payments)


def _product_events(requests: list[LLMRequest], sessions: list[UserSession]) -> list[AnalyticsEvent]:
    """What the bot tracks as it goes, derived from the demo's own requests, payments and sessions, so
    the funnel, the response times and the dashboards agree with everything else."""
    events = []

    def event(name: str, user_id: int, moment: datetime, properties: dict) -> AnalyticsEvent:
        return AnalyticsEvent(
            event_name=name,
            user_id=user_id,
            occurred_at=moment,
            properties=properties,
            session_id=daily_session_id(user_id, moment),
        )

    dialog_days: set[tuple[int, object]] = set()
    for request in sorted(requests, key=lambda r: r.created_at):
        day = (request.user_id, request.created_at.date())
        if day not in dialog_days:
            dialog_days.add(day)
            events.append(event(Events.DIALOG_STARTED, request.user_id, request.created_at, {}))
        if request.status == RequestStatus.SUCCESS:
            events.append(
                event(
                    Events.RESPONSE_TIME,
                    request.user_id,
                    request.created_at,
                    {"duration_ms": request.latency_ms, "model_used": request.model},
                )
            )
    for payment in Payment.objects.filter(user_id__gte=DEMO_ID_START, user_id__lt=DEMO_ID_END):
        events.append(
            event(
                Events.PAYMENT_COMPLETED,
                payment.user_id,
                payment.created_at,
                {"stars": payment.stars, "credits": str(payment.credits)},
            )
        )
    for session in sessions:
        if session.completed_at:
            events.append(
                event(
                    Events.SESSION_COMPLETED,
                    session.user_id,
                    session.completed_at,
                    {"session_id": session.pk, "turns": len(session.conversation_history)},
                )
            )
    return events


def demo_clear() -> None:
    # Requests outlive a deleted user (their cost is history), so demo ones go explicitly.
    LLMRequest.objects.filter(user_id__gte=DEMO_ID_START, user_id__lt=DEMO_ID_END).delete()
    Payment.objects.filter(user_id__gte=DEMO_ID_START, user_id__lt=DEMO_ID_END).delete()
    TelegramUser.objects.filter(pk__gte=DEMO_ID_START, pk__lt=DEMO_ID_END).delete()
    AnalyticsEvent.objects.filter(user_id__gte=DEMO_ID_START, user_id__lt=DEMO_ID_END).delete()


@transaction.atomic
def demo_seed(*, users: int = 300, days: int = 30, seed: int = 7) -> DemoStats:
    rng = random.Random(seed)
    now = timezone.now()
    demo_clear()
    people = []
    for index in range(users):
        registered = now - timedelta(days=rng.uniform(0, days), minutes=rng.randint(0, 1440))
        first = rng.choice(_FIRST_NAMES)
        people.append(
            TelegramUser(
                id=DEMO_ID_START + index,
                username=f"{first.lower()}_{index}" if rng.random() < 0.8 else "",
                first_name=first,
                last_name=rng.choice(_LAST_NAMES),
                language_code=rng.choice(_LANGUAGES),
                is_premium=rng.random() < 0.1,
                registration_date=registered,
                last_seen_date=registered,
                gender=rng.choice([Gender.MALE, Gender.FEMALE, ""]),
                is_active=rng.random() > 0.07,
                source=rng.choice(_SOURCES),
            )
        )
    TelegramUser.objects.bulk_create(people, batch_size=500)

    activities: list[UserActivityLog] = []
    events: list[AnalyticsEvent] = []
    for person in people:
        rows = _activity_rows(rng, person, now, start_update_id=len(activities) * 10)
        person.last_seen_date = max(row.timestamp for row in rows)
        activities.extend(rows)
        events.append(
            AnalyticsEvent(
                event_name=Events.BOT_STARTED,
                user_id=person.id,
                occurred_at=person.registration_date,
                session_id=daily_session_id(person.id, person.registration_date),
                properties={"is_new": True, "source": person.source},
            )
        )
    TelegramUser.objects.bulk_update(people, ["last_seen_date"], batch_size=500)
    UserActivityLog.objects.bulk_create(activities, batch_size=2000)
    AnalyticsEvent.objects.bulk_create(events, batch_size=2000)
    requests = LLMRequest.objects.bulk_create(_llm_requests(rng, activities), batch_size=2000)
    sessions = UserSession.objects.bulk_create(_sessions(rng, people, now), batch_size=500)
    # The rollups are computed from the request log, so the three always agree.
    rollups_rebuild(user_ids=[person.id for person in people])
    operation_count, payment_count = _ledger(rng, people, requests)
    product_events = AnalyticsEvent.objects.bulk_create(_product_events(requests, sessions), batch_size=2000)
    return DemoStats(
        operations=operation_count,
        payments=payment_count,
        users=len(people),
        activities=len(activities),
        events=len(events) + len(product_events),
        llm_requests=len(requests),
        sessions=len(sessions),
    )
