"""Telegram's flood control for the whole bot: after a 429 with retry_after, no sender anywhere sends
until that time has passed (Redis when configured, this process otherwise)."""

import threading
import time

from .redis import redis_client

_KEY = "telegram:flood-until"
# Only ever extends the wait: two 429s at once keep the longer one. The key expires after the wait.
_EXTEND = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 0
"""
_lock = threading.Lock()
_until = 0.0  # without Redis: wall-clock seconds


def flood_hold(seconds: float) -> None:
    """Telegram said "retry after `seconds`": every sender waits that long."""
    until = time.time() + seconds
    client = redis_client()
    if client is not None:
        client.eval(_EXTEND, 1, _KEY, until, int(seconds * 1000) + 1000)
        return
    global _until
    with _lock:
        _until = max(_until, until)


def flood_wait() -> float:
    """Seconds every sender must still wait (0 when free to send)."""
    client = redis_client()
    until = float(client.get(_KEY) or 0) if client is not None else _until
    return max(0.0, until - time.time())
