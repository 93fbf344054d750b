"""The errors handlers raised while one update was processed: PTB catches them and calls the error
handler, which reports them here; the runtime collects them for the update and re-raises the first."""

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

_handler_errors: contextvars.ContextVar[list[BaseException]] = contextvars.ContextVar("handler_errors")


@contextmanager
def collected() -> Iterator[list[BaseException]]:
    """Collect what handlers report while the block runs (one update's processing)."""
    errors: list[BaseException] = []
    token = _handler_errors.set(errors)
    try:
        yield errors
    finally:
        _handler_errors.reset(token)


def report_handler_error(error: BaseException) -> None:
    """Called by the error handler: the update that raised is recorded as failed."""
    errors = _handler_errors.get(None)
    if errors is not None:
        errors.append(error)
