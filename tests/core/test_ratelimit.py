import time

import pytest

from apps.core.ratelimit import RateLimiter


def _rate_of(limiter: RateLimiter, calls: int) -> float:
    started = time.monotonic()
    for _ in range(calls):
        limiter.acquire()
    return calls / (time.monotonic() - started)


@pytest.mark.parametrize("backend", ["process", "redis"])
@pytest.mark.parametrize("limit", [50, 30])  # 30/s: an interval of 33.3 ms, not a whole number
def test_calls_are_spread_to_the_rate(backend, limit, settings, request):
    if backend == "redis":
        request.getfixturevalue("require_services")
    else:
        settings.REDIS_URL = ""
    limiter = RateLimiter(f"test-{backend}-{time.monotonic_ns()}", rate=limit, burst=1)
    rate = _rate_of(limiter, 40)
    # Never faster than the limit; a busy machine may make it slower.
    assert 0.4 * limit <= rate <= 1.1 * limit


def test_burst_goes_at_once_then_the_rate_holds(settings):
    settings.REDIS_URL = ""
    limiter = RateLimiter("burst", rate=20, burst=5)
    started = time.monotonic()
    for _ in range(5):
        limiter.acquire()
    assert time.monotonic() - started < 0.05
    assert limiter.wait_ms() > 0


def test_acquire_gives_up_after_its_timeout(settings):
    settings.REDIS_URL = ""
    limiter = RateLimiter("slow", rate=1, burst=1)
    assert limiter.acquire(timeout=0.1)
    assert not limiter.acquire(timeout=0.1)


def test_two_processes_share_the_redis_limit(require_services):
    """Two limiter objects (as in two workers) on one Redis key share one rate."""
    name = f"shared-{time.monotonic_ns()}"
    first, second = RateLimiter(name, rate=40), RateLimiter(name, rate=40)
    started = time.monotonic()
    for _ in range(20):
        first.acquire()
        second.acquire()
    assert 40 / (time.monotonic() - started) <= 45


@pytest.mark.parametrize("backend", ["process", "redis"])
def test_reservations_book_evenly_spaced_slots_ahead(backend, settings, request):
    if backend == "redis":
        request.getfixturevalue("require_services")
    else:
        settings.REDIS_URL = ""
    limiter = RateLimiter(f"reserve-{backend}-{time.monotonic_ns()}", rate=30)
    waits = [limiter.reserve() for _ in range(4)]
    assert waits[0] < 0.005, "the first slot is now"
    gaps = [later - earlier for earlier, later in zip(waits, waits[1:], strict=False)]
    assert all(0.030 <= gap <= 0.0345 for gap in gaps), gaps  # 33.3 ms apart, less the time asking took
    assert limiter.wait_ms() > 90, "the booked slots are taken"
