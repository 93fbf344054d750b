"""Streaming benchmark: how soon a user sees the answer begin, against when the whole answer is there.

A fake LLM writes --tokens tokens at --tokens-per-second after a --first-token-ms pause (300 tokens at
50/s after 400 ms: the whole answer takes about 6.4 s). Each try posts one chat message to the webhook
(gunicorn, PostgreSQL, Redis, a real `celery worker`) and times, at the fake Bot API:

- first visible text: the first sendMessageDraft for that chat (streaming on), or the answer's
  sendMessage (streaming off: the user sees nothing before the whole answer);
- whole answer: the final sendMessage;
- drafts per second over the stream: (drafts - 1) / (last draft - first draft).

- Botdesk: LLM_STREAMING on, STREAM_DRAFTS_PER_SECOND --drafts-per-second; --tries tries.
- Baseline, same run: LLM_STREAMING off (today's path before streaming); --baseline-tries tries.

Targets: first visible text <= 600 ms at the median while the whole answer takes about the LLM's
writing time; drafts per second <= STREAM_DRAFTS_PER_SECOND.

    .venv/bin/python -m bench.streaming [--tries 5] [--baseline-tries 3] [--tokens 300]

Needs PostgreSQL and Redis on 127.0.0.1 (BENCH_DATABASE_URL, BENCH_REDIS_URL to override); uses its own
database, dropped afterwards, and Redis database 13, flushed.
"""

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import time

import httpx
import redis

from bench.common import ROOT, WritingLLM, bot_environment, chat_update, drop_database, recreate_database
from tests.fakes.openai import Answer
from tests.fakes.telegram import FakeBotAPI
from tests.workers import ServerProcess, WorkerProcess

SECRET = "bench-streaming-secret"
WARM_UP = 8
QUESTION = "Tell me the whole story of my journey"
_users = itertools.count(2_000_000)


