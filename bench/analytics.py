"""Analytics benchmark on PostgreSQL: tracking overhead, ingest rate, and the 30-day queries at scale.

- track() per call with a broker configured (validation, anonymisation, hand-off to the publisher
  thread), with no database round trip;
- ingest rate through the batch path (COPY, as the store_events task does) against single-row
  INSERTs through the ORM, in the same run;
- at 10M events over 100k users and 90 days: the funnel over 30 days against seed 002's own funnel
  SQL (it groups every event of the window by user), and hourly p50/p95 for one day.

    .venv/bin/python -m bench.analytics [--events 10000000] [--users 100000] [--days 90]

Needs PostgreSQL and Redis on 127.0.0.1; uses its own database (dropped after) and Redis db 13.
"""

import argparse
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg

from bench.common import ROOT, bench_environment, copy_users, drop_database, median_ms, recreate_database

MIX = [
    ("ai_response_time", 55),
    ("ai_dialog_started", 20),
    ("bot_started", 10),
    ("session_completed", 8),
    ("payment_completed", 2),
    ("error_occurred", 5),
]
SEED_002_FUNNEL = """
WITH funnel AS (
  SELECT user_id,
    COUNT(CASE WHEN event_name = 'ai_dialog_started' THEN 1 END) AS dialogs,
    COUNT(CASE WHEN event_name = 'payment_completed' THEN 1 END) AS bookings,
    MIN(CASE WHEN event_name = 'ai_dialog_started' THEN occurred_at END) AS first_dialog,
    MIN(CASE WHEN event_name = 'payment_completed' THEN occurred_at END) AS first_booking
  FROM analytics_analyticsevent WHERE occurred_at BETWEEN %s AND %s GROUP BY user_id)
SELECT COUNT(*), COUNT(CASE WHEN dialogs > 0 THEN 1 END), COUNT(CASE WHEN bookings > 0 THEN 1 END) FROM funnel
"""


def generate(database_url: str, *, events: int, users: int, days: int) -> datetime:
    """Users, then events with COPY; the event indexes are dropped for the load and built after."""
    rng = random.Random(2)
    now = datetime.now(UTC)
    start = now - timedelta(days=days)
    names = [name for name, weight in MIX for _ in range(weight)]
    from apps.analytics.partitions import event_partitions_ensure
    from apps.core.partitions import index_definition

    event_partitions_ensure(first=start, last=now)  # each month loaded has its partition, as in production
    with psycopg.connect(database_url, autocommit=True) as connection, connection.cursor() as cursor:
        copy_users(cursor, users, start)
        indexes = cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = "
            "'analytics_analyticsevent' AND indexname NOT LIKE '%%pkey'"
        ).fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        span = days * 86400
        with cursor.copy(
            "COPY analytics_analyticsevent (event_name, user_id, session_id, properties, occurred_at, "
            "platform) FROM STDIN"
        ) as copy:
            for _ in range(events):
                name = rng.choice(names)
                moment = start + timedelta(seconds=rng.random() * span)
                properties = (
                    f'{{"duration_ms": {rng.randint(300, 12000)}, "model_used": "gpt-4o-mini"}}'
                    if name == "ai_response_time"
                    else "{}"
                )
                copy.write(f"{name}\t{rng.randint(1, users)}\t\t{properties}\t{moment.isoformat()}\ttelegram\n")
        for _, definition in indexes:  # on the partitioned table, and so on each partition
            cursor.execute(index_definition(definition))
        # Index-only scans need the visibility map that autovacuum keeps in production.
        cursor.execute("VACUUM ANALYZE analytics_analyticsevent")
    return now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/botdesk_bench_events")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    env = bench_environment(database_url, redis_url)
    os.environ.update(env)
    recreate_database(database_url)
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        import django

        django.setup()
        from django.db import connection

        from apps.analytics.models import AnalyticsEvent
        from apps.analytics.selectors import funnel, response_times
        from apps.analytics.services import events_flush, events_store, track

        # track(): the caller's cost only (the publisher thread ships the events meanwhile).
        calls = 20_000
        started = time.perf_counter()
        for n in range(calls):
            track(
                "ai_response_time",
                user_id=n % 1000,
                properties={"duration_ms": n, "model_used": "m", "email": "someone@example.com"},
            )
        per_call_us = (time.perf_counter() - started) / calls * 1e6
        events_flush(60)
        print(f"track(): {per_call_us:.1f} us per call (validation, HMAC of a sensitive property, hand-off)")

        # Ingest: the batch path (COPY in batches of 1,000) against single-row INSERT + commit.
        now_iso = datetime.now(UTC).isoformat()
        batch = [
            {
                "event_name": "bot_started",
                "user_id": None,
                "session_id": "",
                "properties": {"is_new": True},
                "occurred_at": now_iso,
            }
            for _ in range(1000)
        ]
        started = time.perf_counter()
        for _ in range(50):
            events_store(batch)
        batch_rate = 50_000 / (time.perf_counter() - started)
        started = time.perf_counter()
        for _ in range(3000):
            AnalyticsEvent.objects.create(event_name="bot_started", properties={"is_new": True})
        single_rate = 3000 / (time.perf_counter() - started)
        print(
            f"ingest: batch path {batch_rate:,.0f} events/s, single-row INSERT {single_rate:,.0f} events/s "
            f"({batch_rate / single_rate:.0f}x)"
        )
        connection.close()

        started = time.perf_counter()
        now = generate(database_url, events=args.events, users=args.users, days=args.days)
        print(
            f"generated {args.events:,} events over {args.users:,} users and {args.days} days in "
            f"{time.perf_counter() - started:.0f} s (COPY, indexes built after)"
        )

        window = (now - timedelta(days=30), now)
        steps = ["bot_started", "ai_dialog_started", "payment_completed"]
        ours_ms, ours = median_ms(funnel, steps, *window)
        with connection.cursor() as cursor:

            def seed_funnel() -> tuple:
                cursor.execute(SEED_002_FUNNEL, window)
                return cursor.fetchone()

            seed_ms, seed = median_ms(seed_funnel)
        day = (now - timedelta(days=2), now - timedelta(days=1))
        latency_ms, buckets = median_ms(response_times, *day, "hour")
        print(
            f"\n30-day funnel ({' > '.join(steps)}): {ours_ms:.0f} ms, users per step "
            f"{[row['users'] for row in ours]}; seed 002's SQL {seed_ms:.0f} ms (it groups every event of the "
            f"window by user: {seed[0]:,} users); ours is {seed_ms / ours_ms:.1f}x faster"
        )
        print(
            f"hourly p50/p95 for one day: {latency_ms:.1f} ms ({len(buckets)} buckets, "
            f"{sum(b['count'] for b in buckets):,} responses)"
        )
        targets = [
            ("track() <= 50 us", per_call_us <= 50),
            (">= 40,000 events/s through the batch path", batch_rate >= 40_000),
            ("30-day funnel <= 300 ms", ours_ms <= 300),
            ("30-day funnel >= 3x faster than seed 002's SQL", seed_ms >= 3 * ours_ms),
            ("hourly p50/p95 for a day <= 50 ms", latency_ms <= 50),
        ]
        for label, met in targets:
            print(f"  [{'met' if met else 'MISSED'}] {label}")
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(database_url)
        subprocess.run(["redis-cli", "-u", redis_url, "flushdb"], check=False, capture_output=True)


if __name__ == "__main__":
    main()
