from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from apps.bot.selectors import inbox_overview
from apps.users.selectors import users_overview


class BotdeskAdminSite(admin.AdminSite):
    site_header = "Botdesk"
    site_title = "Botdesk admin"
    index_title = "Back office"

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        # Staff open the admin to see how the bot is doing before they look for a record.
        context = {"users_overview": users_overview(), "inbox_overview": inbox_overview(), **(extra_context or {})}
        return super().index(request, extra_context=context)
