"""Builds the python-telegram-bot Application: no network call here (the runtime initialises it)."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import HTTPXRequest

from .context import BotContext
from .handlers import register_handlers

# What the handlers serve; Telegram sends nothing else once the webhook is set with this list.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member", "pre_checkout_query"]


def file_base_url(api_base_url: str) -> str:
    """`http://host/bot` → `http://host/file/bot`, the way Telegram lays out its own URLs."""
    head, _, tail = api_base_url.rstrip("/").rpartition("/")
    return f"{head}/file/{tail}"


def build_application(*, token: str = "", base_url: str = "") -> Application:
    """The bot of settings (TELEGRAM_BOT_TOKEN, TELEGRAM_API_BASE_URL), or of the `token` and Bot API
    `base_url` given (the stand-in's, apps.bot.standin)."""
    token = token or settings.TELEGRAM_BOT_TOKEN
    if not token:
        raise ImproperlyConfigured("TELEGRAM_BOT_TOKEN is not set: the bot cannot answer")
    builder = (
        ApplicationBuilder()
        .token(token)
        .updater(None)
        .context_types(ContextTypes(context=BotContext))
        # Connections open lazily: the pool is sized for a paid broadcast's senders on top of replies.
        .request(
            HTTPXRequest(
                connection_pool_size=16 + settings.BROADCAST_PAID_CONCURRENCY,
                connect_timeout=5,
                read_timeout=15,
                write_timeout=15,
            )
        )
    )
    base_url = base_url or settings.TELEGRAM_API_BASE_URL
    if base_url:
        builder = builder.base_url(base_url).base_file_url(file_base_url(base_url))
    application = builder.build()
    register_handlers(application)
    return application
