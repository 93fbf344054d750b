"""Webhook benchmark: acknowledgements per second and p50/p99 latency under 32 concurrent clients.

The webhook is served the way production serves it (README's gunicorn command: gthread, 4 workers of
2 threads on this 2-core box; PostgreSQL, Redis as the broker)
and measured against two baselines served by the same gunicorn in the same run:

- bare:   a view that returns 200 and does nothing (Django + gunicorn's own cost);
- insert: a view that does one durable INSERT of the parsed body through the ORM (the floor
          cost of acknowledging an update durably).

Rounds are interleaved (bare, insert, webhook, bare, ...) and the median round is reported. After
the run it checks that every acknowledged update is in the inbox.

    .venv/bin/python -m bench.webhook [--duration 10] [--rounds 3] [--connections 32]

Needs PostgreSQL and Redis on 127.0.0.1 (override with BENCH_DATABASE_URL, BENCH_REDIS_URL) and
wrk (Debian: apt-get install wrk). Uses its own database, dropped afterwards, and Redis db 13.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from bench.common import ROOT, bench_environment, drop_database, recreate_database

SECRET = "bench-webhook-secret"
ENDPOINTS = {"bare": "/bench/bare/", "insert": "/bench/insert/", "webhook": "/telegram/webhook/"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"gunicorn did not listen on {port} within {timeout}s")


def busy_cpu_seconds() -> float:
    """CPU time the whole machine spent busy so far (server, PostgreSQL, Redis and wrk alike)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, *, seconds: float, connections: int, id_base: int) -> dict:
    command = [
        "wrk", "-t2", f"-c{connections}", f"-d{round(seconds)}s", "--timeout", "5s",
        "-s", str(ROOT / "bench" / "post.lua"),
        "-H", f"X-Telegram-Bot-Api-Secret-Token: {SECRET}", "-H", "Content-Type: application/json",
        url, "--", str(id_base),
    ]  # fmt: skip
    cpu_before = busy_cpu_seconds()
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu_used = busy_cpu_seconds() - cpu_before
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["rps"] = result["requests"] / result["seconds"]
    # Throughput swings with the machine's neighbours; CPU per request is steadier.
    result["cpu_us"] = cpu_used / max(result["requests"], 1) * 1e6
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    # README's production command: two processes per core, two threads each.
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (Debian: apt-get install wrk)")

    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/botdesk_bench")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    env = bench_environment(database_url, redis_url, TELEGRAM_WEBHOOK_SECRET=SECRET)
    recreate_database(database_url)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(["redis-cli", "-u", redis_url, "flushdb"], check=False, capture_output=True)

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "-k", "gthread",
         "--workers", str(args.workers), "--threads", str(args.threads), "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "--keep-alive", "5"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    results: dict[str, list[dict]] = {name: [] for name in ENDPOINTS}
    warmup: list[dict] = []
    try:
        wait_for_port(port)
        id_base = 1
        for path in ENDPOINTS.values():  # warm every worker's connections and code paths
            url = f"http://127.0.0.1:{port}{path}"
            warmup.append(wrk(url, seconds=args.warmup, connections=args.connections, id_base=id_base))
            id_base += 10**9
        for _ in range(args.rounds):
            for name, path in ENDPOINTS.items():
                result = wrk(
                    f"http://127.0.0.1:{port}{path}", seconds=args.duration, connections=args.connections,
                    id_base=id_base,
                )  # fmt: skip
                id_base += 10**9
                results[name].append(result)
                print(
                    f"  {name:8} {result['rps']:8.0f} req/s  p50 {result['p50_us'] / 1000:6.2f} ms  "
                    f"p99 {result['p99_us'] / 1000:6.2f} ms  cpu {result['cpu_us']:5.0f} us/req  "
                    f"non-2xx {result['non2xx']}  errors {result['errors']}"
                )
        with psycopg.connect(database_url) as connection:
            stored = connection.execute("SELECT count(*) FROM bot_inboxupdate WHERE update_id >= 0").fetchone()[0]
        acknowledged = sum(r["requests"] - r["non2xx"] for r in [*results["webhook"], warmup[-1]])
    finally:
        server.terminate()
        server.wait(timeout=30)
        subprocess.run(["redis-cli", "-u", redis_url, "flushdb"], check=False, capture_output=True)
        drop_database(database_url)

    median = {name: sorted(runs, key=lambda r: r["rps"])[len(runs) // 2] for name, runs in results.items()}
    webhook, insert, bare = median["webhook"], median["insert"], median["bare"]
    print()
    print(
        f"webhook benchmark: {args.connections} connections, gunicorn gthread {args.workers}x{args.threads}, "
        f"PostgreSQL + Redis, median of {args.rounds} rounds of {args.duration:g} s"
    )
    print(f"{'':10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'CPU us/req':>12}")
    for name in ENDPOINTS:
        row = median[name]
        cpu = statistics.median(r["cpu_us"] for r in results[name])
        print(f"{name:10}{row['rps']:10.0f}{row['p50_us'] / 1000:10.2f}{row['p99_us'] / 1000:10.2f}{cpu:12.0f}")
    cpu_ratio = statistics.median(r["cpu_us"] for r in results["insert"]) / statistics.median(
        r["cpu_us"] for r in results["webhook"]
    )
    print(f"capacity by CPU per request, webhook / one-INSERT view: {cpu_ratio:.0%}")
    # Rounds run back to back, so a ratio within a round is immune to the machine's drift.
    paired = sorted(w["rps"] / i["rps"] for w, i in zip(results["webhook"], results["insert"], strict=True))
    print(
        f"webhook / one-INSERT view per round: {', '.join(f'{r:.0%}' for r in paired)}"
        f" (median {statistics.median(paired):.0%})"
    )
    print(
        f"webhook / one-INSERT view: {webhook['rps'] / insert['rps']:.0%}   "
        f"webhook / bare view: {webhook['rps'] / bare['rps']:.0%}   "
        f"one-INSERT / bare: {insert['rps'] / bare['rps']:.0%}"
    )
    # Requests still in flight when wrk stops are stored but not counted as acknowledged.
    print(
        f"durability: {stored} updates stored for {acknowledged} acknowledged"
        f" ({'every acknowledged update is stored' if stored >= acknowledged else 'UPDATES LOST'})"
    )
    targets = [
        ("acknowledgements/s >= 1000", webhook["rps"] >= 1000),
        ("webhook >= 80% of the one-INSERT view (median per-round ratio)", statistics.median(paired) >= 0.8),
        ("webhook p99 <= 40 ms", webhook["p99_us"] <= 40_000),
    ]
    for label, met in targets:
        print(f"  [{'met' if met else 'MISSED'}] {label}")


if __name__ == "__main__":
    main()
