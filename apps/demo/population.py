"""A realistic demo population, so the admin and the dashboards show something true to life: mostly
Russian-speaking people (apps.demo.people) talking with the bot in their own language (apps.demo.conversations),
with the profiles the rotation wrote of them and their way along the hero's journey.

Demo users live in their own id range, so seeding again replaces them and nothing else.
"""

import bisect
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.analytics.catalogue import Events
from apps.analytics.models import AnalyticsEvent, UserFirstEvent
from apps.analytics.services import analytics_rollups_rebuild, daily_session_id
from apps.billing.models import (
    Balance,
    CreditPackage,
    Invoice,
    Operation,
    OperationType,
    PaidStream,
    Payment,
    Subscription,
    SubscriptionPlan,
    TrackedLink,
)
from apps.billing.services import SUBSCRIPTION_PERIOD, charge_for_usage, idempotency_hash, operation_key
from apps.core.privacy import stored_prompt
from apps.journey.models import JourneyProgress, JourneyStage
from apps.llm.models import LLMRequest, RequestStatus
from apps.llm.services import price_for
from apps.llm.usage import rollups_rebuild
from apps.sessions.models import UserSession
from apps.users.models import ActiveUserDay, Gender, TelegramUser, UserActivityLog

from .conversations import TOPICS, Topic, exchanges, profile, topic_order, topics_discussed
from .people import demo_language, demo_name

DEMO_ID_START = 7_000_000_000
DEMO_ID_END = DEMO_ID_START + 1_000_000

_SOURCES = ["", "", "", "instagram", "friend", "ads_autumn", "channel_post"]
_COMMANDS = ["start", "help", "new", "balance", "journey"]
_CONTENT = ["text"] * 12 + ["voice", "photo", "sticker"]
# Each user talks with one model: most with a cheap one, some (the devoted more often) with the dearer gpt-4o.
_MODELS = [("openai", "gpt-4o-mini")] * 6 + [("openai", "gpt-4.1-mini")] * 3 + [("openai", "gpt-4o")]
_DEVOTED_MODELS = [("openai", "gpt-4o-mini"), ("openai", "gpt-4.1-mini")] + [("openai", "gpt-4o")] * 8
# A quarter of users talk nearly every day and at length: theirs is the trial that runs out, and they pay.
_DEVOTED_SHARE = 0.25
# Who pays when their balance runs out (the rest stop there), and how many of those take the subscription.
_PAYS = {True: 0.9, False: 0.1}
_SUBSCRIBES = 0.3
# The profile rotation writes a profile once a user has said this much (and keeps it a week).
_PROFILE_AFTER_MESSAGES = 5
# What a user's row gains from what they did after it was created.
_GROWN_FIELDS = [
    "last_seen_date",
    "last_journey_stage",
    "has_started_journey",
    "has_completed_journey",
    "psychological_summary",
    "streams",
    "markers",
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
    profiles: int = 0
    on_journey: int = 0


def _activity_rows(
    rng: random.Random, user: TelegramUser, now: datetime, start_update_id: int, *, devoted: bool
) -> list[UserActivityLog]:
    rows = []
    day = user.registration_date
    # Some users come back every day, most drift away; the devoted come nearly every day and write more.
    engagement = rng.uniform(0.9, 1.2) if devoted else rng.random()
    most = 10 if devoted else 8
    while day < now:
        if day == user.registration_date or rng.random() < engagement * 0.8:
            for _ in range(rng.randint(1, most)):
                moment = min(day + timedelta(minutes=rng.randint(0, 600)), now)
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
                        details=details,
                    )
                )
        day += timedelta(days=1)
    rows.sort(key=lambda row: row.timestamp)  # Telegram numbers updates as they come
    for number, row in enumerate(rows, start=start_update_id + 1):
        row.details["update_id"] = number
    return rows


@dataclass
class _Talk:
    """One user's text messages, in order, and what was said in them (the user's words, the bot's answer)."""

    person: TelegramUser
    sex: str  # the name's gender, whether or not the bot knows it
    language: str  # the one the bot speaks with them
    topics: list[Topic]
    rows: list[UserActivityLog]  # everything they did
    messages: list[UserActivityLog]
    said: list[tuple[str, str]]
    model: tuple[str, str]  # (provider, model)
    devoted: bool
    requests: list[LLMRequest] = field(default_factory=list)
    # What moved their balance, in order: (moment, "trial" | "answer" | "package" | "period", what).
    ledger: list[tuple[datetime, str, object]] = field(default_factory=list)


