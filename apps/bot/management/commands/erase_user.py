from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.bot.flows.erase import SubscriptionNotCanceled, user_erase
from apps.users.models import ErasureReceipt


class Command(BaseCommand):
    help = (
        "Erase one Telegram user everywhere: what they wrote and what was read from it deleted, their ledger and "
        "payments kept under a pseudonym, a renewing subscription cancelled with Telegram first (if Telegram does "
        "not cancel it, nothing is erased and the command fails). Prints the rows per table of the erase receipt."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user_id", type=int, help="the user's Telegram id")
        parser.add_argument("--reason", help="why they are erased (required: it is kept on the receipt)")

    def handle(self, *args: object, user_id: int, reason: str | None, **options: object) -> None:
        if not (reason or "").strip():
            raise CommandError('a reason is required: --reason "..." (kept on the erase receipt)')
        try:
            receipt = user_erase(user_id, reason=reason, via=ErasureReceipt.Via.COMMAND)
        except SubscriptionNotCanceled as error:
            raise CommandError(str(error)) from error
        if receipt is None:
            self.stdout.write(f"No user {user_id}: nothing to erase (erased before, or never seen).")
            return
        for label, count in receipt.counts.items():
            self.stdout.write(f"  {label}: {count}")
        self.stdout.write(self.style.SUCCESS(f"User {user_id} erased: receipt {receipt.pk}."))
