from decimal import Decimal

from apps.core.money import CREDIT_PLACES, amount_text


class BillingError(Exception):
    """A ledger rule refused the operation; nothing was changed."""


class InsufficientBalance(BillingError):
    def __init__(self, *, user_id: int, balance: Decimal, needed: Decimal) -> None:
        # Read by staff (the admin's adjustment form) and in logs: "has 10, needs 11.5", not "10.0000".
        has, needs = amount_text(balance, CREDIT_PLACES), amount_text(needed, CREDIT_PLACES)
        super().__init__(f"user {user_id} has {has} credits, needs {needs}")
        self.user_id = user_id
        self.balance = balance
        self.needed = needed


class RefundRefused(BillingError):
    pass


class DiscrepancyRefused(BillingError):
    """A reconciliation discrepancy does not offer that resolution (a payment that cannot be credited, say)."""