def _talk(rng: random.Random, person: TelegramUser, sex: str, rows: list[UserActivityLog], *, devoted: bool) -> _Talk:
    bot_language = settings.BOT_LANGUAGE_BY_TELEGRAM_CODE.get(person.language_code, settings.BOT_DEFAULT_LANGUAGE)
    language = bot_language if bot_language in TOPICS else "en"
    topics = topic_order(rng, language)
    messages = [row for row in rows if row.activity_type == "message" and row.details["content"] == "text"]
    said = exchanges(topics, len(messages), sex)
    model = rng.choice(_DEVOTED_MODELS if devoted else _MODELS)
    return _Talk(person, sex, language, topics, rows, messages, said, model, devoted)


def _llm_requests(rng: random.Random, talks: list[_Talk]) -> None:
    """One metered LLM call per text message, priced like the real ones; a few fail or lack usage. What was
    said is kept with them only as the bot keeps it (STORE_PROMPTS)."""
    prices: dict[tuple[str, str], object] = {}
    for talk in talks:
        provider, model = talk.model
        for row, (message, answer) in zip(talk.messages, talk.said, strict=True):
            if (provider, model) not in prices:
                prices[provider, model] = price_for(provider, model, row.timestamp)
            price = prices[provider, model]
            request = LLMRequest(
                user_id=row.user_id,
                provider=provider,
                model=model,
                created_at=row.timestamp,
                latency_ms=rng.randint(600, 9000),
                status=RequestStatus.SUCCESS,
                prompt_text=stored_prompt(message),
                response_text=stored_prompt(answer),
            )
            luck = rng.random()
            if luck < 0.03:
                request.status, request.error_message = RequestStatus.ERROR, "InternalServerError: upstream error"
                request.response_text = ""
            elif luck < 0.04:
                pass  # the provider reported no usage: tokens and cost stay unknown
            else:
                # The bot sends recent turns with each message: those who talk at length send longer prompts.
                request.prompt_tokens = rng.randint(2000, 8000) if talk.devoted else rng.randint(300, 2500)
                request.completion_tokens = rng.randint(40, 400)
                request.total_tokens = request.prompt_tokens + request.completion_tokens
                if price is not None:
                    request.cost = price.cost(
                        prompt_tokens=request.prompt_tokens, completion_tokens=request.completion_tokens
                    )
            talk.requests.append(request)


def _session(talk: _Talk, now: datetime) -> UserSession:
    """The user's conversation as the chat turn stores it: a failed answer leaves the message and the error."""
    person, turns, data = talk.person, [], {}
    for row, (message, answer), request in zip(talk.messages, talk.said, talk.requests, strict=True):
        update_id = row.details["update_id"]
        turns.append({"role": "user", "content": message, "update_id": update_id, "at": row.timestamp.isoformat()})
        if request.status == RequestStatus.SUCCESS:
            answered = min(row.timestamp + timedelta(milliseconds=request.latency_ms), now)
            turns.append({"role": "assistant", "content": answer, "update_id": update_id, "at": answered.isoformat()})
        else:
            data = {"last_error": request.error_message, "error_timestamp": row.timestamp.isoformat()}
    active = person.last_seen_date > now - timedelta(days=3)
    return UserSession(
        user=person,
        conversation_history=turns,
        question_count=len(talk.messages),
        session_data=data,
        is_active=active,
        created_at=person.registration_date,
        completed_at=None if active else person.last_seen_date,
    )


