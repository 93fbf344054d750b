from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.bot import runtime
from apps.bot.application import ALLOWED_UPDATES
from apps.bot.menu import register_commands


class Command(BaseCommand):
    help = "Point Telegram at this server's webhook (with the secret token Telegram will echo back)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url", help="public HTTPS URL of /telegram/webhook/")
        parser.add_argument("--max-connections", type=int, default=40, help="1-100, Telegram's default is 40")
        parser.add_argument("--allowed-updates", default=",".join(ALLOWED_UPDATES), help="comma-separated update types")
        parser.add_argument("--drop-pending-updates", action="store_true", help="discard updates waiting at Telegram")

    def handle(
        self,
        *args: object,
        url: str,
        max_connections: int,
        allowed_updates: str,
        drop_pending_updates: bool,
        **options: object,
    ) -> None:
        if not settings.TELEGRAM_WEBHOOK_SECRET:
            raise CommandError("TELEGRAM_WEBHOOK_SECRET is not set: the webhook would refuse every update")
        if not 1 <= max_connections <= 100:
            raise CommandError("--max-connections must be between 1 and 100")
        types = [kind.strip() for kind in allowed_updates.split(",") if kind.strip()]
        runtime.run(
            lambda application: application.bot.set_webhook(
                url=url,
                secret_token=settings.TELEGRAM_WEBHOOK_SECRET,
                allowed_updates=types,
                max_connections=max_connections,
                drop_pending_updates=drop_pending_updates,
            )
        )
        self.stdout.write(self.style.SUCCESS(f"webhook set to {url} for {', '.join(types)}"))
        runtime.run(lambda application: register_commands(application.bot))
        self.stdout.write("commands registered for the menu, per language")
