"""Broadcast benchmark: 10,000 recipients against a fake Bot API that enforces Telegram's 30 messages/s.

- Botdesk: two broadcasts of 5,000 users each, started at once, sent by two real Celery workers that
  share one rate limit through Redis. Figures: sustained rate as a share of the limit (the baseline,
  enforced by the fake in this run), 429s provoked, duplicates and missing recipients.
- Baseline sender, same run: what a plain loop over send_message does (no pacing; a 429 drops the
  message), on 300 recipients.

    .venv/bin/python -m bench.broadcast [--users 10000] [--limit 30]

Needs PostgreSQL and Redis on 127.0.0.1 (BENCH_DATABASE_URL, BENCH_REDIS_URL to override); uses its
own database, dropped after, and Redis database 13, flushed.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime

import psycopg
import redis
from telegram import Bot
from telegram.error import RetryAfter
from telegram.request import HTTPXRequest

from bench.common import ROOT, bench_environment, copy_users, drop_database, recreate_database
from tests.fakes.telegram import FakeBotAPI
from tests.workers import WorkerProcess

TOKEN = "123456:BENCH"


def prepare(database_url: str, users: int) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection, connection.cursor() as cursor:
        copy_users(cursor, users, datetime.now(UTC))
        cursor.execute("UPDATE users_telegramuser SET gender = CASE WHEN id % 2 = 0 THEN 'female' ELSE 'male' END")


def run_botdesk(fake: FakeBotAPI, users: int) -> dict[str, float]:
    import django

    django.setup()
    from apps.broadcast.models import Broadcast
    from apps.broadcast.services import broadcast_start

    broadcasts = [
        Broadcast.objects.create(title=f"bench {gender}", text="<b>Hello</b> from the bench", gender=gender)
        for gender in ("male", "female")
    ]
    started = time.monotonic()
    for broadcast in broadcasts:
        broadcast_start(broadcast.pk)
    while Broadcast.objects.filter(pk__in=[b.pk for b in broadcasts]).exclude(status="done").exists():
        time.sleep(2)
        if (elapsed := time.monotonic() - started) > 60 and int(elapsed) % 60 < 2:
            accepted = sum(1 for call in fake.calls_to("sendMessage") if call.status == 200)
            print(f"  … {elapsed:.0f} s: {accepted:,} delivered", flush=True)
    return figures(fake, users)


def figures(fake: FakeBotAPI, users: int) -> dict[str, float]:
    calls = fake.calls_to("sendMessage")
    accepted = [call for call in calls if call.status == 200]
    received = Counter(int(call.params["chat_id"]) for call in accepted)
    span = accepted[-1].at - accepted[0].at if len(accepted) > 1 else 0.0
    attempted_span = calls[-1].at - calls[0].at if len(calls) > 1 else 0.0
    return {
        "attempted": (len(calls) - 1) / attempted_span if attempted_span else 0.0,
        "sent": len(accepted),
        "rate": (len(accepted) - 1) / span if span else 0.0,
        "flood": sum(1 for call in calls if call.status == 429),
        "duplicates": sum(count - 1 for count in received.values()),
        "missing": users - len(received),
        "seconds": span,
    }


def per_window(fake: FakeBotAPI, seconds: float) -> list[int]:
    accepted = [call.at for call in fake.calls_to("sendMessage") if call.status == 200]
    counts = Counter(int((at - accepted[0]) // seconds) for at in accepted)
    return [counts.get(n, 0) for n in range(max(counts) + 1)]


async def naive_loop(base_url: str, recipients: int) -> None:
    """A loop over send_message with no pacing; a 429 loses the message."""
    bot = Bot(TOKEN, base_url=base_url, request=HTTPXRequest(connection_pool_size=8))
    async with bot:
        for chat_id in range(1, recipients + 1):
            try:
                await bot.send_message(chat_id, "Hello from the baseline")
            except RetryAfter:
                pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=30, help="messages per second the fake Bot API allows")
    parser.add_argument("--slice", type=int, default=120, help="BROADCAST_SLICE_SECONDS: one task's share")
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/botdesk_bench_broadcast")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    redis.Redis.from_url(redis_url).flushdb()
    fake = FakeBotAPI().start()
    fake.limit_rate(args.limit)
    env = bench_environment(
        database_url,
        redis_url,
        TELEGRAM_API_BASE_URL=fake.base_url,
        BROADCAST_RATE=str(args.limit),
        BROADCAST_SLICE_SECONDS=str(args.slice),
    )
    os.environ.update(env)
    recreate_database(database_url)
    workers: list[WorkerProcess] = []
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        prepare(database_url, args.users)

        asyncio.run(naive_loop(fake.base_url, 300))
        naive = figures(fake, 300)
        time.sleep(1.5)  # the fake's window empties
        fake.reset()
        fake.limit_rate(args.limit)

        workers = [WorkerProcess(env) for _ in range(2)]
        print(f"sending {args.users:,} messages (two broadcasts, two workers) at a limit of {args.limit}/s …")
        ours = run_botdesk(fake, args.users)
        print(f"\nfake Bot API limit: {args.limit} messages/s in any one-second window (429 above it)")
        print(
            f"  baseline loop: {naive['attempted']:,.0f} msg/s attempted, {naive['sent']}/300 delivered, "
            f"{naive['flood']} lost to 429"
        )
        print(
            f"  Botdesk: {ours['rate']:.1f} msg/s sustained ({ours['rate'] / args.limit:.1%} of the limit), "
            f"{ours['sent']:,}/{args.users:,} delivered, 429s {ours['flood']:,} ({ours['flood'] / args.users:.2%}), "
            f"duplicates {ours['duplicates']}, missing {ours['missing']}"
        )
        print(f"  Botdesk took {ours['seconds']:.0f} s from first to last message")
        print("  delivered per 10 s:", " ".join(str(n) for n in per_window(fake, 10)))
        targets = [
            ("≥ 95% of the limit", ours["rate"] >= 0.95 * args.limit),
            ("0 duplicates", ours["duplicates"] == 0),
            ("0 missing", ours["missing"] == 0),
            ("429s ≤ 0.1% of messages", ours["flood"] <= 0.001 * args.users),
        ]
        for label, met in targets:
            print(f"  [{'met' if met else 'MISSED'}] {label}")
    finally:
        for worker in workers:
            worker.stop()
        from django.db import connections

        connections.close_all()
        drop_database(database_url)
        fake.stop()


if __name__ == "__main__":
    main()
