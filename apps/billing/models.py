from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models, transaction
from django.db.models.signals import post_migrate
from django.utils import timezone

from apps.core.money import credits_phrase, stars_text

CREDITS = {"max_digits": 14, "decimal_places": 4}


class Balance(models.Model):
    """A user's balance in credits. Only the ledger service changes it, with this row locked. It goes below
    zero only by a staff decision (the refund of credits the user had already spent): the ledger refuses
    every other debit it cannot cover."""

    user = models.OneToOneField(
        "users.TelegramUser", on_delete=models.CASCADE, primary_key=True, related_name="balance"
    )
    amount = models.DecimalField(**CREDITS, default=Decimal(0))
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{credits_phrase(self.amount)} of {self.user_id}"


class OperationType(models.IntegerChoices):
    # Small integer codes keep the ledger lean (seed 003: a 1 GB budget).
    PAYMENT = 1, "payment"
    GENERATION = 2, "generation"
    REFUND = 3, "refund"
    ADJUSTMENT = 4, "adjustment"
    BONUS = 5, "bonus"
    RESERVE = 6, "reserve"
    RELEASE = 7, "release"
    # Unused credits of a subscription period that lapsed, taken back (SUBSCRIPTION_CREDITS_EXPIRE).
    EXPIRY = 8, "expiry"


MODEL_NAME_LENGTH = 64


class ModelName(models.Model):
    """A model name the ledger has met, once: an operation stores its small code instead of the name (seed 003's
    1 GB budget). Rows are only added, by ModelNameField when an operation names a model first; never changed
    or deleted, so a code means one name for good."""

    id = models.SmallAutoField(primary_key=True)
    name = models.CharField(max_length=MODEL_NAME_LENGTH, unique=True)

    def __str__(self) -> str:
        return self.name


