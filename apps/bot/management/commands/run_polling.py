import logging
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from telegram.error import TelegramError

from apps.bot import runtime
from apps.bot.application import ALLOWED_UPDATES
from apps.bot.menu import register_commands
from apps.bot.services import inbox_flush_enqueued, inbox_receive

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Fetch updates with getUpdates (development without a public URL). Same inbox, same handlers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=int, default=30, help="long-poll timeout in seconds")
        parser.add_argument("--once", action="store_true", help="poll once and exit")

    def handle(self, *args: object, timeout: int, once: bool, **options: object) -> None:
        # getUpdates is refused while a webhook is set.
        runtime.run(lambda application: application.bot.delete_webhook())
        runtime.run(lambda application: register_commands(application.bot))
        self.stdout.write("polling for updates; Ctrl+C stops")
        offset: int | None = None
        while True:
            try:
                updates = runtime.run(
                    lambda application, offset=offset: application.bot.get_updates(
                        offset=offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES
                    )
                )
            except TelegramError as error:
                if once:
                    raise CommandError(f"getUpdates failed: {error}") from error
                logger.warning("getUpdates failed: %s; retrying in 5 s", error)
                time.sleep(5)
                continue
            for update in updates:
                inbox_receive(payload=update.to_dict())
                offset = update.update_id + 1
            if once:
                # Without a broker they are processed in this process's processing thread: let it finish.
                inbox_flush_enqueued(timeout=60)
                self.stdout.write(f"{len(updates)} update(s) received")
                return
