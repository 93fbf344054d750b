"""A rate limit shared by every worker: Redis when configured, this process otherwise.

GCRA (generic cell rate algorithm): each call books the next free slot `1/rate` seconds after the
previous one, allowing `burst` calls at once. Calls spread evenly instead of bunching at window
edges, and the state is one number per limiter.
"""

import threading
import time

from .redis import redis_client

# Books a slot at Redis' own clock. Returns the microseconds until the slot: 0 when booked now; more
# when not booked (ask again then), or, with ARGV[3] = 1 (reserve), booked ahead all the same.
# Replies are integers: a fraction of a millisecond would come back as 0.
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + tonumber(now_parts[2]) / 1000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - now - (burst - 1) * interval
if wait > 0 and ARGV[3] == '0' then return math.ceil(wait * 1000) end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.ceil(tat + interval - now + 1000))
return math.max(0, math.floor(wait * 1000))
"""


class RateLimiter:
    def __init__(self, name: str, rate: float, *, burst: int = 1) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.name = name
        self.interval_ms = 1000.0 / rate
        self.burst = max(1, burst)
        self._lock = threading.Lock()
        self._tat = 0.0  # in-process: theoretical arrival time, monotonic milliseconds

    def wait_ms(self) -> float:
        """Book a slot if one is free now (returns 0), or say how long to wait before asking again."""
        return self._book(reserve=False)

    def reserve(self) -> float:
        """Book the next free slot, however far ahead, and return the seconds until it. Callers that
        will wait anyway (a broadcast's senders) sleep exactly that long instead of asking again and
        again, so no slot is lost to a sleep that overshoots."""
        return self._book(reserve=True) / 1000

    def _book(self, *, reserve: bool) -> float:
        """Milliseconds until the slot; booked if that is 0, or whenever `reserve`."""
        client = redis_client()
        if client is not None:
            key = f"ratelimit:{self.name}"
            return client.eval(_GCRA, 1, key, self.interval_ms, self.burst, int(reserve)) / 1000
        with self._lock:
            now = time.monotonic() * 1000
            tat = max(self._tat, now)
            wait = tat - now - (self.burst - 1) * self.interval_ms
            if wait > 0 and not reserve:
                return wait
            self._tat = tat + self.interval_ms
            return max(0.0, wait)

    def acquire(self, timeout: float | None = None) -> bool:
        """Block until a slot is booked; False if that would take longer than `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (wait := self.wait_ms()) > 0:
            if deadline is not None and time.monotonic() + wait / 1000 > deadline:
                return False
            time.sleep(wait / 1000)
        return True