class _ModelCodes:
    """Name ↔ code of the ModelName rows this process knows to be committed, so an operation's model costs no
    query. A row inserted here is trusted only once its transaction commits: until then it is known to that
    transaction alone (a rolled-back insert leaves no row, and SQLite may give its code to another name)."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.names: dict[int, str] = {}
        # code → (name, its on-commit callback, the connection): inserted here, not known to be committed.
        self._ours: dict[int, tuple[str, object, object]] = {}

    def forget(self, **kwargs) -> None:
        """The tables were emptied or rebuilt (migrate, flush): known codes may mean nothing now."""
        self.codes.clear()
        self.names.clear()
        self._ours.clear()

    def _open(self, code: int) -> str | None:
        """The name of `code` if this connection inserted it in its transaction still open; drops a code whose
        transaction rolled back."""
        if code not in self._ours:
            return None
        name, callback, connection = self._ours[code]
        current = transaction.get_connection()
        if connection is not current:
            return None
        if any(pending[1] is callback for pending in current.run_on_commit):
            return name
        self._ours.pop(code, None)
        return None

    def _learn(self, code: int, name: str) -> None:
        if self._open(code) is None:
            self.codes[name], self.names[code] = code, name

    def _inserted(self, code: int, name: str) -> None:
        connection = transaction.get_connection()
        if not connection.in_atomic_block:
            self._learn(code, name)
            return

        def committed() -> None:
            self._ours.pop(code, None)
            self.codes[name], self.names[code] = code, name

        self._ours[code] = (name, committed, connection)
        transaction.on_commit(committed)

    def code(self, name: str, *, create: bool) -> int | None:
        """The code of `name` (None: no name, or unknown); with `create`, a new one for a name not seen
        before. Concurrent first uses agree on one: the name is unique, a conflicting insert does nothing
        (PostgreSQL waits for the other to commit) and the row is read back."""
        if not name:
            return None
        if name in self.codes:
            return self.codes[name]
        for code, (known, *_) in list(self._ours.items()):
            if known == name and self._open(code) is not None:
                return code
        code = ModelName.objects.filter(name=name).values_list("id", flat=True).first()
        if code is not None:
            self._learn(code, name)
        elif create:
            ModelName.objects.bulk_create([ModelName(name=name)], ignore_conflicts=True)
            code = ModelName.objects.values_list("id", flat=True).get(name=name)
            self._inserted(code, name)
        return code

    def name(self, code: int) -> str:
        if code in self.names:
            return self.names[code]
        if (name := self._open(code)) is not None:
            return name
        # One query learns every name (there are a few dozen at most).
        rows = dict(ModelName.objects.values_list("id", "name"))
        for known, known_name in rows.items():
            self._learn(known, known_name)
        return rows.get(code, "")


MODEL_CODES = _ModelCodes()
# What a lookup by a name never used compares with: no row has this code.
_NO_CODE = -1
post_migrate.connect(MODEL_CODES.forget, dispatch_uid="billing.model_codes")


class ModelNameField(models.Field):
    """A model name ("gpt-4o-mini", "" for none) in Python, its ModelName code in the database (smallint; NULL
    for none): two bytes a row instead of the name. Saving a name not seen before gives it a code. Lookups
    take names: exact and in (an unknown name matches nothing; "" or isnull=True: the rows without a model)."""

    description = "A model name stored as a small code"

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("max_length", MODEL_NAME_LENGTH)
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        for option, value in (("max_length", MODEL_NAME_LENGTH), ("null", True), ("blank", True), ("default", "")):
            if kwargs.get(option) == value:
                del kwargs[option]
        return name, path, args, kwargs

    def get_internal_type(self) -> str:
        return "SmallIntegerField"

    def from_db_value(self, value: int | None, expression, connection) -> str:
        return "" if value is None else MODEL_CODES.name(value)

    def to_python(self, value: object) -> str:
        if value is None:
            return ""
        return MODEL_CODES.name(value) if isinstance(value, int) else str(value)

    def get_prep_value(self, value: object) -> int | None:
        name = self.to_python(value)
        if not name:
            return None  # Django reads "= None" as IS NULL: the operations without a model
        code = MODEL_CODES.code(name, create=False)
        return _NO_CODE if code is None else code

    def get_db_prep_save(self, value: object, connection) -> int | None:
        return MODEL_CODES.code(self.to_python(value)[: self.max_length], create=True)

    def value_to_string(self, obj: models.Model) -> str:
        return self.value_from_object(obj)

    def formfield(self, **kwargs):
        return forms.CharField(max_length=self.max_length, required=False, **kwargs)


class Operation(models.Model):
    """One change of one balance: balance == Σ amount of the user's operations, always.

    The fields are in the order that wastes least to alignment in PostgreSQL's rows (8-byte values, then
    2-byte, then variable): about 90 bytes a row with its header. Most operations are holds and their
    releases, which the user's statement never shows: the user's latest operations are indexed without them,
    and a small index (one entry per user and page, deduplicated) finds all of a user's rows."""

    user = models.ForeignKey("users.TelegramUser", on_delete=models.CASCADE, related_name="operations", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)
    # A 64-bit hash of the caller's key (apps.billing.services.idempotency_hash).
    idempotency_key = models.BigIntegerField(null=True, blank=True, editable=False)
    llm_request = models.ForeignKey(
        "llm.LLMRequest", null=True, blank=True, on_delete=models.SET_NULL, db_index=False, related_name="+"
    )
    payment = models.ForeignKey(
        "billing.Payment", null=True, blank=True, on_delete=models.SET_NULL, db_index=False, related_name="operations"
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, db_index=False, related_name="+"
    )
    type = models.PositiveSmallIntegerField(choices=OperationType.choices)
    model = ModelNameField(db_column="model_code")
    amount = models.DecimalField(**CREDITS, help_text="signed: + credits the balance, - debits it")
    balance_after = models.DecimalField(**CREDITS)
    result_url = models.CharField(max_length=500, blank=True)
    prompt = models.TextField(blank=True, help_text="Only with STORE_PROMPTS, at most 1000 characters")
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["user"], name="operation_user"),
            models.Index(
                fields=["user", "id"],
                name="operation_user_shown",
                condition=~models.Q(type__in=[OperationType.RESERVE, OperationType.RELEASE]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="operation_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        sign = "+" if self.amount > 0 else ""
        return f"{self.get_type_display()} {sign}{credits_phrase(self.amount)} for {self.user_id}"


_NO_RATES = models.Q(credits_per_1k_prompt__isnull=True, credits_per_1k_completion__isnull=True)
_BOTH_RATES = models.Q(credits_per_1k_prompt__isnull=False, credits_per_1k_completion__isnull=False)


class PricePlan(models.Model):
    """What an answer costs the user, for one model or, with no model, for every model without a plan of its
    own: the provider's cost × markup (in credits), or fixed credits per 1K tokens when both rates are set;
    never less than the minimum charge. A model with no plan at all is charged its cost ×
    BILLING_DEFAULT_MARKUP, at least BILLING_MINIMUM_CHARGE."""

    model = models.CharField(
        max_length=64, blank=True, unique=True, help_text="Empty: every model without a plan of its own"
    )
    markup = models.DecimalField(
        max_digits=8,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Provider cost × this, in credits. Empty: BILLING_DEFAULT_MARKUP",
    )
    credits_per_1k_prompt = models.DecimalField(
        **CREDITS,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Set with the completion rate: fixed credits per 1K tokens instead of a markup over cost",
    )
    credits_per_1k_completion = models.DecimalField(
        **CREDITS, null=True, blank=True, validators=[MinValueValidator(Decimal(0))]
    )
    minimum_charge = models.DecimalField(
        **CREDITS,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="The least an answer costs. Empty: BILLING_MINIMUM_CHARGE",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=_NO_RATES | (_BOTH_RATES & models.Q(markup__isnull=True)),
                name="price_plan_markup_or_both_rates",
                violation_error_message="Set a markup, or both per-1K rates (then no markup), not a mix.",
            )
        ]

    def __str__(self) -> str:
        return f"plan for {self.model or 'every model'}"

    @property
    def fixed_rates(self) -> bool:
        return self.credits_per_1k_prompt is not None and self.credits_per_1k_completion is not None

    @property
    def effective_markup(self) -> Decimal:
        return settings.BILLING_DEFAULT_MARKUP if self.markup is None else self.markup

    @property
    def effective_minimum(self) -> Decimal:
        return settings.BILLING_MINIMUM_CHARGE if self.minimum_charge is None else self.minimum_charge


class CreditPackage(models.Model):
    title = models.CharField(max_length=64)
    credits = models.DecimalField(**CREDITS)
    stars = models.PositiveIntegerField(help_text="Price in Telegram Stars (XTR)")
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "stars"]

    def __str__(self) -> str:
        return f"{self.title}: {credits_phrase(self.credits)} for {stars_text(self.stars)}"


