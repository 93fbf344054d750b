"""The user page's "Download data (JSON)": the same document /mydata sends the user."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.bot.flows.export import export_filename, user_data_json
from apps.users.models import TelegramUser


class UserDataDownload(admin.ModelAdmin):
    """Mixed into the user admin: the `data_download` link and the view behind it."""

    def get_urls(self) -> list[URLPattern]:
        download = path(
            "<int:user_id>/data.json",
            self.admin_site.admin_view(self.data_download_view),
            name="users_telegramuser_data",
        )
        return [download, *super().get_urls()]

    def data_download_view(self, request: HttpRequest, user_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        content = user_data_json(user_id)
        if content is None:
            raise Http404("no such user")
        response = HttpResponse(content, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{export_filename(user_id)}"'
        return response

    @admin.display(description="data")
    def data_download(self, obj: TelegramUser) -> SafeString:
        url = reverse(f"{self.admin_site.name}:users_telegramuser_data", args=[obj.pk])
        return format_html('<a href="{}">Download data (JSON)</a>', url)
