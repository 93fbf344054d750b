"""Billing benchmark on PostgreSQL: settled charges per second and bytes per ledger operation.

- A settled charge is what every paid answer does: reserve the most it can cost, then settle
  (release the hold, charge the actual cost), each a locked, idempotent ledger operation.
  Measured from 16 worker processes across 1,000 users, and with all 16 on one hot user.
- Bytes per Operation row including its indexes, at 1M rows of a realistic mix, and what 1 GB holds.

    .venv/bin/python -m bench.billing [--workers 16] [--charges 200] [--rows 1000000]

Needs PostgreSQL on 127.0.0.1 (BENCH_DATABASE_URL to override); uses its own database, dropped after.
"""

import argparse
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg

from bench.common import (
    ROOT,
    bench_environment,
    copy_users,
    drop_database,
    fund_users,
    recreate_database,
    run_in_pool,
)

USERS = 1000


def charge_worker(args: tuple[int, int, int | None, int]) -> int:
    """`charges` settled charges, each on its own LLM request id; on `hot_user` or random users."""
    worker, charges, hot_user, first_request = args
    from decimal import Decimal

    from apps.billing.services import billing_reserve, billing_settle

    rng = random.Random(worker)
    for n in range(charges):
        request_id = first_request + worker * charges + n
        user = hot_user or rng.randint(1, USERS)
        reserve = billing_reserve(user_id=user, amount=Decimal("0.2"))
        billing_settle(reserve=reserve, charge=Decimal("0.12"), llm_request_id=request_id)
    return charges


def prepare(database_url: str, requests: int) -> None:
    """1,000 users with a large balance (a bonus each, so the ledger holds) and LLM requests to charge."""
    now = datetime.now(UTC)
    with psycopg.connect(database_url) as connection, connection.cursor() as cursor:
        copy_users(cursor, USERS, now)
        fund_users(cursor, 1_000_000)
        with cursor.copy(
            "COPY llm_llmrequest (user_id, request_type, provider, model, latency_ms, status, attempts, "
            "error_message, prompt_text, response_text, created_at) FROM STDIN"
        ) as copy:
            for _ in range(requests):
                copy.write_row((1, "chat", "openai", "gpt-4o-mini", 900, "success", 1, "", "", "", now))


def run_charges(workers: int, charges: int, hot_user: int | None, first_request: int) -> float:
    arguments = [(w, charges, hot_user, first_request) for w in range(workers)]
    return workers * charges / run_in_pool(workers, charge_worker, arguments)


def operation_bytes(database_url: str, rows: int) -> dict:
    from apps.billing.services import idempotency_hash

    """Fill the ledger to `rows` with a realistic mix (per answer: reserve, release, generation) and measure."""
    now = datetime.now(UTC)
    rng = random.Random(5)
    with psycopg.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM billing_operation")
        have = cursor.fetchone()[0]
        with cursor.copy(
            "COPY billing_operation (user_id, type, amount, balance_after, model, result_url, prompt, "
            "idempotency_key, llm_request_id, reason, created_at) FROM STDIN"
        ) as copy:
            for n in range(rows - have):
                kind = (6, 7, 2)[n % 3]
                amount = {6: "-0.2000", 7: "0.2000", 2: f"-{rng.randint(1, 1999) / 10000:.4f}"}[kind]
                key = None if kind == 6 else idempotency_hash(f"fill-{kind}:{n}")
                copy.write_row(
                    (
                        rng.randint(1, USERS),
                        kind,
                        amount,
                        f"{rng.randint(0, 99999999) / 10000:.4f}",
                        "gpt-4o-mini" if kind == 2 else "",
                        "",
                        "",
                        key,
                        None,
                        "",
                        now - timedelta(seconds=n),
                    )
                )
        connection.commit()
        connection.autocommit = True
        cursor.execute("VACUUM ANALYZE billing_operation")
        cursor.execute(
            "SELECT pg_total_relation_size('billing_operation'), pg_relation_size('billing_operation'), "
            "(SELECT count(*) FROM billing_operation)"
        )
        total, table, count = cursor.fetchone()
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index "
            "WHERE indrelid = 'billing_operation'::regclass ORDER BY 2 DESC"
        )
        indexes = cursor.fetchall()
    return {"rows": count, "total": total / count, "table": table / count, "indexes": indexes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--charges", type=int, default=200, help="settled charges per worker and scenario")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/botdesk_bench_billing")
    env = bench_environment(database_url)
    os.environ.update(env)
    recreate_database(database_url)
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        prepare(database_url, requests=2 * args.workers * args.charges)
        across = run_charges(args.workers, args.charges, None, first_request=1)
        # The hot user's charges take the LLM request ids after the first scenario's.
        hot = run_charges(args.workers, args.charges, 1, first_request=1 + args.workers * args.charges)
        print(
            f"settled charges (reserve + release + generation, each locked and idempotent), {args.workers} processes:"
        )
        print(f"  across {USERS:,} users: {across:,.0f} charges/s")
        print(f"  on one hot user:    {hot:,.0f} charges/s (its balance row serialises them)")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("verify_ledger")
        sizes = operation_bytes(database_url, args.rows)
        print(
            f"\nledger at {sizes['rows']:,} operations: {sizes['total']:.0f} bytes per operation "
            f"({sizes['table']:.0f} table + {sizes['total'] - sizes['table']:.0f} indexes); "
            f"1 GB holds {1024**3 / sizes['total'] / 1e6:.1f}M operations"
        )
        for name, size in sizes["indexes"]:
            print(f"  {name:40} {size / sizes['rows']:6.1f} bytes per row")
        targets = [
            ("≥ 1,000 settled charges/s across users", across >= 1000),
            ("≤ 160 bytes per operation", sizes["total"] <= 160),
        ]
        for label, met in targets:
            print(f"  [{'met' if met else 'MISSED'}] {label}")
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(database_url)


if __name__ == "__main__":
    main()