class SubscriptionPlan(models.Model):
    """Credits every 30 days for Stars, renewed by Telegram until the user cancels."""

    title = models.CharField(max_length=64)
    stars = models.PositiveIntegerField(help_text="Telegram Stars (XTR) per 30 days")
    credits = models.DecimalField(**CREDITS, help_text="Credits granted each period")
    is_active = models.BooleanField(default=True, help_text="Offered in /buy (subscribers keep renewing)")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "stars"]

    def __str__(self) -> str:
        return f"{self.title}: {credits_phrase(self.credits)} every 30 days for {stars_text(self.stars)}"


class PaidStream(models.Model):
    """A product that is not credits (a stream, a course, access to a channel), bought once with Stars."""

    title = models.CharField(max_length=64)
    stars = models.PositiveIntegerField(help_text="Price in Telegram Stars (XTR)")
    stream_tag = models.CharField(max_length=40, help_text="Added to the buyer's streams: broadcasts can target it")
    link = models.URLField(blank=True, help_text="Sent to the buyer after payment (optional)")
    about_link = models.ForeignKey(
        "billing.TrackedLink",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="A tracked link to the platform, shown beside the stream in /buy",
    )
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "stars"]

    def __str__(self) -> str:
        return f"{self.title} for {stars_text(self.stars)}"


class TrackedLink(models.Model):
    """/go/<slug>: redirects to the platform; a visit by a user the bot gave the link marks them a visitor."""

    slug = models.SlugField(max_length=40, unique=True)
    title = models.CharField(max_length=64, blank=True)
    target_url = models.URLField(help_text="Where /go/<slug> redirects")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"/go/{self.slug} → {self.target_url}"


