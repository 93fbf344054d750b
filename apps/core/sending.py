"""What the domain knows of a message Telegram did not take, whoever sent it: the bot's gateway turns
python-telegram-bot's errors into these, so the apps below the bot decide without importing it."""

# The Bot API's limits, in UTF-16 code units as Telegram counts.
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


class SendFailed(Exception):
    """The message was not confirmed; a subclass says what is known. Plain: it certainly did not
    reach Telegram (a refused connection, a 5xx), so sending it again is safe."""


class RetryAfter(SendFailed):
    """Telegram's flood control (429): nothing is to be sent for `seconds`."""

    def __init__(self, message: str, *, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


class Blocked(SendFailed):
    """403: the user blocked the bot (or never started it)."""


class Rejected(SendFailed):
    """400: the same request would be refused again."""


class Unconfirmed(SendFailed):
    """No answer in time after the request left: Telegram may have delivered it."""
