"""End-to-end benchmark: chat messages one box answers per second, and where that ceiling comes from.

The whole message path as production runs it: gunicorn (the webhook), --workers `celery worker`
processes of --concurrency each, PostgreSQL and Redis, the fake Bot API and a fake LLM answering
after a set delay. --clients users at a time each post a chat message to the webhook and wait for
its answer (the first sendMessage to their chat at the fake Bot API), then post the next; --users
users with balances take turns, so every answer is held, charged and settled. Their profiles were written
this week, as a returning user's are (--stale-profiles: never, so each user's first message also has a worker
write one, an LLM call and its records, as on a bot's first day).

Three phases of --duration seconds: a 0 ms LLM; a --slow-llm-ms LLM (500 ms); the slow LLM again
with twice the --concurrency (the workers restarted). For each it reports:

- answered messages per second over --duration seconds;
- time from the webhook POST to the answer's sendMessage, p50 and p99 (at that load, so it
  includes the wait in the queue behind the other clients' messages);
- database commits per message: pg_stat_database.xact_commit of the bench database over the
  phase, once PostgreSQL has published every backend's counts, divided by the messages answered
  (it includes what the workers do beside the answer: analytics, the journey, the inbox);
- CPU milliseconds per answered message by process: gunicorn (master and workers), the Celery
  workers (main processes and pool), PostgreSQL (every process of the server, other databases'
  included), redis-server, and this process (the clients and both fakes).

Baseline, same run: the commit floor. --floor-clients connections each INSERT one small row and
COMMIT for --floor-seconds (what pgbench's simplest write does); its commits per second divided by
our commits per message is the messages per second the database could take at most.

Targets: with a 0 ms LLM, answered messages/s >= 50% of the commit floor's; with a 500 ms LLM, the
throughput is what the worker pool allows (at most workers × concurrency answers per 0.5 s), not the
database: well under the floor, and more with twice the concurrency.

    .venv/bin/python -m bench.e2e [--duration 20] [--users 1000] [--clients 32] [--workers 2] [--concurrency 2]

Needs PostgreSQL and Redis on 127.0.0.1 (BENCH_DATABASE_URL, BENCH_REDIS_URL to override); uses its own
database, dropped afterwards, and Redis database 12, flushed.
"""

import argparse
import math
import os
import queue
import subprocess
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import redis

from bench.common import (
    ROOT,
    WritingLLM,
    bot_environment,
    chat_update,
    copy_users,
    drop_database,
    fund_users,
    recreate_database,
)
from tests.fakes.openai import Answer
from tests.fakes.telegram import FakeBotAPI
from tests.workers import ServerProcess, WorkerProcess

SECRET = "bench-e2e-secret"
QUESTION = "What does my week ahead hold?"
# A backend publishes its counts when it goes idle, at most once a second, or 10 s later (PostgreSQL 15's
# PGSTAT_IDLE_INTERVAL): after this long every commit of a phase is in pg_stat_database.
STATS_SETTLE = 11
TICKS = os.sysconf("SC_CLK_TCK")
ROLES = ("web", "worker", "postgres", "redis", "bench")
# How a keep-alive connection that gunicorn closed (idle longer than its --keep-alive) fails when reused.
STALE_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


@dataclass
class Waiter:
    answered: threading.Event = field(default_factory=threading.Event)
    at: float = 0.0


class Answers:
    """Watches the fake Bot API's calls and wakes the client waiting on a chat when its answer is sent."""

    def __init__(self, fake: FakeBotAPI) -> None:
        self.fake = fake
        self._waiting: dict[int, Waiter] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="answers", daemon=True)
        self._thread.start()

    def expect(self, chat_id: int) -> Waiter:
        with self._lock:
            waiter = self._waiting[chat_id] = Waiter()
        return waiter

    def forget(self, chat_id: int) -> None:
        with self._lock:
            self._waiting.pop(chat_id, None)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _watch(self) -> None:
        seen = 0
        while not self._stopped.is_set():
            calls = self.fake.calls[seen:]  # the fake only appends; a slice is taken whole under the GIL
            seen += len(calls)
            for call in calls:
                if call.method != "sendMessage":
                    continue
                with self._lock:
                    waiter = self._waiting.pop(int(call.params["chat_id"]), None)
                if waiter is not None:
                    waiter.at = call.at
                    waiter.answered.set()
            time.sleep(0.01)  # answers are timed by the fake (call.at), not by this wake-up


