from decimal import Decimal


class BillingError(Exception):
    """A ledger rule refused the operation; nothing was changed."""


class InsufficientBalance(BillingError):
    def __init__(self, *, user_id: int, balance: Decimal, needed: Decimal) -> None:
        super().__init__(f"user {user_id} has {balance}, needs {needed}")
        self.user_id = user_id
        self.balance = balance
        self.needed = needed


class RefundRefused(BillingError):
    pass