class Invoice(models.Model):
    """What one invoice sold, fixed when it was sent: its payload ("inv:<id>") names this row, so a payment
    is credited with what the user was shown, whatever staff change in the package before they pay. A
    subscription's invoice link is paid again at every renewal, with the same payload."""

    user = models.ForeignKey("users.TelegramUser", on_delete=models.CASCADE, related_name="+")
    package = models.ForeignKey(CreditPackage, null=True, on_delete=models.SET_NULL, related_name="+")
    plan = models.ForeignKey(SubscriptionPlan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    stream = models.ForeignKey(PaidStream, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    title = models.CharField(max_length=64)
    credits = models.DecimalField(**CREDITS)
    stars = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        sold = f"{credits_phrase(self.credits)} for {stars_text(self.stars)}"
        return f"invoice {self.pk}: {self.title}, {sold} to {self.user_id}"


class Subscription(models.Model):
    """One user's subscription: the invoice link they paid, renewed by Telegram every period."""

    user = models.ForeignKey("users.TelegramUser", on_delete=models.CASCADE, related_name="subscriptions")
    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="subscription")
    plan = models.ForeignKey(SubscriptionPlan, null=True, on_delete=models.SET_NULL, related_name="subscriptions")
    title = models.CharField(max_length=64)
    # The first payment's charge id names the subscription in editUserStarSubscription.
    charge_id = models.CharField(max_length=128)
    started_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(help_text="End of the period paid for")
    is_canceled = models.BooleanField(default=False, help_text="The user cancelled: it will not renew")
    canceled_at = models.DateTimeField(null=True, blank=True)
    renewals = models.PositiveIntegerField(default=0)
    # Set once a lapsed subscription's unused credits were dealt with (expired, or kept by the setting).
    lapsed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-expires_at"]
        indexes = [models.Index(fields=["lapsed_at", "expires_at"], name="subscription_lapse_due")]

    def __str__(self) -> str:
        return f"{self.title} of {self.user_id} until {self.expires_at:%Y-%m-%d}"

    @property
    def is_live(self) -> bool:
        return self.expires_at > timezone.now()


class PaymentStatus(models.TextChoices):
    PAID = "paid", "Paid"
    # The credits are taken back and Telegram was asked to refund, without a clear answer yet: settled
    # from Telegram's own transactions (billing.services.refunds_settle).
    REFUNDING = "refunding", "Refund pending"
    REFUNDED = "refunded", "Refunded"


class Shortfall(models.TextChoices):
    """What staff decided about the credits a refund could not take back (Payment.credits_unrecovered)."""

    TAKEN = "taken", "Taken back (the balance went negative)"
    WRITTEN_OFF = "written_off", "Written off"


class Payment(models.Model):
    user = models.ForeignKey("users.TelegramUser", on_delete=models.PROTECT, related_name="payments")
    package = models.ForeignKey(CreditPackage, null=True, on_delete=models.SET_NULL)
    # Null for payments of invoices sent before invoices were recorded (payload "pkg:<package>:<user>").
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    stars = models.PositiveIntegerField()
    credits = models.DecimalField(**CREDITS)
    telegram_payment_charge_id = models.CharField(max_length=128, unique=True)
    provider_payment_charge_id = models.CharField(max_length=128, blank=True)
    invoice_payload = models.CharField(max_length=128)
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    # A subscription payment: the end of the period it paid for (subscription_expiration_date).
    period_end = models.DateTimeField(null=True, blank=True)
    stream = models.ForeignKey(PaidStream, null=True, blank=True, on_delete=models.SET_NULL, related_name="payments")
    status = models.CharField(max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.PAID)
    created_at = models.DateTimeField(default=timezone.now)
    # Set once the thanks reached Telegram: a redelivered payment is thanked if, and only if, it is unset.
    thanked_at = models.DateTimeField(null=True, blank=True)
    refund_requested_at = models.DateTimeField(null=True, blank=True)
    refund_attempts = models.PositiveSmallIntegerField(default=0)
    refunded_at = models.DateTimeField(null=True, blank=True)
    refunded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A refund Telegram made after the user had spent some of the credits: what it could not take back without
    # taking the balance below zero, which only staff decide (taken back, or written off).
    credits_unrecovered = models.DecimalField(
        **CREDITS, null=True, blank=True, help_text="Spent before Telegram refunded: not taken back. Empty: none"
    )
    unrecovered_resolution = models.CharField(max_length=12, choices=Shortfall.choices, blank=True)
    unrecovered_resolved_at = models.DateTimeField(null=True, blank=True)
    unrecovered_resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{stars_text(self.stars)} from {self.user_id} ({self.status})"


class RefundAbuse(models.Model):
    """A payment refunded after most of its credits were consumed (REFUND_ABUSE_SHARE or more of them): the
    user kept what they used and got their Stars back. One per payment, written when the refund is settled."""

    user = models.ForeignKey("users.TelegramUser", on_delete=models.CASCADE, related_name="refund_abuses")
    payment = models.OneToOneField(Payment, on_delete=models.CASCADE, related_name="refund_abuse")
    credits_consumed = models.DecimalField(**CREDITS, help_text="of this payment's credits, before the refund")
    stars_returned = models.PositiveIntegerField()
    share_consumed = models.DecimalField(max_digits=5, decimal_places=4)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "refund abuse"

    def __str__(self) -> str:
        return f"user {self.user_id}: {self.share_consumed:.0%} consumed, {stars_text(self.stars_returned)} back"


class ReconciliationRun(models.Model):
    """One reading of Telegram's Stars ledger (getStarTransactions) against our payments (billing.reconcile),
    with its figures. A run that could not read Telegram keeps the error and changed nothing."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    since = models.DateTimeField(help_text="Start of the window compared: STARS_RECONCILE_DAYS before the run")
    pages = models.PositiveIntegerField(default=0, help_text="getStarTransactions pages read")
    transactions = models.PositiveIntegerField(default=0, help_text="Telegram's transactions read")
    payments_compared = models.PositiveIntegerField(default=0, help_text="Our payments compared with them")
    missing_payments = models.PositiveIntegerField(default=0)
    unrecorded_refunds = models.PositiveIntegerField(default=0)
    unknown_to_telegram = models.PositiveIntegerField(default=0)
    complete = models.BooleanField(
        default=False,
        help_text="Telegram's ledger was read back past the window: our payments it lacks were looked for",
    )
    error = models.TextField(blank=True, help_text="Why Telegram's ledger could not be read")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"reconciliation of {self.started_at:%Y-%m-%d %H:%M}"


class DiscrepancyKind(models.TextChoices):
    MISSING_PAYMENT = "missing_payment", "Paid in Telegram, not recorded"
    UNRECORDED_REFUND = "unrecorded_refund", "Refunded by Telegram, not recorded"
    UNKNOWN_TO_TELEGRAM = "unknown_to_telegram", "Recorded, not in Telegram's ledger"


class Discrepancy(models.Model):
    """Something Telegram's Stars ledger and our payments disagree on, found by a reconciliation run, until
    staff (or the run itself) resolve it. Raised once per kind and charge id: a later run that finds it again
    neither duplicates an open one nor raises a resolved one again."""

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="discrepancies")
    kind = models.CharField(max_length=20, choices=DiscrepancyKind.choices)
    charge_id = models.CharField(max_length=128, help_text="telegram_payment_charge_id")
    telegram_user_id = models.BigIntegerField(null=True, blank=True, help_text="The user Telegram names, if any")
    stars = models.PositiveIntegerField(null=True, blank=True)
    telegram_date = models.DateTimeField(null=True, blank=True)
    invoice_payload = models.CharField(max_length=128, blank=True)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="discrepancies")
    details = models.TextField(blank=True, help_text="What was found, and why it cannot be resolved by itself")
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "discrepancies"
        indexes = [models.Index(fields=["charge_id"], name="discrepancy_charge")]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "charge_id"], condition=models.Q(resolved_at__isnull=True), name="discrepancy_open_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.charge_id}"


class GenerationLog(models.Model):
    """Seed 003's kie_logs: what was generated (a URL, never the file), purged after LOG_RETENTION_DAYS."""

    user = models.ForeignKey("users.TelegramUser", null=True, on_delete=models.SET_NULL, db_index=False)
    model = models.CharField(max_length=64)
    prompt = models.TextField(blank=True)
    result_url = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.model} for {self.user_id} at {self.created_at:%Y-%m-%d %H:%M}"


class DebugLog(models.Model):
    level = models.CharField(max_length=10)
    message = models.CharField(max_length=1000)
    context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.level}: {self.message[:60]}"