class Phase:
    """gunicorn and one worker with one setting of LLM_STREAMING, on the shared database and fakes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.server = ServerProcess(env, workers=2, threads=4)
        self.workers: list[WorkerProcess] = []
        try:  # two: a background job (a new user's profile) never holds a chat answer up
            self.workers = [WorkerProcess(env) for _ in range(2)]
        except BaseException:
            self.stop()
            raise
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        self.http = httpx.Client(base_url=self.server.url, headers=headers, timeout=30)

    def post(self, update: dict) -> None:
        response = self.http.post("/telegram/webhook/", json=update)
        if response.status_code != 200:
            raise SystemExit(f"the webhook answered {response.status_code}: {response.text[:200]}")

    def stop(self) -> None:
        if hasattr(self, "http"):
            self.http.close()
        for worker in self.workers:
            worker.stop()
        self.server.stop()


def one_answer(phase: Phase, fake: FakeBotAPI, llm: WritingLLM, args) -> dict:
    user_id = next(_users)
    llm.chat = Answer(
        text=" ".join(f"tok{n}" for n in range(args.tokens)),
        usage={"prompt_tokens": 200, "completion_tokens": args.tokens},
        first_token_delay=args.first_token_ms / 1000,
        chunk_delay=1 / args.tokens_per_second,
    )
    asked = len(llm.chat_asked)
    sent = time.monotonic()
    phase.post(chat_update(user_id, QUESTION))
    deadline = sent + args.tokens / args.tokens_per_second + 60
    while not (answers := [c for c in fake.calls_to("sendMessage") if int(c.params["chat_id"]) == user_id]):
        if time.monotonic() > deadline:
            logs = [phase.server.output()] + [worker.output() for worker in phase.workers]
            tails = "\n".join(log[-3000:] for log in logs)
            raise SystemExit(f"no answer for user {user_id} within {deadline - sent:.0f} s; the logs:\n{tails}")
        time.sleep(0.02)
    drafts = [c for c in fake.calls_to("sendMessageDraft") if int(c.params["chat_id"]) == user_id]
    typing = [c for c in fake.calls_to("sendChatAction") if int(c.params["chat_id"]) == user_id]
    whole = answers[-1].at - sent
    first = (drafts[0].at if drafts else answers[0].at) - sent
    span = drafts[-1].at - drafts[0].at if len(drafts) > 1 else 0.0
    return {
        "first": first,
        "whole": whole,
        "drafts": len(drafts),
        "rate": (len(drafts) - 1) / span if span else 0.0,
        "messages": len(answers),
        # Where the time before the first text goes: to the handler (typing), to the LLM request.
        "handler": typing[0].at - sent if typing else float("nan"),
        "llm": llm.chat_asked[asked] - sent if len(llm.chat_asked) > asked else float("nan"),
    }


def measure(phase: Phase, fake: FakeBotAPI, llm: WritingLLM, args, *, tries: int, label: str) -> list[dict]:
    # Warm, as a running bot is: every process's bot built, Django loaded, connections open (cold, the first
    # answers of each process take 0.3-0.8 s more). Short answers, enough to reach both gunicorn workers and
    # both Celery workers.
    for _ in range(WARM_UP):
        one_answer(phase, fake, llm, argparse.Namespace(**{**vars(args), "tokens": 5}))
    results = []
    for attempt in range(tries):
        result = one_answer(phase, fake, llm, args)
        results.append(result)
        print(
            f"  {label} try {attempt + 1}/{tries}: first text {result['first'] * 1000:6.0f} ms, "
            f"whole answer {result['whole']:6.2f} s, {result['drafts']:3} drafts ({result['rate']:.2f}/s); "
            f"handler at {result['handler'] * 1000:.0f} ms, LLM asked at {result['llm'] * 1000:.0f} ms"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=5)
    parser.add_argument("--baseline-tries", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--tokens-per-second", type=float, default=50.0)
    parser.add_argument("--first-token-ms", type=float, default=400.0)
    parser.add_argument("--drafts-per-second", type=float, default=4.0)
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/botdesk_bench_streaming")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    broker = redis.Redis.from_url(redis_url)
    broker.flushdb()
    fake, llm = FakeBotAPI().start(), WritingLLM().start()
    env = bot_environment(
        database_url,
        redis_url,
        webhook_secret=SECRET,
        telegram_url=fake.base_url,
        llm_url=llm.base_url,
        STREAM_DRAFTS_PER_SECOND=str(args.drafts_per_second),
    )
    recreate_database(database_url)
    phase = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        print(f"Botdesk: LLM_STREAMING on, STREAM_DRAFTS_PER_SECOND={args.drafts_per_second:g}")
        phase = Phase({**env, "LLM_STREAMING": "true"})
        ours = measure(phase, fake, llm, args, tries=args.tries, label="streamed")
        phase.stop()
        phase = None
        print("Baseline: LLM_STREAMING off")
        phase = Phase({**env, "LLM_STREAMING": "false"})
        unstreamed = measure(phase, fake, llm, args, tries=args.baseline_tries, label="unstreamed")
    finally:
        if phase is not None:
            phase.stop()
        broker.flushdb()
        drop_database(database_url)
        fake.stop()
        llm.stop()

    writing = args.first_token_ms / 1000 + (args.tokens - 1) / args.tokens_per_second
    print()
    print(
        f"streaming benchmark: {args.tokens} tokens at {args.tokens_per_second:g}/s after {args.first_token_ms:.0f} ms "
        f"(the model writes for {writing:.2f} s); webhook POST → fake Bot API"
    )
    print(f"{'':32}{'tries':>6}{'first text ms':>15}{'whole s':>9}{'drafts':>8}{'drafts/s':>10}{'messages':>10}")
    rows = [("streamed (drafts)", ours), ("baseline: not streamed", unstreamed)]
    for name, results in rows:
        first_ms = statistics.median(r["first"] for r in results) * 1000
        whole_s = statistics.median(r["whole"] for r in results)
        drafts = statistics.median(r["drafts"] for r in results)
        rate, messages = max(r["rate"] for r in results), max(r["messages"] for r in results)
        print(f"  {name:30}{len(results):6}{first_ms:15.0f}{whole_s:9.2f}{drafts:8.0f}{rate:10.2f}{messages:10}")
    first = statistics.median(r["first"] for r in ours)
    whole = statistics.median(r["whole"] for r in ours)
    baseline_first = statistics.median(r["first"] for r in unstreamed)
    baseline_whole = statistics.median(r["whole"] for r in unstreamed)
    print(
        f"  first visible text: {first / baseline_first:.3f} × the baseline's ({baseline_first:.2f} s); "
        f"whole answer: {whole / baseline_whole:.3f} × the baseline's"
    )
    for label, met in [
        ("first visible text <= 600 ms at the median", first <= 0.6),
        (f"whole answer ≈ the model's writing time ({writing:.1f} s; within +15%)", whole <= writing * 1.15),
        (
            f"drafts per second <= STREAM_DRAFTS_PER_SECOND ({args.drafts_per_second:g}) on every try",
            max(r["rate"] for r in ours) <= args.drafts_per_second,
        ),
        ("one message per answer (drafts never recorded as the reply)", max(r["messages"] for r in ours) == 1),
    ]:
        print(f"  [{'met' if met else 'MISSED'}] {label}")


if __name__ == "__main__":
    main()
