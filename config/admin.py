from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse, reverse_lazy
from django.utils import timezone

from apps.analytics.database import database_budget
from apps.analytics.selectors import recent_event_days
from apps.billing.models import Operation
from apps.bot.overview import front_page
from apps.journey.models import JourneyStage
from apps.users.models import TelegramUser


class BotdeskAdminSite(admin.AdminSite):
    site_header = "Botdesk"
    site_title = "Botdesk admin"
    index_title = "Back office"
    # "View site": the bot has no site of its own; its dashboard is what there is to see.
    site_url = reverse_lazy("admin:dashboard")

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        # Staff open the admin to see how the bot is doing before they look for a record.
        context = {"overview": front_page(request, self), **(extra_context or {})}
        return super().index(request, extra_context=context)

    def get_urls(self):
        database_size = self.admin_view(self.database_size_view)
        dashboard = self.admin_view(self.dashboard_view)
        dashboard_users = self.admin_view(self.dashboard_users_view)
        try_bot = self.admin_view(self.try_the_bot_view)
        return [
            path("database-size/", database_size, name="database_size"),
            path("dashboard/", dashboard, name="dashboard"),
            path("dashboard/users/", dashboard_users, name="dashboard_users"),
            path("try-the-bot/", try_bot, name="try_the_bot"),
            *super().get_urls(),
        ]

    def dashboard_view(self, request: HttpRequest) -> TemplateResponse:
        """Charts drawn in the browser from the staff API (same session), for a chosen date range: first the
        days that have events, today's marked as not over."""
        start, end = recent_event_days()
        context = {
            **self.each_context(request),
            "title": "Dashboard",
            "stage_names": dict(JourneyStage.choices),
            "start": start,
            "end": end,
            "today": timezone.localdate(),
        }
        return TemplateResponse(request, "admin/dashboard.html", context)

    def dashboard_users_view(self, request: HttpRequest) -> JsonResponse:
        """The dashboard's users by name with their admin page, for the ids the API's rows carry (?id=1&id=2):
        admin links are the admin's to give, so the analysts' API stays as it is."""
        if not request.user.has_perm("users.view_telegramuser"):
            raise PermissionDenied
        ids = [
            int(value)
            for value in request.GET.getlist("id")[:100]
            if value.removeprefix("-").isdecimal() and len(value) < 19
        ]
        users = TelegramUser.objects.filter(pk__in=ids).only("id", "username", "first_name", "last_name")
        return JsonResponse(
            {
                user.pk: {"name": str(user), "url": reverse("admin:users_telegramuser_change", args=[user.pk])}
                for user in users
            }
        )

    def try_the_bot_view(self, request: HttpRequest) -> HttpResponse:
        """Staff chat with the bot as a test user, through the whole path, answered by the Bot API stand-in."""
        from apps.bot.admin.trying import try_the_bot  # the bot's admin package registers on the site: not at import

        return try_the_bot(request, self.each_context(request))

    def database_size_view(self, request: HttpRequest) -> TemplateResponse:
        """Seed 003's budget: what each table takes, and what the budget still holds."""
        context = {
            **self.each_context(request),
            "title": "Database size",
            "budget": database_budget(record_table=Operation._meta.db_table),
        }
        return TemplateResponse(request, "admin/database_size.html", context)
