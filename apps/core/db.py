"""Database connections that died.

PostgreSQL restarts and fails over, and every connection to it dies with it. psycopg's pool checks a
connection before handing it out (CONN_HEALTH_CHECKS in the settings), so only a connection that dies
while it is in use fails a query; these helpers let a caller that may safely start over do so, on a
fresh connection, at once and not after minutes.
"""

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

T = TypeVar("T")

# What a connection that died raises (and also a lock or statement timeout, a deadlock, SQLite's
# "database is locked": all of them worth a prompt second try).
CONNECTION_ERRORS = (OperationalError, InterfaceError)


def connection_lost(error: BaseException | None) -> bool:
    """Whether `error`, or an error it was raised from or during, is one of CONNECTION_ERRORS."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, CONNECTION_ERRORS):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def drop_dead_connection() -> bool:
    """After a database error in this thread: when its connection no longer works and no transaction
    holds it, let it go (the next query takes a checked one from the pool) and return True, so the
    caller may try again. False: the connection works (the error was something else) or a transaction
    is open (its work died with the connection; only the code that opened it can start over)."""
    if connection.in_atomic_block or connection.is_usable():
        return False
    connection.close()
    return True


def on_fresh_connection(work: Callable[[], T], *, delays: Sequence[float] = (0,)) -> T:
    """`work()`; when this thread's connection died under it, again on a fresh connection after each of
    `delays` seconds (PostgreSQL may still be starting). Anything else, and the last failure, raise."""
    for delay in delays:
        try:
            return work()
        except CONNECTION_ERRORS:
            if not drop_dead_connection():
                raise
        time.sleep(delay)
    return work()