def _journey(rng: random.Random, talk: _Talk, session: UserSession, now: datetime) -> list[JourneyProgress]:
    """Where the user went on the hero's journey. The stage is read when the chat turn reads it, every
    JOURNEY_ANALYSIS_EVERY messages and once the session completes; each reading stays or moves on a stage
    or two. Sets the user's stage and flags."""
    every, stages, person = settings.JOURNEY_ANALYSIS_EVERY, JourneyStage.values, talk.person
    readings = [row.timestamp for row in talk.messages[every - 1 :: every]] if every > 0 else []
    if session.completed_at and talk.messages:
        readings.append(session.completed_at)
    position, progress = None, []
    for moment in readings:
        if position is None:
            moved = rng.choices([0, 1, 2, 3], weights=[4, 4, 3, 1])[0]  # most begin near their ordinary world
        else:
            moved = min(position + rng.choices([0, 1, 2], weights=[3, 5, 2])[0], len(stages) - 1)
        started = min(moment + timedelta(seconds=rng.randint(5, 40)), now)
        if moved == position or (progress and started <= progress[-1].stage_start_time):
            continue  # the same stage, or a second reading in the same moment (the session completed just then)
        completed = [*progress[-1].completed_stages, stages[position]] if progress else []
        stage = stages[moved]
        progress.append(
            JourneyProgress(user=person, current_stage=stage, completed_stages=completed, stage_start_time=started)
        )
        position = moved
    if position is not None:
        person.last_journey_stage = stages[position]
        person.has_started_journey = position > 0
        person.has_completed_journey = stages[position] == JourneyStage.RETURN_WITH_THE_ELIXIR
    return progress


def _profile(rng: random.Random, talk: _Talk) -> None:
    """The psychological profile the rotation wrote from what the user had said by then; some are a week old
    and due again."""
    if len(talk.messages) < _PROFILE_AFTER_MESSAGES:
        return
    person = talk.person
    first_due = talk.messages[_PROFILE_AFTER_MESSAGES - 1].timestamp
    written = max(first_due, person.last_seen_date - timedelta(days=rng.uniform(0, 10)))
    said = bisect.bisect_right([row.timestamp for row in talk.messages], written)
    summary, streams = profile(rng, talk.language, topics_discussed(talk.topics, said), talk.sex)
    person.psychological_summary, person.streams = summary, streams
    person.markers = {"profile_updated_at": written.isoformat()}


@dataclass(frozen=True)
class _Offers:
    plan: SubscriptionPlan
    stream: PaidStream


def _demo_offers() -> _Offers:
    """The demo's subscription plan, paid stream and its tracked link (created once, kept across seeds), and a
    package to buy when staff have none on sale."""
    if not CreditPackage.objects.filter(is_active=True).exists():
        CreditPackage.objects.create(title="Starter", credits=Decimal(100), stars=50)
    plan, _ = SubscriptionPlan.objects.get_or_create(
        title="Companion monthly", defaults={"stars": 250, "credits": Decimal(600)}
    )
    link, _ = TrackedLink.objects.get_or_create(
        slug="hero-course", defaults={"title": "Hero's path course", "target_url": "https://example.com/hero-course"}
    )
    stream, _ = PaidStream.objects.get_or_create(
        title="Hero's path: a 7-week course",
        defaults={
            "stars": 500,
            "stream_tag": "hero_course",
            "link": "https://example.com/hero-course/join",
            "about_link": link,
        },
    )
    return _Offers(plan, stream)


def _spend(rng: random.Random, talk: _Talk, offers: _Offers, packages: list[CreditPackage], now: datetime) -> None:
    """Each answer charged against the balance as the bot charges it, the trial credit first. A user whose
    balance runs too low for the next answer either pays then (the devoted mostly: a package, or the
    subscription, renewed every 30 days unless cancelled in its first period) and goes on, or is refused and
    stops there: their talk ends with that message. Sets the talk's ledger."""
    pays = bool(packages) and rng.random() < _PAYS[talk.devoted]
    balance, renewals, subscribed = settings.BILLING_TRIAL_CREDITS, [], False
    previous = talk.person.registration_date
    talk.ledger = [(previous, "trial", balance)]
    for index, (row, request) in enumerate(zip(talk.messages, talk.requests, strict=True)):
        while renewals and renewals[0][0] <= row.timestamp:
            talk.ledger.append(renewals.pop(0))
            balance += offers.plan.credits
        answered = request.status == RequestStatus.SUCCESS
        charge = _charge(request) if answered else Decimal(0)
        if balance < charge:
            if not pays:
                _refused(talk, index)
                break
            # Between their last answer and this message: they were offered a top-up and took it.
            moment = row.timestamp - min(row.timestamp - previous, timedelta(minutes=10)) / 2
            if not subscribed and rng.random() < _SUBSCRIBES:
                canceled, subscribed = rng.random() < 0.3, True
                talk.ledger.append((moment, "period", (offers.plan, canceled)))
                balance += offers.plan.credits
                renewal = moment + SUBSCRIPTION_PERIOD
                while not canceled and renewal <= now:
                    renewals.append((renewal, "period", (offers.plan, canceled)))
                    renewal += SUBSCRIPTION_PERIOD
            else:
                package = rng.choices(packages, weights=range(len(packages), 0, -1))[0]  # the smaller more often
                talk.ledger.append((moment, "package", package))
                balance += package.credits
        if answered:
            balance -= charge
            talk.ledger.append((row.timestamp, "answer", (request, charge)))
        previous = row.timestamp
    talk.ledger += renewals  # a subscription renews whether or not they wrote since


