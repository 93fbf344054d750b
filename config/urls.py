from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.bot.views import telegram_webhook, tracked_link
from config.health import healthz

urlpatterns = [
    # The bot has no site of its own: its address opens the staff dashboard (the admin's login first).
    path("", RedirectView.as_view(pattern_name="admin:dashboard"), name="home"),
    # Browsers ask for it on every page that names no icon (the API's, /healthz). Looked up when asked: the
    # manifest of hashed names is read at the first request, not at import.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("bot/favicon.svg")), name="favicon"),
    path("admin/", admin.site.urls),
    path("telegram/webhook/", telegram_webhook, name="telegram-webhook"),
    path("go/<slug:slug>", tracked_link, name="tracked-link"),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("healthz", healthz, name="healthz"),
]
