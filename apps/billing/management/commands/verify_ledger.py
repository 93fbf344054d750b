from django.core.management.base import BaseCommand, CommandError

from apps.billing.selectors import ledger_mismatches


class Command(BaseCommand):
    help = "Check for every user that the balance equals the sum of their operations."

    def handle(self, *args: object, **options: object) -> None:
        checked, mismatches = ledger_mismatches()
        for mismatch in mismatches:
            self.stdout.write(
                self.style.ERROR(
                    f"user {mismatch['user_id']}: balance {mismatch['balance']} != operations {mismatch['operations']}"
                )
            )
        if mismatches:
            raise CommandError(f"{len(mismatches)} of {checked} users inconsistent")
        self.stdout.write(self.style.SUCCESS(f"{checked} users consistent: balance == sum of operations"))