def _charge(request: LLMRequest) -> Decimal:
    return charge_for_usage(
        model=request.model,
        prompt_tokens=request.prompt_tokens,
        completion_tokens=request.completion_tokens,
        provider_cost=request.cost,
    )


def _refused(talk: _Talk, index: int) -> None:
    """The bot refused the talk's `index`-th message for want of credit, and the user left: nothing after it."""
    refused = talk.messages[index]
    last = next(at for at, row in enumerate(talk.rows) if row is refused)
    talk.rows = talk.rows[: last + 1]
    talk.messages, talk.said, talk.requests = talk.messages[:index], talk.said[:index], talk.requests[:index]


def _charge_id(rng: random.Random) -> str:
    """Opaque, as Telegram's are: a charge id that held the user's id would outlive their erasure."""
    return f"demo-{rng.getrandbits(96):024x}"


def _payment_operation(payment: Payment) -> dict:
    """The fields of the operation that credits a payment, keyed as the bot keys it."""
    key = idempotency_hash(operation_key("payment", payment.telegram_payment_charge_id))
    return {"type": OperationType.PAYMENT, "payment": payment, "idempotency_key": key}


def _ledger(rng: random.Random, talks: list[_Talk]) -> tuple[int, int]:
    """The talks' ledgers as operations, in the order _spend charged them (moments can tie): trial credit,
    answers charged by the price plan, the purchases and subscription periods of those who ran low.
    balance == Σ operations, never below zero."""
    subscriptions: dict[int, Subscription] = {}
    operations, payments, balances = [], [], []
    for talk in talks:
        person = talk.person
        balance = Decimal(0)
        for moment, kind, subject in talk.ledger:
            if kind == "answer":
                request, charge = subject
                amount = -charge
                extra = {
                    "type": OperationType.GENERATION,
                    "model": request.model,
                    "llm_request_id": request.pk,
                    "idempotency_key": idempotency_hash(operation_key("generation", request.pk)),
                }
            elif kind == "period":
                plan, canceled = subject
                payment = _period_payment(rng, person, plan, moment, subscriptions, canceled=canceled)
                payments.append(payment)
                amount = plan.credits
                extra = _payment_operation(payment)
            elif kind == "package":
                payment = Payment(
                    user=person,
                    package=subject,
                    stars=subject.stars,
                    credits=subject.credits,
                    telegram_payment_charge_id=_charge_id(rng),
                    created_at=moment,
                    invoice_payload=f"pkg:{subject.pk}:{person.id}",
                )
                payments.append(payment)
                amount = subject.credits
                extra = _payment_operation(payment)
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
    for payment in payments:
        payment.subscription = subscriptions.get(payment.user_id) if payment.period_end else None
    Payment.objects.bulk_create(payments, batch_size=500)
    for operation in operations:
        operation.payment_id = operation.payment.pk if operation.payment else None
    Operation.objects.bulk_create(operations, batch_size=2000)
    Balance.objects.bulk_create(balances, batch_size=500)
    return len(operations), len(payments)


