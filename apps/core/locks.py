"""One run at a time for periodic jobs, across every worker: a lock in the shared cache (Redis)."""

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

from django.core.cache import cache

logger = logging.getLogger(__name__)
T = TypeVar("T")


@contextmanager
def held(name: str, timeout: int) -> Iterator[bool]:
    """Yields whether this caller holds the lock. cache.add is atomic (SET NX on Redis); the lock
    expires by itself after `timeout` seconds if its holder dies."""
    key, token = f"lock:{name}", uuid.uuid4().hex
    acquired = cache.add(key, token, timeout)
    try:
        yield acquired
    finally:
        if acquired and cache.get(key) == token:
            cache.delete(key)


def single_run(name: str, timeout: int = 3600) -> Callable[[Callable[..., T]], Callable[..., T | None]]:
    """A job wrapped so that a second copy started meanwhile does nothing (and returns None)."""

    def decorate(job: Callable[..., T]) -> Callable[..., T | None]:
        @wraps(job)
        def run(*args: Any, **kwargs: Any) -> T | None:
            with held(name, timeout) as acquired:
                if not acquired:
                    logger.info("%s is already running elsewhere: skipped", name)
                    return None
                return job(*args, **kwargs)

        return run

    return decorate
