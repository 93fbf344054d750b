"""The project's one Redis client (REDIS_URL): rate limits, the bot-wide flood hold, health."""

from functools import cache

import redis
from django.conf import settings


@cache
def _redis_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def redis_client() -> redis.Redis | None:
    """The project's shared Redis client (REDIS_URL), or None without one."""
    return _redis_for(settings.REDIS_URL) if settings.REDIS_URL else None