def _period_payment(
    rng: random.Random,
    person: TelegramUser,
    plan: SubscriptionPlan,
    moment: datetime,
    subscriptions: dict[int, Subscription],
    *,
    canceled: bool,
) -> Payment:
    """One period of the person's subscription (started by its first period, extended by the others)."""
    subscription = subscriptions.get(person.id)
    if subscription is None:
        invoice = Invoice.objects.create(
            user=person, plan=plan, title=plan.title, credits=plan.credits, stars=plan.stars, created_at=moment
        )
        subscription = Subscription.objects.create(
            user=person,
            invoice=invoice,
            plan=plan,
            title=plan.title,
            charge_id=_charge_id(rng),
            started_at=moment,
            expires_at=moment + SUBSCRIPTION_PERIOD,
            is_canceled=canceled,
            canceled_at=min(moment + timedelta(days=rng.uniform(1, 20)), timezone.now()) if canceled else None,
        )
        subscriptions[person.id] = subscription
    else:
        subscription.renewals += 1
        subscription.expires_at = moment + SUBSCRIPTION_PERIOD
        subscription.save(update_fields=["renewals", "expires_at"])
    return Payment(
        user=person,
        invoice=subscription.invoice,
        stars=plan.stars,
        credits=plan.credits,
        telegram_payment_charge_id=_charge_id(rng),
        created_at=moment,
        invoice_payload=f"inv:{subscription.invoice_id}",
        period_end=moment + SUBSCRIPTION_PERIOD,
    )


def _conversions(rng: random.Random, people: list[TelegramUser], stream: PaidStream, now: datetime) -> list[tuple]:
    """Seed 004's conversion: some users follow the tracked link to the platform, some of them buy the paid
    stream (flag, tag, payment). Returns (event, user id, moment, properties) to track."""
    tracked, payments = [], []
    for person in people:
        if rng.random() >= 0.15:
            continue
        visited = person.registration_date + (person.last_seen_date - person.registration_date) * rng.random()
        person.has_visited_platform = True
        tracked.append((Events.PLATFORM_VISITED, person.id, visited, {"link": "hero-course"}))
        if rng.random() < 0.4:
            bought = min(visited + timedelta(hours=rng.uniform(0.2, 48)), now)
            person.has_purchased_flow = True
            person.markers = {**(person.markers or {}), "purchased_streams": [stream.stream_tag]}
            person.streams = [*(person.streams or []), stream.stream_tag]
            payments.append(
                Payment(
                    user=person,
                    stream=stream,
                    stars=stream.stars,
                    credits=Decimal(0),
                    telegram_payment_charge_id=_charge_id(rng),
                    created_at=bought,
                    invoice_payload=f"stream:{stream.pk}",
                )
            )
            tracked.append(
                (Events.FLOW_PURCHASED, person.id, bought, {"stream": stream.stream_tag, "stars": stream.stars})
            )
    Payment.objects.bulk_create(payments, batch_size=500)
    TelegramUser.objects.bulk_update(
        people, ["has_visited_platform", "has_purchased_flow", "streams", "markers"], batch_size=500
    )
    return tracked


def _product_events(
    requests: list[LLMRequest], sessions: list[UserSession], journey: list[JourneyProgress]
) -> list[AnalyticsEvent]:
    """What the bot tracks as it goes, derived from the demo's own requests, payments, sessions and journey,
    so the funnel, the response times and the dashboards agree with everything else."""
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
    for payment in Payment.objects.filter(user_id__gte=DEMO_ID_START, user_id__lt=DEMO_ID_END, stream=None):
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
    for row in journey:
        previous = row.completed_stages[-1] if row.completed_stages else ""
        events.append(
            event(
                Events.JOURNEY_STAGE_CHANGED,
                row.user_id,
                row.stage_start_time,
                {"from_stage": previous, "to_stage": row.current_stage},
            )
        )
    return events


def demo_clear() -> None:
    # Requests outlive a deleted user (their cost is history), so demo ones go explicitly.
    LLMRequest.objects.filter(user_id__gte=DEMO_ID_START, user_id__lt=DEMO_ID_END).delete()
    Payment.objects.filter(user_id__gte=DEMO_ID_START, user_id__lt=DEMO_ID_END).delete()
    # A subscription's invoice and payments are protected while it lasts: the payments went first, then it.
    Subscription.objects.filter(user_id__gte=DEMO_ID_START, user_id__lt=DEMO_ID_END).delete()
    TelegramUser.objects.filter(pk__gte=DEMO_ID_START, pk__lt=DEMO_ID_END).delete()
    AnalyticsEvent.objects.filter(user_id__gte=DEMO_ID_START, user_id__lt=DEMO_ID_END).delete()
    UserFirstEvent.objects.filter(user_id__gte=DEMO_ID_START, user_id__lt=DEMO_ID_END).delete()
    ActiveUserDay.objects.filter(user_id__gte=DEMO_ID_START, user_id__lt=DEMO_ID_END).delete()


