"""Usage metering benchmark on PostgreSQL: 1M LLM requests over 10k users and 90 days.

- record_usage calls per second (request row + both rollups, durable) from 8 worker processes;
- the seed-000 selectors (read from the rollups) against the same answers computed by GROUP BY
  over the raw request rows, in the same run, and checked to agree.

    .venv/bin/python -m bench.usage [--rows 1000000] [--users 10000] [--days 90] [--workers 8] [--calls 500]

Needs PostgreSQL on 127.0.0.1 (BENCH_DATABASE_URL to override); uses its own database, dropped after.
"""

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

import psycopg

from bench.common import (
    ROOT,
    bench_environment,
    copy_users,
    drop_database,
    median_ms,
    recreate_database,
    run_in_pool,
)

MODELS = ["gpt-4o-mini", "gpt-4.1-mini", "gpt-4o"]


def generate(database_url: str, *, rows: int, users: int, days: int, seed: int = 1) -> date:
    """Users and raw requests with COPY, then the rollups by GROUP BY (what live upserts would give)."""
    rng = random.Random(seed)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days - 1)
    with psycopg.connect(database_url) as connection:
        with connection.cursor() as cursor:
            copy_users(cursor, users, start)
            buffer = io.StringIO()
            for _ in range(rows):
                user = rng.randint(1, users)
                moment = start + timedelta(seconds=rng.randint(0, days * 86400 - 1))
                prompt, completion = rng.randint(50, 3000), rng.randint(10, 600)
                cost = f"{(prompt * 0.15 + completion * 0.6) / 1e6:.8f}"
                buffer.write(
                    f"{user}\tchat\topenai\t{rng.choice(MODELS)}\t{prompt}\t{completion}\t"
                    f"{prompt + completion}\t{cost}\t{rng.randint(300, 9000)}\tsuccess\t1\t\t\t\t"
                    f"{moment.isoformat()}\n"
                )
            buffer.seek(0)
            with cursor.copy(
                "COPY llm_llmrequest (user_id, request_type, provider, model, prompt_tokens, "
                "completion_tokens, total_tokens, cost, latency_ms, status, attempts, error_message, "
                "prompt_text, response_text, created_at) FROM STDIN"
            ) as copy:
                while chunk := buffer.read(1 << 20):
                    copy.write(chunk)
            cursor.execute("""
                INSERT INTO analytics_dailyusage (user_id, date, requests, errors, prompt_tokens, completion_tokens,
                                                  total_tokens, cost, models, providers)
                SELECT user_id, day, SUM(n), SUM(e), SUM(p), SUM(c), SUM(t), SUM(cost),
                       jsonb_object_agg(model, n), jsonb_build_object('openai', SUM(n))
                FROM (SELECT user_id, (created_at AT TIME ZONE 'UTC')::date AS day, model, COUNT(*) AS n,
                             COUNT(*) FILTER (WHERE status <> 'success') AS e, SUM(prompt_tokens) AS p,
                             SUM(completion_tokens) AS c, SUM(total_tokens) AS t, SUM(cost) AS cost
                      FROM llm_llmrequest GROUP BY 1, 2, 3) per_model
                GROUP BY user_id, day""")
            cursor.execute("""
                INSERT INTO analytics_userusagesummary (user_id, total_requests, total_errors, prompt_tokens,
                    completion_tokens, total_tokens, total_cost, total_latency_ms, last_activity)
                SELECT user_id, COUNT(*), COUNT(*) FILTER (WHERE status <> 'success'), SUM(prompt_tokens),
                       SUM(completion_tokens), SUM(total_tokens), SUM(cost), SUM(latency_ms), MAX(created_at)
                FROM llm_llmrequest GROUP BY user_id""")
            cursor.execute("ANALYZE")
    return (today - timedelta(days=days // 2)).date()


def record_worker(args: tuple[int, int, int]) -> float:
    """One worker process: `calls` record_usage calls for random users; returns its own seconds."""
    worker, calls, users = args
    from decimal import Decimal

    from apps.analytics.services import record_usage

    rng = random.Random(worker)
    started = time.perf_counter()
    for _ in range(calls):
        prompt, completion = rng.randint(50, 3000), rng.randint(10, 600)
        assert (
            record_usage(
                rng.randint(1, users),
                "bench",
                prompt + completion,
                prompt_tokens=prompt,
                completion_tokens=completion,
                cost=Decimal("0.00012345"),
                model=rng.choice(MODELS),
                provider="openai",
                latency_ms=800,
            )
            is not None
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--calls", type=int, default=500, help="record_usage calls per worker")
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/botdesk_bench_usage")
    env = bench_environment(database_url)
    os.environ.update(env)
    recreate_database(database_url)
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        started = time.perf_counter()
        day = generate(database_url, rows=args.rows, users=args.users, days=args.days)
        print(
            f"generated {args.rows:,} requests over {args.users:,} users and {args.days} days "
            f"in {time.perf_counter() - started:.0f} s"
        )

        elapsed = run_in_pool(args.workers, record_worker, [(n, args.calls, args.users) for n in range(args.workers)])
        calls = args.workers * args.calls
        print(
            f"record_usage: {calls / elapsed:,.0f} calls/s ({calls:,} calls from {args.workers} processes, "
            f"{elapsed:.1f} s, each one request row + two rollup upserts, committed)"
        )

        import django

        django.setup()
        from django.db.models import Count, F, Sum
        from django.db.models.functions import Coalesce

        from apps.analytics import selectors
        from apps.llm.models import LLMRequest

        # The same answers by GROUP BY over the raw request rows, through the same ORM, so both sides
        # pay the same Python costs and the difference is what the rollups save.
        day_start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        that_day = {"created_at__gte": day_start, "created_at__lt": day_start + timedelta(days=1)}

        def raw_daily(user: int) -> int:
            return LLMRequest.objects.filter(user_id=user, **that_day).aggregate(t=Coalesce(Sum("total_tokens"), 0))[
                "t"
            ]

        def raw_total(user: int) -> int:
            return LLMRequest.objects.filter(user_id=user).aggregate(t=Coalesce(Sum("total_tokens"), 0))["t"]

        def raw_by_date() -> list[dict]:
            return list(
                LLMRequest.objects.filter(**that_day)
                .values("user_id")
                .annotate(
                    username=F("user__username"),
                    requests=Count("id"),
                    prompt_tokens=Sum("prompt_tokens"),
                    completion_tokens=Sum("completion_tokens"),
                    total_tokens=Sum("total_tokens"),
                    cost=Sum("cost"),
                )
                .order_by("-total_tokens", "user_id")
            )

        user = random.Random(3).randint(1, args.users)
        rows = [
            (
                "get_user_daily_usage",
                median_ms(selectors.get_user_daily_usage, user, day, repeat=30),
                median_ms(raw_daily, user, repeat=30),
            ),
            (
                "get_user_total_usage",
                median_ms(selectors.get_user_total_usage, user, repeat=30),
                median_ms(raw_total, user, repeat=30),
            ),
            (
                "get_all_users_usage_by_date",
                median_ms(selectors.get_all_users_usage_by_date, day, repeat=10),
                median_ms(raw_by_date, repeat=10),
            ),
        ]
        print(f"\nselectors on {day} for user {user} (median ms; rollups vs GROUP BY over raw rows):")
        print(f"{'':30}{'rollups':>10}{'raw':>10}{'speed-up':>10}  answers")
        for name, (fast_ms, fast_answer), (raw_ms, raw_answer) in rows:
            agree = fast_answer == raw_answer
            answer = f"{len(fast_answer):,} users" if isinstance(fast_answer, list) else f"{fast_answer:,} tokens"
            print(
                f"{name:30}{fast_ms:10.2f}{raw_ms:10.2f}{raw_ms / fast_ms:9.1f}x  {answer}, "
                f"{'agree' if agree else 'DISAGREE'}"
            )
        # Where the time goes: the database's own execution time for each side (EXPLAIN ANALYZE), apart
        # from turning thousands of result rows into Python objects, which both sides pay alike.
        from django.db import connection

        def database_ms(queryset) -> float:
            sql, params = queryset.query.sql_with_params()
            with connection.cursor() as cursor:
                timings = []
                for _ in range(5):
                    cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
                    timings.append(cursor.fetchone()[0][0]["Execution Time"])
            return statistics.median(timings)

        from apps.llm.models import DailyUsage

        rollup_query = DailyUsage.objects.filter(date=day).values("user_id", "total_tokens", "user__username")
        raw_query = LLMRequest.objects.filter(**that_day).values("user_id").annotate(t=Sum("total_tokens"))
        rollup_db, raw_db = database_ms(rollup_query), database_ms(raw_query)
        print(f"{'  database time only':30}{rollup_db:10.2f}{raw_db:10.2f}{raw_db / rollup_db:9.1f}x")
        targets = [
            ("record_usage >= 1,000 calls/s from 8 workers", calls / elapsed >= 1000),
            ("per-user selectors <= 2 ms", rows[0][1][0] <= 2 and rows[1][1][0] <= 2),
            ("get_all_users_usage_by_date <= 30 ms", rows[2][1][0] <= 30),
            ("get_all_users_usage_by_date >= 10x the raw GROUP BY", rows[2][2][0] >= 10 * rows[2][1][0]),
        ]
        for label, met in targets:
            print(f"  [{'met' if met else 'MISSED'}] {label}")
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(database_url)


if __name__ == "__main__":
    main()