@dataclass
class Load:
    """What one run of the clients saw: (posted, answered) per message, and the messages never answered."""

    samples: list[tuple[float, float]] = field(default_factory=list)
    lost: int = 0
    started: float = 0.0
    stopped: float = 0.0

    def answered_per_second(self) -> float:
        answered = sum(1 for _, at in self.samples if self.started <= at <= self.stopped)
        return answered / (self.stopped - self.started)

    def latency_ms(self, quantile: float) -> float:
        ordered = sorted(at - posted for posted, at in self.samples)
        return ordered[max(math.ceil(quantile * len(ordered)) - 1, 0)] * 1000


def run_clients(url: str, answers: Answers, idle: queue.Queue, *, clients: int, seconds: float, on_stop) -> Load:
    """`clients` users at a time post a message and wait for its answer until `seconds` are up (the messages
    in flight then are still waited for); `on_stop()` runs the moment they are up."""
    load = Load()
    lock = threading.Lock()

    def client() -> None:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            while time.monotonic() < load.stopped:
                user = idle.get()
                waiter = answers.expect(user)
                posted = time.monotonic()
                update = chat_update(user, QUESTION)
                try:
                    response = http.post("/telegram/webhook/", json=update)
                except STALE_CONNECTION:  # gunicorn closed the idle keep-alive connection as it was reused
                    response = http.post("/telegram/webhook/", json=update)  # Telegram retries too; the inbox dedupes
                if response.status_code != 200:
                    raise SystemExit(f"the webhook answered {response.status_code}: {response.text[:200]}")
                answered = waiter.answered.wait(60)
                with lock:
                    if answered:
                        load.samples.append((posted, waiter.at))
                    else:
                        load.lost += 1
                if not answered:
                    answers.forget(user)
                idle.put(user)

    load.started = time.monotonic()
    load.stopped = load.started + seconds
    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client) for _ in range(clients)]
        time.sleep(max(load.stopped - time.monotonic(), 0))
        on_stop()
        for future in futures:
            future.result()
    return load


