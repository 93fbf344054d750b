import csv
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from apps.core.admin import CREDITS, CREDITS_MOVED, STARS, MoneyFields, PermanentRecordAdmin, ReadOnlyAdmin
from apps.core.money import credits_phrase
from apps.core.sending import SendFailed

from .exceptions import BillingError
from .forms import BalanceAdjustmentForm, ledger_apply_from
from .models import (
    Balance,
    CreditPackage,
    DebugLog,
    Discrepancy,
    GenerationLog,
    Invoice,
    ModelName,
    Operation,
    OperationType,
    PaidStream,
    Payment,
    PaymentStatus,
    PricePlan,
    ReconciliationRun,
    RefundAbuse,
    Subscription,
    SubscriptionPlan,
    TrackedLink,
)
from .price_check import ModelCharge, PricesVsCost, prices_vs_cost
from .reconcile import discrepancy_resolve, resolutions
from .services import (
    get_user_balance,
    payment_refund,
    payment_shortfall_take,
    payment_shortfall_write_off,
    refunds_settle,
    tracked_url,
)


@admin.register(Balance)
class BalanceAdmin(MoneyFields, PermanentRecordAdmin):
    money = {"amount": CREDITS}
    list_display = ["user", "amount", "updated_at", "adjust_link"]
    search_fields = ["=user__id", "user__username"]
    list_select_related = ["user"]
    ordering = ["-amount"]
    readonly_fields = ["user", "amount", "updated_at", "adjust_link"]

    @admin.display(description="")
    def adjust_link(self, obj: Balance) -> str:
        return format_html(
            '<a class="button" href="{}">Adjust</a>', reverse("admin:billing_balance_adjust", args=[obj.pk])
        )

    def get_urls(self):
        adjust = self.admin_site.admin_view(self.adjust_view)
        return [path("<int:user_id>/adjust/", adjust, name="billing_balance_adjust"), *super().get_urls()]

    def adjust_view(self, request: HttpRequest, user_id: int) -> HttpResponse:
        """A manual adjustment: a ledger operation with the reason and the staff member who made it."""
        balance = get_object_or_404(Balance, pk=user_id)
        if not request.user.has_perm("billing.add_operation"):
            return HttpResponse(status=403)
        form = BalanceAdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            operation = ledger_apply_from(form, user_id=user_id, type=OperationType.ADJUSTMENT, staff=request.user)
            if operation is not None:
                self.message_user(
                    request,
                    f"Balance of {user_id} is now {credits_phrase(operation.balance_after, 4)}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:billing_balance_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust the balance of {balance.user}",
            "form": form,
            "balance": credits_phrase(balance.amount, 4),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/billing/adjust_balance.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


class OperationModelFilter(admin.SimpleListFilter):
    """By the model that answered: the names the ledger has met (it stores their codes)."""

    title = "model"
    parameter_name = "model"

    def lookups(self, request, model_admin):
        return [(name, name) for name in ModelName.objects.order_by("name").values_list("name", flat=True)]

    def queryset(self, request, queryset):
        return queryset.filter(model=self.value()) if self.value() else queryset


@admin.register(Operation)
class OperationAdmin(MoneyFields, PermanentRecordAdmin):
    money = {"amount": CREDITS_MOVED, "balance_after": CREDITS}
    # The money before the long names, so a laptop shows it without scrolling sideways.
    list_display = ["id", "created_at", "type", "amount", "balance_after", "user", "model", "why"]
    list_filter = ["type", OperationModelFilter, ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=user__id", "user__username", "reason"]
    date_hierarchy = "created_at"
    list_select_related = ["user", "staff"]
    ordering = ["-id"]  # newest first: the ledger's order
    show_full_result_count = False
    actions = ["export_csv"]

    class Media:
        css = {"all": ["billing/operations.css"]}

    @admin.display(description="reason", ordering="reason")
    def why(self, operation: Operation) -> str:
        """A staff adjustment's reason and who gave it: one column, as most operations have neither."""
        by = f" ({operation.staff})" if operation.staff else ""
        return f"{operation.reason}{by}" if operation.reason or by else "-"

    @admin.action(description="Export the selected operations as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Operation]) -> StreamingHttpResponse:
        writer = csv.writer(_Echo())
        header = [
            "id",
            "created_at",
            "user_id",
            "type",
            "amount",
            "balance_after",
            "model",
            "llm_request_id",
            "payment_id",
            "staff",
            "reason",
        ]
        rows = (
            [
                op.pk,
                op.created_at.isoformat(),
                op.user_id,
                op.get_type_display(),
                op.amount,
                op.balance_after,
                op.model,
                op.llm_request_id,
                op.payment_id,
                op.staff.username if op.staff else "",
                op.reason,
            ]
            for op in queryset.select_related("staff").order_by("id").iterator()
        )
        response = StreamingHttpResponse((writer.writerow(row) for row in [header, *rows]), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="operations.csv"'
        return response


UNRECOVERED_OPEN = Q(credits_unrecovered__isnull=False, unrecovered_resolution="")


class UnrecoveredFilter(admin.SimpleListFilter):
    """Refunds Telegram made after the user spent some of the credits: what staff have still to decide."""

    title = "unrecovered credits"
    parameter_name = "unrecovered"

    def lookups(self, request, model_admin):
        return [("open", "To decide"), ("decided", "Decided")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(UNRECOVERED_OPEN)
        if self.value() == "decided":
            return queryset.filter(credits_unrecovered__isnull=False).exclude(unrecovered_resolution="")
        return queryset


@admin.register(Payment)
class PaymentAdmin(MoneyFields, PermanentRecordAdmin):
    money = {"stars": STARS, "credits": CREDITS, "credits_unrecovered": CREDITS}
    # What an operator looks for first, money included, before the columns a narrow screen scrolls to.
    list_display = ["created_at", "user", "bought", "stars", "credits", "status", "refund_state"]
    list_filter = ["status", UnrecoveredFilter, ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=user__id", "telegram_payment_charge_id"]
    list_select_related = ["user", "package", "subscription", "stream", "refunded_by"]
    ordering = ["-created_at", "-id"]
    actions = ["refund", "settle_refunds", "refund_below_zero", "take_unrecovered", "write_off_unrecovered"]

    @admin.display(description="bought")
    def bought(self, payment: Payment) -> str:
        """The package, subscription or paid stream, by its title (its price is in the columns beside)."""
        for sold in (payment.package, payment.subscription, payment.stream):
            if sold is not None:
                return sold.title
        return "-"

    @admin.display(description="refund", ordering="refunded_at")
    def refund_state(self, payment: Payment) -> str:
        if payment.refunded_at is not None:
            by = f" by {payment.refunded_by}" if payment.refunded_by else ""
            refunded = f"refunded {date_format(timezone.localtime(payment.refunded_at), 'SHORT_DATETIME_FORMAT')}{by}"
            if payment.credits_unrecovered:
                decided = payment.get_unrecovered_resolution_display().lower() or "to decide"
                refunded += f"; {credits_phrase(payment.credits_unrecovered, 4)} spent before, not taken: {decided}"
            return refunded
        if payment.refund_requested_at is not None:
            return f"requested {date_format(timezone.localtime(payment.refund_requested_at), 'SHORT_DATETIME_FORMAT')}"
        return "-"

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.change_payment")

    @admin.action(description="Refund the selected payments (Stars back, credits taken back)", permissions=["refund"])
    def refund(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        self._refund_each(request, queryset, allow_negative=False)

    def _refund_each(self, request: HttpRequest, queryset: QuerySet[Payment], *, allow_negative: bool) -> None:
        for payment in queryset:
            try:
                refunded = payment_refund(payment_id=payment.pk, staff=request.user, allow_negative=allow_negative)
            except BillingError as error:
                self.message_user(request, f"Payment {payment.pk} not refunded: {error}", messages.ERROR)
            except SendFailed as error:  # Telegram refused: the credits were given back
                self.message_user(request, f"Payment {payment.pk} not refunded: Telegram said {error}", messages.ERROR)
            else:
                if refunded.status == PaymentStatus.REFUNDED:
                    self.message_user(request, f"Payment {payment.pk} refunded.", messages.SUCCESS)
                else:
                    self.message_user(
                        request,
                        f"Payment {payment.pk}: Telegram did not answer in time, so the refund is pending (its "
                        f"credits are held back). It is settled from Telegram's transactions: use "
                        f'"Settle pending refunds" in a minute, or wait for the job.',
                        messages.WARNING,
                    )

    @admin.action(description="Settle pending refunds with Telegram's transactions", permissions=["refund"])
    def settle_refunds(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        try:
            settled = refunds_settle(payment_ids=list(queryset.values_list("pk", flat=True)))
        except SendFailed as error:
            self.message_user(request, f"Telegram's transactions could not be read: {error}", messages.ERROR)
            return
        for payment_id in settled.refunded:
            self.message_user(request, f"Payment {payment_id}: Telegram refunded it; refunded.", messages.SUCCESS)
        for payment_id in settled.undone:
            self.message_user(
                request, f"Payment {payment_id}: Telegram did not refund it; its credits are back.", messages.WARNING
            )
        for payment_id in settled.pending:
            self.message_user(
                request,
                f"Payment {payment_id}: no refund in Telegram's transactions yet; still pending (it is undone once "
                f"{settings.BILLING_REFUND_GRACE} have passed without one).",
                messages.WARNING,
            )
        if not (settled.refunded or settled.undone or settled.pending):
            self.message_user(request, "None of the selected payments has a refund pending.", messages.INFO)

    @admin.action(description="Refund and take the balance negative (credits already spent)", permissions=["refund"])
    def refund_below_zero(self, request: HttpRequest, queryset: QuerySet[Payment]) -> HttpResponse | None:
        """The refund the plain action refuses when the user has spent the credits: after a page that shows
        each balance going below zero, the credits are taken back all the same."""
        paid = queryset.filter(status=PaymentStatus.PAID).select_related("user")
        if request.POST.get("confirm") != "yes":
            return self._below_zero_page(request, paid, "refund_below_zero", lambda payment: payment.credits)
        self._refund_each(request, paid, allow_negative=True)
        return None

    @admin.action(description="Take the unrecovered credits (balance goes negative)", permissions=["refund"])
    def take_unrecovered(self, request: HttpRequest, queryset: QuerySet[Payment]) -> HttpResponse | None:
        """Take back what a refund Telegram made could not (credits_unrecovered): one refund operation each,
        with the staff member, after a page that shows each balance going below zero."""
        open_ = queryset.filter(UNRECOVERED_OPEN)
        if request.POST.get("confirm") != "yes":
            return self._below_zero_page(
                request, open_.select_related("user"), "take_unrecovered", lambda payment: payment.credits_unrecovered
            )
        for payment in open_:
            operation = payment_shortfall_take(payment_id=payment.pk, staff=request.user)
            if operation is not None:
                balance = credits_phrase(operation.balance_after, 4)
                self.message_user(request, f"Payment {payment.pk}: taken back; the balance is {balance}.")
        return None

    @admin.action(description="Write off the unrecovered credits (the user keeps them)", permissions=["refund"])
    def write_off_unrecovered(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        for payment in queryset:
            if payment_shortfall_write_off(payment_id=payment.pk, staff=request.user):
                self.message_user(request, f"Payment {payment.pk}: unrecovered credits written off.")
            else:
                self.message_user(request, f"Payment {payment.pk}: no unrecovered credits to decide.", messages.ERROR)

    def _below_zero_page(self, request: HttpRequest, payments: QuerySet[Payment], action: str, taken) -> HttpResponse:
        """What the action will take from whom, and each balance after it, before staff confirm."""
        balances: dict[int, Decimal] = {}
        rows = []
        for payment in payments:
            amount, before = taken(payment), balances.get(payment.user_id)
            if before is None:
                before = get_user_balance(payment.user_id)
            balances[payment.user_id] = after = before - amount
            shown = {
                name: credits_phrase(value, 4)
                for name, value in [("taken", amount), ("before", before), ("after", after)]
            }
            rows.append({"payment": payment, **shown})
        if not rows:
            self.message_user(request, "None of the selected payments can be taken back that way.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        context = {
            **self.admin_site.each_context(request),
            "title": "Take credits back below zero?",
            "opts": self.model._meta,
            "rows": rows,
            "action": action,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/billing/payment/confirm_below_zero.html", context)


@admin.register(RefundAbuse)
class RefundAbuseAdmin(MoneyFields, ReadOnlyAdmin):
    """Users flagged for a refund after consuming most of the payment's credits. Deleting a flag clears it
    (with REFUND_ABUSE_BLOCKS_PURCHASES, lets the user buy again)."""

    money = {"credits_consumed": CREDITS, "stars_returned": STARS}
    list_display = ["created_at", "user", "payment", "credits_consumed", "stars_returned", "consumed"]
    list_filter = [("created_at", admin.DateFieldListFilter)]
    search_fields = ["=user__id", "user__username"]
    list_select_related = ["user", "payment"]

    @admin.display(description="share consumed", ordering="share_consumed")
    def consumed(self, abuse: RefundAbuse) -> str:
        return f"{abuse.share_consumed:.0%}"


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(PermanentRecordAdmin):
    """The daily comparisons with Telegram's Stars ledger and their figures."""

    list_display = [
        "started_at",
        "finished_at",
        "pages",
        "transactions",
        "payments_compared",
        "missing_payments",
        "unrecorded_refunds",
        "unknown_to_telegram",
        "complete",
        "error",
    ]
    list_filter = ["complete", ("started_at", admin.DateFieldListFilter)]


class DiscrepancyStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() in ("open", "resolved"):
            return queryset.filter(resolved_at__isnull=self.value() == "open")
        return queryset


@admin.register(Discrepancy)
class DiscrepancyAdmin(MoneyFields, PermanentRecordAdmin):
    """What Telegram's Stars ledger and our payments disagree on, each open one with its resolutions as
    buttons: one click, recorded with the staff member; a second click changes nothing."""

    money = {"stars": STARS}
    list_display = [
        "created_at",
        "kind",
        "charge_id",
        "telegram_user_id",
        "stars",
        "telegram_date",
        "payment",
        "details",
        "state",
        "resolve",
    ]
    list_filter = [DiscrepancyStateFilter, "kind", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["charge_id", "=telegram_user_id"]
    list_select_related = ["payment", "resolved_by"]

    @admin.display(description="state", ordering="resolved_at")
    def state(self, discrepancy: Discrepancy) -> str:
        if discrepancy.resolved_at is None:
            return "open"
        by = f" by {discrepancy.resolved_by}" if discrepancy.resolved_by else ""
        when = date_format(timezone.localtime(discrepancy.resolved_at), "SHORT_DATETIME_FORMAT")
        return f"{discrepancy.resolution} ({when}{by})"

    @admin.display(description="")
    def resolve(self, discrepancy: Discrepancy) -> str:
        """Buttons of the changelist's own form (it carries the CSRF token), posted to the resolve view."""
        url = reverse("admin:billing_discrepancy_resolve", args=[discrepancy.pk])
        return format_html_join(
            " ",
            '<button type="submit" class="button" formaction="{}" name="resolution" value="{}">{}</button>',
            ((url, resolution.code, resolution.label) for resolution in resolutions(discrepancy)),
        )

    def get_urls(self):
        resolve = self.admin_site.admin_view(self.resolve_view)
        return [path("<int:pk>/resolve/", resolve, name="billing_discrepancy_resolve"), *super().get_urls()]

    def resolve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse(status=405)
        if not request.user.has_perm("billing.change_payment"):
            return HttpResponse(status=403)
        try:
            discrepancy = discrepancy_resolve(
                discrepancy_id=pk, code=request.POST.get("resolution", ""), staff=request.user
            )
        except BillingError as error:
            self.message_user(request, f"Not resolved: {error}", messages.ERROR)
        else:
            self.message_user(request, f"{discrepancy}: {discrepancy.resolution or 'still open'}.")
        return HttpResponseRedirect(reverse("admin:billing_discrepancy_changelist"))


@admin.register(Invoice)
class InvoiceAdmin(MoneyFields, PermanentRecordAdmin):
    """What each invoice sold, as sent: the payment of one is credited with this."""

    money = {"credits": CREDITS, "stars": STARS}

    list_display = ["id", "created_at", "user", "title", "credits", "stars", "package"]
    search_fields = ["=id", "=user__id"]
    list_select_related = ["user", "package"]
    date_hierarchy = "created_at"


def _plain(value: Decimal, places: int = 6) -> str:
    """A small amount as people read it: 0.0025, 0.00005, 12 (rounded to `places`, no trailing zeros)."""
    text = f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _prices_vs_cost(request: HttpRequest) -> PricesVsCost:
    """Computed once per request: the changelist's column, its warnings and its table all read it."""
    if not hasattr(request, "_prices_vs_cost"):
        request._prices_vs_cost = prices_vs_cost()
    return request._prices_vs_cost


def _loss(row: ModelCharge) -> str:
    """Why a model's answers may cost more than they bring in; empty when they never do."""
    users = f" (used by {', '.join(row.personas)})" if row.personas else ""
    if row.unpriced:
        return f"{row.model} has no price: its answers are charged the minimum only{users}"
    if row.below_cost:
        return f"{row.model} is charged below its provider cost{users}"
    if row.below_cost_cheapest:
        return f"{row.model} is charged below its provider cost for buyers of the cheapest package{users}"
    return ""


@admin.register(PricePlan)
class PricePlanAdmin(admin.ModelAdmin):
    """The plans, and below them every model in the price table against what it is charged ("Prices vs
    cost"): a plan that charges below cost is marked, with the personas that use the model."""

    change_list_template = "admin/billing/priceplan/change_list.html"
    fields = ["model", "markup", "credits_per_1k_prompt", "credits_per_1k_completion", "minimum_charge"]

    def get_list_display(self, request: HttpRequest) -> list:
        report = _prices_vs_cost(request)

        @admin.display(description="against cost")
        def against_cost(plan: PricePlan) -> str:
            losing = [row for row in report.losing() if row.plan.pk == plan.pk]
            if not losing:
                return format_html('<span style="color: var(--message-success-bg, green)">{}</span>', "covers cost")
            mark = "BELOW COST" if any(row.below_cost or row.unpriced for row in losing) else "LOSES ON PACKAGES"
            return format_html('<strong class="errornote">{}</strong> {}', mark, "; ".join(map(_loss, losing)))

        return ["__str__", "charges", "minimum", against_cost]

    @admin.display(description="charges")
    def charges(self, plan: PricePlan) -> str:
        if plan.fixed_rates:
            return (
                f"{_plain(plan.credits_per_1k_prompt)} per 1K prompt + {_plain(plan.credits_per_1k_completion)} per 1K "
                f"completion tokens, in {settings.BILLING_UNIT}; audio at cost × {_plain(plan.effective_markup)}"
            )
        default = " (BILLING_DEFAULT_MARKUP)" if plan.markup is None else ""
        return f"provider cost × {_plain(plan.effective_markup)}{default}"

    @admin.display(description="minimum charge")
    def minimum(self, plan: PricePlan) -> str:
        default = " (BILLING_MINIMUM_CHARGE)" if plan.minimum_charge is None else ""
        return f"{_plain(plan.effective_minimum)} {settings.BILLING_UNIT}{default}"

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        report = _prices_vs_cost(request)
        by_plan: dict[int | None, list[ModelCharge]] = {}
        for row in report.losing():
            by_plan.setdefault(row.plan.pk, []).append(row)
        for rows in by_plan.values():
            plan = "The defaults (BILLING_DEFAULT_MARKUP)" if rows[0].plan.pk is None else f"“{rows[0].plan}”"
            losses = "; ".join(_loss(row) for row in rows)
            self.message_user(request, f"{plan} may lose money: {losses}.", messages.WARNING)
        table = [
            {
                "row": row,
                "plan": "defaults" if row.plan.pk is None else str(row.plan),
                "plan_url": reverse("admin:billing_priceplan_change", args=[row.plan.pk]) if row.plan.pk else "",
                "rates": [
                    {
                        "unit": unit,
                        "cost": _plain(rate.cost),
                        "credits": _plain(rate.credits),
                        "usd": _plain(rate.usd),
                        "usd_cheapest": "" if rate.usd_cheapest is None else _plain(rate.usd_cheapest),
                        "below_cost": rate.below_cost,
                        "below_cost_cheapest": rate.below_cost_cheapest,
                    }
                    for unit, rate in row.rates.items()
                ],
            }
            for row in report.rows
        ]
        context = {
            "prices_vs_cost": table,
            "credits_per_usd": _plain(report.credits_per_usd),
            "credit_usd": _plain(1 / report.credits_per_usd),
            "cheapest": report.cheapest,
            "cheapest_usd_per_credit": _plain(report.cheapest.usd_per_credit) if report.cheapest else "",
            "unit": settings.BILLING_UNIT,
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)


@admin.register(CreditPackage)
class CreditPackageAdmin(MoneyFields, admin.ModelAdmin):
    money = {"credits": CREDITS, "stars": STARS}
    list_display = ["title", "credits", "stars", "is_active", "position"]
    list_editable = ["is_active", "position"]


@admin.register(SubscriptionPlan)
class SubscriptionPlanAdmin(MoneyFields, admin.ModelAdmin):
    money = {"credits": CREDITS, "stars": STARS}
    list_display = ["title", "credits", "stars", "is_active", "position", "subscribers"]
    list_editable = ["is_active", "position"]

    @admin.display(description="live subscribers")
    def subscribers(self, plan: SubscriptionPlan) -> int:
        return plan.subscriptions.filter(expires_at__gt=timezone.now()).count()


class SubscriptionPaymentInline(admin.TabularInline):
    model = Payment
    fields = ["created_at", "telegram_payment_charge_id", "stars", "credits", "period_end", "status"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class SubscriptionStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("renews", "Renews"), ("canceled", "Cancelled, period lasts"), ("over", "Over")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "renews":
            return queryset.filter(expires_at__gt=now, is_canceled=False)
        if self.value() == "canceled":
            return queryset.filter(expires_at__gt=now, is_canceled=True)
        if self.value() == "over":
            return queryset.filter(expires_at__lte=now)
        return queryset


@admin.register(Subscription)
class SubscriptionAdmin(PermanentRecordAdmin):
    """Subscribers, their renewals and cancellations; a period is refunded from here (its latest) or from
    Payments."""

    list_display = ["user", "title", "started_at", "expires_at", "renewals", "is_canceled", "canceled_at", "lapsed_at"]
    list_filter = [SubscriptionStateFilter, "plan", ("started_at", admin.DateFieldListFilter)]
    search_fields = ["=user__id", "charge_id"]
    list_select_related = ["user"]
    inlines = [SubscriptionPaymentInline]
    actions = ["refund_latest_period"]

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.change_payment")

    @admin.action(
        description="Refund the latest paid period (Stars back, its credits taken back)", permissions=["refund"]
    )
    def refund_latest_period(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        for subscription in queryset:
            payment = subscription.payments.filter(status=PaymentStatus.PAID).order_by("-created_at").first()
            if payment is None:
                self.message_user(request, f"{subscription}: no paid period to refund.", messages.ERROR)
                continue
            try:
                refunded = payment_refund(payment_id=payment.pk, staff=request.user)
            except (BillingError, SendFailed) as error:
                self.message_user(request, f"{subscription}: not refunded: {error}", messages.ERROR)
            else:
                self.message_user(
                    request, f"{subscription}: payment {payment.pk} {refunded.get_status_display().lower()}."
                )


@admin.register(TrackedLink)
class TrackedLinkAdmin(admin.ModelAdmin):
    list_display = ["slug", "title", "target_url", "example"]
    prepopulated_fields = {"slug": ["title"]}

    @admin.display(description="as the bot sends it (user 1)")
    def example(self, link: TrackedLink) -> str:
        return tracked_url(link, 1) or "set PUBLIC_BASE_URL"


@admin.register(PaidStream)
class PaidStreamAdmin(MoneyFields, admin.ModelAdmin):
    money = {"stars": STARS}
    list_display = ["title", "stars", "stream_tag", "link", "about_link", "is_active", "position", "buyers"]
    list_editable = ["is_active", "position"]

    @admin.display(description="buyers")
    def buyers(self, stream: PaidStream) -> int:
        return stream.payments.filter(status=PaymentStatus.PAID).count()


@admin.register(GenerationLog)
class GenerationLogAdmin(PermanentRecordAdmin):
    list_display = ["created_at", "user", "model", "result_url", "error"]
    list_filter = ["model"]


@admin.register(DebugLog)
class DebugLogAdmin(PermanentRecordAdmin):
    list_display = ["created_at", "level", "message"]
    list_filter = ["level"]
