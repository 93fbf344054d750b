"""A Telegram gateway (for the TELEGRAM_GATEWAY setting) with a bug of our own: the refund fails
before any request, with an error that is not Telegram's answer."""


def refund_star_payment(*, user_id: int, charge_id: str) -> None:
    raise RuntimeError("a bug in the gateway")