@transaction.atomic
def demo_seed(*, users: int = 300, days: int = 30, seed: int = 7) -> DemoStats:
    rng = random.Random(seed)
    now = timezone.now()
    demo_clear()
    people, sexes, usernames = [], [], set()
    for index in range(users):
        registered = now - timedelta(days=rng.uniform(0, days), minutes=rng.randint(0, 1440))
        language = demo_language(rng)
        sex = rng.choice([Gender.MALE, Gender.FEMALE])
        name = demo_name(rng, language=language, sex=sex, taken=usernames)
        sexes.append(sex)
        people.append(
            TelegramUser(
                id=DEMO_ID_START + index,
                username=name.username,
                first_name=name.first_name,
                last_name=name.last_name,
                language_code=language,
                is_premium=rng.random() < 0.1,
                registration_date=registered,
                last_seen_date=registered,
                gender=sex if rng.random() < 0.85 else "",  # the bot does not know everyone's
                is_active=rng.random() > 0.07,
                source=rng.choice(_SOURCES),
            )
        )
    TelegramUser.objects.bulk_create(people, batch_size=500)

    talks: list[_Talk] = []
    update_id = 0
    for person, sex in zip(people, sexes, strict=True):
        devoted = rng.random() < _DEVOTED_SHARE
        rows = _activity_rows(rng, person, now, start_update_id=update_id, devoted=devoted)
        update_id += len(rows) * 10
        talks.append(_talk(rng, person, sex, rows, devoted=devoted))
    _llm_requests(rng, talks)
    # The offers draw from a generator of their own: the rest of the population stays as each seed made it.
    offers, offers_rng = _demo_offers(), random.Random(f"offers:{seed}")
    packages = list(CreditPackage.objects.filter(is_active=True).order_by("credits", "pk"))
    activities: list[UserActivityLog] = []
    events: list[AnalyticsEvent] = []
    for talk in talks:
        _spend(offers_rng, talk, offers, packages, now)
        person = talk.person
        person.last_seen_date = max(row.timestamp for row in talk.rows)
        activities.extend(talk.rows)
        events.append(
            AnalyticsEvent(
                event_name=Events.BOT_STARTED,
                user_id=person.id,
                occurred_at=person.registration_date,
                session_id=daily_session_id(person.id, person.registration_date),
                properties={"is_new": True, "source": person.source},
            )
        )
    UserActivityLog.objects.bulk_create(activities, batch_size=2000)
    AnalyticsEvent.objects.bulk_create(events, batch_size=2000)
    sessions = UserSession.objects.bulk_create([_session(talk, now) for talk in talks], batch_size=500)
    for talk, session in zip(talks, sessions, strict=True):
        for request in talk.requests:
            request.session = session
    requests = LLMRequest.objects.bulk_create([r for talk in talks for r in talk.requests], batch_size=2000)
    journey = JourneyProgress.objects.bulk_create(
        [row for talk, session in zip(talks, sessions, strict=True) for row in _journey(rng, talk, session, now)]
    )
    for talk in talks:
        _profile(rng, talk)
    TelegramUser.objects.bulk_update(people, _GROWN_FIELDS, batch_size=500)
    # The rollups are computed from the request log, so the three always agree.
    rollups_rebuild(user_ids=[person.id for person in people])
    operation_count, payment_count = _ledger(offers_rng, talks)
    conversions = _conversions(offers_rng, people, offers.stream, now)
    product_events = _product_events(requests, sessions, journey)
    product_events += [
        AnalyticsEvent(
            event_name=name,
            user_id=user_id,
            occurred_at=moment,
            properties=properties,
            session_id=daily_session_id(user_id, moment),
        )
        for name, user_id, moment, properties in conversions
    ]
    product_events = AnalyticsEvent.objects.bulk_create(product_events, batch_size=2000)
    # Events and activity went in directly, not through ingest: the dashboard's rollups are made from them.
    analytics_rollups_rebuild(user_ids=[person.id for person in people])
    return DemoStats(
        operations=operation_count,
        payments=payment_count + sum(name == Events.FLOW_PURCHASED for name, *_ in conversions),
        users=len(people),
        activities=len(activities),
        events=len(events) + len(product_events),
        llm_requests=len(requests),
        sessions=len(sessions),
        profiles=sum(bool(person.psychological_summary) for person in people),
        on_journey=sum(bool(person.last_journey_stage) for person in people),
    )
