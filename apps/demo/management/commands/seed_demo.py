from django.core.management.base import BaseCommand, CommandParser

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
