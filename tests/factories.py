"""factory_boy factories for the project's models.

Each factory writes rows the way the project itself would, where that matters: balances only through
the ledger (`add_to_balance`, so balance == Σ operations), LLM requests through metering (the request
and its daily and all-time rollups together), payments with the ledger credit `payment_record` gives
them. Ids come from a range of their own, far from the ids tests pick by hand and from the demo's.
"""

from datetime import timedelta
from decimal import Decimal

import factory
from django.db import transaction
from django.utils import timezone
from factory.django import DjangoModelFactory

from apps.billing.models import CreditPackage, Invoice, OperationType, Payment, PaymentStatus, Subscription
from apps.billing.services import add_to_balance, ledger_apply
from apps.broadcast.models import Broadcast
from apps.llm.metering import usage_record
from apps.llm.models import LLMRequest, RequestStatus, RequestType
from apps.sessions.models import UserSession
from apps.users.models import TelegramUser

FIRST_USER_ID = 800_000_000


class TelegramUserFactory(DjangoModelFactory):
    """A user as the model's defaults make them; only the id is chosen here."""

    class Meta:
        model = TelegramUser
        skip_postgeneration_save = True

    id = factory.Sequence(lambda n: FIRST_USER_ID + n)


def _fund(user: TelegramUser, create: bool, extracted: Decimal | int | str | None, **kwargs) -> None:
    amount = Decimal(10) if extracted is None else Decimal(extracted)
    if create and amount > 0:
        add_to_balance(user.pk, amount, reason=kwargs.get("reason", ""))


class UserWithBalanceFactory(TelegramUserFactory):
    """A user whose balance was credited through the ledger: one adjustment operation of `credits`
    (10 unless given; 0 leaves them without a balance row, as a new user without a trial is)."""

    credits = factory.PostGeneration(_fund)


class UserSessionFactory(DjangoModelFactory):
    """An active chat session; `question_count` follows the user turns of `conversation_history`."""

    class Meta:
        model = UserSession

    user = factory.SubFactory(TelegramUserFactory)
    conversation_history = factory.LazyFunction(list)
    question_count = factory.LazyAttribute(
        lambda session: sum(turn.get("role") == "user" for turn in session.conversation_history)
    )


class LLMRequestFactory(DjangoModelFactory):
    """A successful chat request of 120 + 30 tokens, recorded through metering like a real call, so the
    user's DailyUsage and UserUsageSummary count it too."""

    class Meta:
        model = LLMRequest

    user = factory.SubFactory(TelegramUserFactory)
    session = None
    request_type = RequestType.CHAT
    provider = "openai"
    model = "gpt-4o-mini"
    prompt_tokens = 120
    completion_tokens = 30
    total_tokens = factory.LazyAttribute(lambda request: request.prompt_tokens + request.completion_tokens)
    cached_tokens = 0
    cost = Decimal("0.00003600")  # gpt-4o-mini's list price for 120 + 30 tokens
    latency_ms = 850
    status = RequestStatus.SUCCESS
    created_at = factory.LazyFunction(timezone.now)

    @classmethod
    def _create(cls, model_class, *args, **kwargs) -> LLMRequest:
        user, session = kwargs.pop("user"), kwargs.pop("session")
        return usage_record(
            user_id=user.pk if user else None,
            username=user.username if user else "",
            session_id=session.pk if session else None,
            **kwargs,
        )


class CreditPackageFactory(DjangoModelFactory):
    class Meta:
        model = CreditPackage

    title = factory.Sequence(lambda n: f"Package {n}")
    credits = Decimal(100)
    stars = 50


class PaymentFactory(DjangoModelFactory):
    """A Stars payment and its ledger credit, as `payment_record` writes them (same idempotency key);
    a refunded one also has the refund's debit, as `payment_refund` writes it."""

    class Meta:
        model = Payment

    user = factory.SubFactory(TelegramUserFactory)
    package = factory.SubFactory(CreditPackageFactory)
    stars = factory.SelfAttribute("package.stars")
    credits = factory.SelfAttribute("package.credits")
    telegram_payment_charge_id = factory.Sequence(lambda n: f"test-charge-{n}")
    invoice_payload = factory.LazyAttribute(lambda payment: f"pkg:{payment.package.pk}:{payment.user.pk}")
    status = PaymentStatus.PAID
    refunded_at = factory.LazyAttribute(
        lambda payment: timezone.now() if payment.status == PaymentStatus.REFUNDED else None
    )

    @classmethod
    def _create(cls, model_class, *args, **kwargs) -> Payment:
        with transaction.atomic():
            payment = super()._create(model_class, *args, **kwargs)
            ledger_apply(
                user_id=payment.user_id,
                type=OperationType.PAYMENT,
                amount=payment.credits,
                payment_id=payment.pk,
                idempotency_key=f"payment:{payment.telegram_payment_charge_id}",
            )
            if payment.status == PaymentStatus.REFUNDED:
                ledger_apply(
                    user_id=payment.user_id,
                    type=OperationType.REFUND,
                    amount=-payment.credits,
                    payment_id=payment.pk,
                    idempotency_key=f"refund:{payment.pk}",
                )
        return payment


class SubscriptionFactory(DjangoModelFactory):
    """A Stars subscription that Telegram will renew, nine days left of its paid period, with the invoice link
    it was bought through (its payments are not made here)."""

    class Meta:
        model = Subscription

    user = factory.SubFactory(TelegramUserFactory)
    title = "Monthly"
    invoice = factory.LazyAttribute(
        lambda subscription: Invoice.objects.create(
            user=subscription.user, title=subscription.title, credits=Decimal(600), stars=250
        )
    )
    charge_id = factory.Sequence(lambda n: f"test-subscription-{n}")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=9))


class BroadcastFactory(DjangoModelFactory):
    """A draft broadcast to everyone (no segment criteria)."""

    class Meta:
        model = Broadcast

    title = factory.Sequence(lambda n: f"Broadcast {n}")
    text = "Hello from the team"
