import csv

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from apps.core.admin import PermanentRecordAdmin
from apps.core.sending import SendFailed

from .exceptions import BillingError
from .forms import BalanceAdjustmentForm
from .models import (
    Balance,
    CreditPackage,
    DebugLog,
    GenerationLog,
    Invoice,
    Operation,
    OperationType,
    Payment,
    PaymentStatus,
    PricePlan,
)
from .services import ledger_apply, payment_refund, refunds_settle


@admin.register(Balance)
class BalanceAdmin(PermanentRecordAdmin):
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
            try:
                operation = ledger_apply(
                    user_id=user_id,
                    type=OperationType.ADJUSTMENT,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    staff=request.user,
                )
            except BillingError as error:
                form.add_error("amount", str(error))
            else:
                self.message_user(
                    request,
                    f"Balance of {user_id} is now {operation.balance_after} {settings.BILLING_UNIT}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:billing_balance_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust the balance of {balance.user}",
            "form": form,
            "balance": balance,
            "opts": self.model._meta,
            "unit": settings.BILLING_UNIT,
        }
        return TemplateResponse(request, "admin/billing/adjust_balance.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


@admin.register(Operation)
class OperationAdmin(PermanentRecordAdmin):
    list_display = ["id", "created_at", "user", "type", "amount", "balance_after", "model", "staff", "reason"]
    list_filter = ["type", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=user__id", "user__username", "reason"]
    date_hierarchy = "created_at"
    list_select_related = ["user", "staff"]
    show_full_result_count = False
    actions = ["export_csv"]

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


@admin.register(Payment)
class PaymentAdmin(PermanentRecordAdmin):
    list_display = [
        "created_at",
        "user",
        "package",
        "stars",
        "credits",
        "status",
        "thanked_at",
        "refund_requested_at",
        "refunded_at",
        "refunded_by",
    ]
    list_filter = ["status", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=user__id", "telegram_payment_charge_id"]
    list_select_related = ["user", "package", "refunded_by"]
    actions = ["refund", "settle_refunds"]

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.change_payment")

    @admin.action(description="Refund the selected payments (Stars back, credits taken back)", permissions=["refund"])
    def refund(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        for payment in queryset:
            try:
                refunded = payment_refund(payment_id=payment.pk, staff=request.user)
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


@admin.register(Invoice)
class InvoiceAdmin(PermanentRecordAdmin):
    """What each invoice sold, as sent: the payment of one is credited with this."""

    list_display = ["id", "created_at", "user", "title", "credits", "stars", "package"]
    search_fields = ["=id", "=user__id"]
    list_select_related = ["user", "package"]
    date_hierarchy = "created_at"


@admin.register(PricePlan)
class PricePlanAdmin(admin.ModelAdmin):
    list_display = ["__str__", "credits_per_1k_prompt", "credits_per_1k_completion", "markup", "minimum_charge"]


@admin.register(CreditPackage)
class CreditPackageAdmin(admin.ModelAdmin):
    list_display = ["title", "credits", "stars", "is_active", "position"]
    list_editable = ["is_active", "position"]


@admin.register(GenerationLog)
class GenerationLogAdmin(PermanentRecordAdmin):
    list_display = ["created_at", "user", "model", "result_url", "error"]
    list_filter = ["model"]


@admin.register(DebugLog)
class DebugLogAdmin(PermanentRecordAdmin):
    list_display = ["created_at", "level", "message"]
    list_filter = ["level"]