def cpu_seconds(roots: dict[str, list[int]]) -> dict[int, tuple[str, float]]:
    """CPU time (user + system) so far of every process of each role, by pid: the process trees under
    `roots` (role → pids), PostgreSQL's processes and redis-server's (by name), and this process."""
    table: dict[int, tuple[str, int, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        # After the name: state, parent pid, ..., utime and stime (the 12th and 13th), in clock ticks.
        table[int(stat.parent.name)] = (name, int(rest[1]), (int(rest[11]) + int(rest[12])) / TICKS)
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (_, parent, _) in table.items():
        children[parent].append(pid)
    roles: dict[int, str] = {os.getpid(): "bench"}
    for pid, (name, _, _) in table.items():
        if name == "postgres":
            roles[pid] = "postgres"
        elif name == "redis-server":
            roles[pid] = "redis"
    for role, pids in roots.items():
        pending = list(pids)
        while pending:
            pid = pending.pop()
            roles[pid] = role
            pending.extend(children[pid])
    return {pid: (role, table[pid][2]) for pid, role in roles.items() if pid in table}


def cpu_used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds each role spent between two snapshots (a process that started meanwhile: all of its time;
    one that ended meanwhile: none of its last moments, which a steady load does not have)."""
    used = dict.fromkeys(ROLES, 0.0)
    for pid, (role, seconds) in after.items():
        used[role] += seconds - (before[pid][1] if pid in before else 0.0)
    return used


def commits(database_url: str) -> int:
    name = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(database_url, autocommit=True) as connection:
        return connection.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s", [name]).fetchone()[0]


def commit_floor(database_url: str, *, clients: int, seconds: float) -> float:
    """pgbench-style: `clients` connections each INSERT one small row and COMMIT, over and over; commits/s."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("CREATE TABLE bench_floor (id bigserial PRIMARY KEY, client int, at timestamptz)")
    done = [0] * clients
    stop = time.monotonic() + seconds

    def writer(client: int) -> None:
        with psycopg.connect(database_url) as connection:
            while time.monotonic() < stop:
                connection.execute("INSERT INTO bench_floor (client, at) VALUES (%s, now())", [client])
                connection.commit()
                done[client] += 1

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(writer, range(clients)))
    return sum(done) / (time.monotonic() - started)


def warm_up(stack: "Stack", seconds: float) -> int:
    """Warm, as a running bot is: every process's bot built, Django loaded, connections open; then wait until
    PostgreSQL has published the warm-up's commits, so they count in no phase. Returns the messages answered."""
    stack.llm.chat = Answer()
    load = run_clients(
        stack.server.url, stack.answers, stack.idle, clients=stack.clients, seconds=seconds, on_stop=lambda: None
    )
    time.sleep(STATS_SETTLE)
    return len(load.samples)


def measure_phase(stack: "Stack", *, llm_seconds: float, seconds: float) -> dict:
    stack.llm.chat = Answer(delay=llm_seconds)
    commits_before = commits(stack.database_url)
    snapshots = [cpu_seconds(stack.roots)]
    load = run_clients(
        stack.server.url, stack.answers, stack.idle, clients=stack.clients, seconds=seconds,
        on_stop=lambda: snapshots.append(cpu_seconds(stack.roots)),
    )  # fmt: skip
    time.sleep(STATS_SETTLE)
    committed = commits(stack.database_url) - commits_before
    answered_in_window = load.answered_per_second() * seconds
    row = {
        "llm_ms": llm_seconds * 1000,
        "concurrency": stack.concurrency,
        "rate": load.answered_per_second(),
        "p50": load.latency_ms(0.5),
        "p99": load.latency_ms(0.99),
        "answered": len(load.samples),
        "lost": load.lost,
        "commits": committed / max(len(load.samples), 1),
        "cpu_ms": {role: used / max(answered_in_window, 1) * 1000 for role, used in cpu_used(*snapshots).items()},
    }
    print(
        f"  LLM {row['llm_ms']:4.0f} ms, -c {row['concurrency']}: {row['rate']:6.1f} answered/s, "
        f"p50 {row['p50']:6.0f} ms, p99 {row['p99']:6.0f} ms, {row['commits']:.1f} commits/message, "
        f"{row['lost']} never answered"
    )
    return row


@dataclass
class Stack:
    """The processes under measurement, the fakes they talk to, and the clients' users."""

    database_url: str
    env: dict[str, str]
    server: ServerProcess
    llm: WritingLLM
    answers: Answers
    idle: queue.Queue
    clients: int
    workers: list[WorkerProcess] = field(default_factory=list)
    concurrency: int = 0

    @property
    def roots(self) -> dict[str, list[int]]:
        return {"web": [self.server.process.pid], "worker": [worker.process.pid for worker in self.workers]}

    def start_workers(self, count: int, concurrency: int) -> None:
        self.stop_workers()
        self.workers = [WorkerProcess(self.env, concurrency=concurrency) for _ in range(count)]
        self.concurrency = concurrency

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20, help="seconds of load per phase")
    parser.add_argument("--warmup", type=float, default=4)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=32, help="users with a message in flight at a time")
    parser.add_argument("--workers", type=int, default=2, help="celery worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes per celery worker (-c)")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--slow-llm-ms", type=float, default=500)
    parser.add_argument("--floor-clients", type=int, default=8)
    parser.add_argument("--floor-seconds", type=float, default=5)
    parser.add_argument(
        "--stale-profiles",
        action="store_true",
        help="users without a profile: each one's first message also has the workers refresh it (an LLM call)",
    )
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/botdesk_bench_e2e")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    broker = redis.Redis.from_url(redis_url)
    broker.flushdb()
    fake, llm = FakeBotAPI().start(), WritingLLM().start()
    answers = Answers(fake)
    env = bot_environment(
        database_url,
        redis_url,
        webhook_secret=SECRET,
        telegram_url=fake.base_url,
        llm_url=llm.base_url,
    )
    recreate_database(database_url)
    slow = args.slow_llm_ms / 1000
    server, stack = None, None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        with psycopg.connect(database_url) as connection, connection.cursor() as cursor:
            copy_users(cursor, args.users, datetime.now(UTC))
            fund_users(cursor, 1_000_000)
            if not args.stale_profiles:
                # Returning users, as most messages are: each has a profile written this week, so a message
                # is only the chat turn (no profile refresh: once a user a day at most, when a week old).
                cursor.execute(
                    "UPDATE users_telegramuser SET markers = jsonb_build_object('profile_updated_at', %s::text)",
                    [datetime.now(UTC).isoformat()],
                )
        server = ServerProcess(env, workers=args.web_workers, threads=args.web_threads)
        idle: queue.Queue = queue.Queue()
        for user in range(1, args.users + 1):
            idle.put(user)
        stack = Stack(database_url, env, server, llm, answers, idle, args.clients)
        stack.start_workers(args.workers, args.concurrency)

        floor = commit_floor(database_url, clients=args.floor_clients, seconds=args.floor_seconds)
        print(f"commit floor: {floor:,.0f} commits/s ({args.floor_clients} clients, one small INSERT per commit)")
        answered = warm_up(stack, args.warmup)
        fast = measure_phase(stack, llm_seconds=0.0, seconds=args.duration)
        pooled = measure_phase(stack, llm_seconds=slow, seconds=args.duration)
        # The same slow LLM with twice the pool: what the setting the target names does.
        stack.start_workers(args.workers, args.concurrency * 2)
        answered += warm_up(stack, args.warmup)
        doubled = measure_phase(stack, llm_seconds=slow, seconds=args.duration)
        phases = [fast, pooled, doubled]
        answered += sum(row["answered"] for row in phases)
        with psycopg.connect(database_url) as connection:
            charged = connection.execute("SELECT count(*) FROM billing_operation WHERE type = 2").fetchone()[0]
    finally:
        answers.stop()
        if stack is not None:
            stack.stop_workers()
        if server is not None:
            server.stop()
        broker.flushdb()
        drop_database(database_url)
        fake.stop()
        llm.stop()

    print()
    print(
        f"e2e benchmark: {args.clients} users with a message in flight out of {args.users:,}; gunicorn gthread "
        f"{args.web_workers}x{args.web_threads}, {args.workers} celery worker process(es), PostgreSQL + Redis, "
        f"{args.duration:g} s per phase; profiles "
        f"{'never written (a first message refreshes one)' if args.stale_profiles else 'fresh (returning users)'}"
    )
    print(
        f"baseline: commit floor {floor:,.0f} commits/s; floor msg/s = the floor / our commits per message"
        f" (which include the workers' housekeeping)"
    )
    print(
        f"{'LLM ms':>7}{'-c':>4}{'msg/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'commits':>9}{'floor':>7}"
        f"  CPU ms/msg: {'web':>5}{'worker':>7}{'pg':>6}{'redis':>6}{'bench':>6}"
    )
    for row in phases:
        ms = row["cpu_ms"]
        print(
            f"{row['llm_ms']:7.0f}{row['concurrency']:4}{row['rate']:8.1f}{row['p50']:8.0f}{row['p99']:8.0f}"
            f"{row['commits']:9.1f}{floor / row['commits']:7.0f}  {'':11}{ms['web']:5.1f}{ms['worker']:7.1f}"
            f"{ms['postgres']:6.1f}{ms['redis']:6.1f}{ms['bench']:6.1f}"
        )
    print(
        f"charged: {charged:,} answers charged for {answered:,} answered (warm-ups included); PostgreSQL's CPU is "
        f"the whole server's, other databases' included"
    )
    fast_floor = floor / fast["commits"]
    print(
        f"  [{'met' if fast['rate'] >= 0.5 * fast_floor else 'MISSED'}] 0 ms LLM: {fast['rate']:.1f} answered/s "
        f">= 50% of the commit floor's {fast_floor:.0f} msg/s ({fast['rate'] / fast_floor:.0%})"
    )
    # Each pool process answers one message at a time: at most workers × concurrency per LLM delay. If the
    # database (or the CPU) were the limit, twice the pool would answer about as many (within the 10-15%
    # these runs swing on a shared machine), not more.
    ceiling = args.workers * args.concurrency / slow
    gain = doubled["rate"] / pooled["rate"]
    by_pool = gain >= 1.2 and pooled["rate"] < 0.5 * floor / pooled["commits"]
    print(
        f"  [{'met' if by_pool else 'MISSED'}] {args.slow_llm_ms:.0f} ms LLM limited by worker concurrency, not the "
        f"database: {pooled['rate']:.1f} answered/s = {pooled['rate'] / ceiling:.0%} of workers x concurrency / "
        f"{slow:g} s ({ceiling:.0f}/s) and {pooled['rate'] * pooled['commits'] / floor:.0%} of the commit floor; "
        f"twice the concurrency (-c {args.concurrency * 2}) answers {gain:.2f}x as many. The setting that raises it: "
        f"the chat worker's --concurrency (-c), or more worker processes, until CPU limits it (at about the 0 ms "
        f"rate, {fast['rate']:.0f}/s here)"
    )


if __name__ == "__main__":
    main()
