from django.core.management.base import BaseCommand, CommandParser

from apps.bot import runtime


class Command(BaseCommand):
    help = "Stop Telegram from calling the webhook."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--drop-pending-updates", action="store_true", help="discard updates waiting at Telegram")

    def handle(self, *args: object, drop_pending_updates: bool, **options: object) -> None:
        runtime.run(lambda application: application.bot.delete_webhook(drop_pending_updates=drop_pending_updates))
        self.stdout.write(self.style.SUCCESS("webhook deleted"))
