from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from apps.billing.revenue import GROUPINGS, revenue_rows
from apps.core.money import usd_text
from apps.demo.population import demo_seed


class Command(BaseCommand):
    help = "Replace the demo population (its own id range) with a fresh one; real users are untouched."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, default=300)
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--seed", type=int, default=7, help="random seed: the same seed, the same people")

    def handle(self, *args: object, users: int, days: int, seed: int, **options: object) -> None:
        stats = demo_seed(users=users, days=days, seed=seed)
        self.stdout.write(
            self.style.SUCCESS(
                f"demo data: {stats.users} users, {stats.activities} activity rows, {stats.events} events, "
                f"{stats.llm_requests} LLM requests, {stats.sessions} sessions, {stats.operations} ledger operations, "
                f"{stats.payments} payments, {stats.profiles} profiles, {stats.on_journey} on the hero's journey"
            )
        )
        # What the dashboard shows for the last 30 days (every user's, not only the demo's).
        now = timezone.now()
        days_rows = revenue_rows(now - timedelta(days=30), now, GROUPINGS["day"])
        earned = sum((row["earned_revenue"] for row in days_rows), Decimal(0))
        cost = sum((row["llm_cost"] for row in days_rows), Decimal(0))
        self.stdout.write(
            f"last 30 days: earned {usd_text(earned)}, LLM cost {usd_text(cost)}, margin {usd_text(earned - cost)}"
        )
