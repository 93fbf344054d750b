import time

from django.core.management.base import BaseCommand, CommandParser

from apps.analytics.services import analytics_rollups_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the analytics rollups (first time per user and event, the hourly response-time histogram, active "
        "users per day) from the raw events and the activity log: after a bulk load or a repair. Idempotent, in "
        "chunks; what is older than the oldest raw row stays."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", type=int, action="append", dest="users", help="only this user (repeatable)")

    def handle(self, *args: object, users: list[int] | None, **options: object) -> None:
        started = time.monotonic()
        rows = analytics_rollups_rebuild(user_ids=users)
        for label, count in rows.items():
            self.stdout.write(f"{label}: {count:,} rows")
        self.stdout.write(self.style.SUCCESS(f"rebuilt in {time.monotonic() - started:.1f} s"))
