from django.contrib import admin
from django.db.models import Count, Q, Sum
from django.http import HttpRequest
from django.template.response import TemplateResponse

from apps.core.admin import PRICE, USD, MoneyFields, ReadOnlyAdmin
from apps.core.money import count_text, usd_text

from .models import BotPersona, DailyUsage, LLMRequest, ModelPrice, UserUsageSummary


@admin.register(LLMRequest)
class LLMRequestAdmin(MoneyFields, ReadOnlyAdmin):
    money = {"cost": USD}
    # What a request cost and how long it took beside what it was, all in 1400 px with the filters: the
    # provider is a filter, attempts join the status, a long model id wraps.
    list_display = ["created_at", "user", "request_type", "model", "tokens", "cost", "latency", "outcome"]
    ordering = ["-created_at"]
    list_filter = ["status", "request_type", "provider", "model", "persona", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=user__id", "user__username", "error_message"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    raw_id_fields = ["user", "session", "persona"]
    show_full_result_count = False
    change_list_template = "admin/llm/llmrequest/change_list.html"

    @admin.display(description="tokens", ordering="total_tokens")
    def tokens(self, obj: LLMRequest) -> str:
        # Null means the provider reported no usage: say so rather than show a made-up zero.
        return "unknown" if obj.total_tokens is None else count_text(obj.total_tokens)

    @admin.display(description="latency", ordering="latency_ms")
    def latency(self, obj: LLMRequest) -> str:
        return f"{count_text(obj.latency_ms)}\N{NO-BREAK SPACE}ms"

    @admin.display(description="status", ordering="status")
    def outcome(self, obj: LLMRequest) -> str:
        retried = f" ({obj.attempts} attempts)" if obj.attempts > 1 else ""
        return f"{obj.get_status_display()}{retried}"

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        response = super().changelist_view(request, extra_context)
        if hasattr(response, "context_data") and "cl" in response.context_data:
            rows = response.context_data["cl"].queryset
            response.context_data["totals"] = rows.aggregate(
                requests=Count("id"), unknown=Count("id", filter=Q(total_tokens__isnull=True)),
                prompt_tokens=Sum("prompt_tokens"), completion_tokens=Sum("completion_tokens"),
                total_tokens=Sum("total_tokens"), cost=Sum("cost"),
            )  # fmt: skip
            totals = response.context_data["totals"]
            totals["cost_text"] = usd_text(totals["cost"] or 0)
            for name in ("requests", "unknown", "prompt_tokens", "completion_tokens", "total_tokens"):
                totals[f"{name}_text"] = count_text(totals[name] or 0)
        return response


@admin.register(ModelPrice)
class ModelPriceAdmin(MoneyFields, admin.ModelAdmin):
    money = {name: PRICE for name in ("input_per_1m", "cached_input_per_1m", "output_per_1m", "per_audio_minute")}
    list_display = ["provider", "model", "input_per_1m", "cached_input_per_1m", "output_per_1m", "per_audio_minute",
                    "currency", "valid_from"]  # fmt: skip
    list_filter = ["provider", "currency"]
    search_fields = ["model", "provider"]


@admin.register(BotPersona)
class BotPersonaAdmin(admin.ModelAdmin):
    list_display = ["name", "model", "temperature", "max_tokens", "is_active"]
    list_filter = ["is_active"]


@admin.register(DailyUsage)
class DailyUsageAdmin(MoneyFields, ReadOnlyAdmin):
    money = {"cost": USD}
    list_display = ["date", "user", "requests", "errors", "prompt_tokens", "completion_tokens", "total_tokens", "cost"]
    list_filter = [("date", admin.DateFieldListFilter)]
    search_fields = ["=user__id", "user__username"]
    date_hierarchy = "date"
    list_select_related = ["user"]


@admin.register(UserUsageSummary)
class UserUsageSummaryAdmin(MoneyFields, ReadOnlyAdmin):
    money = {"total_cost": USD}
    list_display = [
        "user",
        "total_requests",
        "total_errors",
        "total_tokens",
        "total_cost",
        "average_latency",
        "success",
        "last_activity",
    ]
    search_fields = ["=user__id", "user__username"]
    ordering = ["-total_cost"]
    list_select_related = ["user"]

    @admin.display(description="avg latency, ms")
    def average_latency(self, obj: UserUsageSummary) -> int:
        return round(obj.average_latency_ms)

    @admin.display(description="success rate")
    def success(self, obj: UserUsageSummary) -> str:
        return f"{obj.success_rate:.0%}"
