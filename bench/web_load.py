"""Load test of the web chat API: N simulated members of staff complete a Derby City interview
at the same time against a real gunicorn server (2 workers) on loopback, on SQLite and on
PostgreSQL, beside a floor: the smallest authenticated call that writes (GET /api/v1/ping,
one audit row).

    .venv/bin/python bench/web_load.py                 # 50 users, both databases
    .venv/bin/python bench/web_load.py --users 20 --backend sqlite --rate 100

Two measurements each for the floor and for interview turns: flat out (every user sends the
next request as soon as the last is answered: the throughput) and paced (the users together
offer ``--rate`` requests a second, default 300: the latency at that load). Prints turns/s,
p50 and p99 latency and the ratios to the floor, against the targets (p99 <= 50 ms at 300
turns/s, >= 300 turns/s, ratio <= 2). It prints; it never asserts. Loops are bounded in
count (``MAX_TURNS`` per interview) and in time (``--deadline``); traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
MAX_TURNS = 80
PG_SERVER = os.environ.get("PTT_TEST_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
TARGET_P99_MS = 50.0
TARGET_TURNS_PER_SECOND = 300.0
TARGET_RATIO = 2.0


# --------------------------------------------------------------------------- the interview
def interview_answers(today: date) -> dict[str, str]:
    start = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    return {
        "pupil.year_group": "Y5", "reasons": "mental_health", "plan.start_date": start.isoformat(),
        "plan.end_date": (start + timedelta(days=25)).isoformat(), "plan.hours_per_week": "12.5",
        "calendar.closures": "none", "steps.parent_consent": "given", "steps.risk_assessment": "no_concerns",
        "offer_plan": "plan", "write.first_name": "Alex", "write.last_name": "Taylor",
        "write.date_of_birth": "2016-05-01", "write.starting_hours": "10",
        "write.where_when_not_in_school": "At home", "write.with_whom_when_not_in_school": "Parent",
        "write.work_set": "Maths and reading packs", "write.work_marking": "Marked weekly",
        "write.long_term_outcome": "Full time by the end date",
        "write.short_term_targets": "Arrive on time; Stay all morning; Join the lunch club",
        "write.success_criteria": "No missed sessions", "write.named_lead": "Sam Jones, attendance lead",
        "write.review_dates": "yes",
    }


def answer_for(reply: dict[str, Any], answers: dict[str, str]) -> str:
    key = reply.get("question_id") or reply.get("fact") or ""
    if key in answers:
        return answers[key]
    if key.startswith("circumstances."):
        return "no"
    if key.startswith("consultations."):
        return "agreed"
    if reply.get("kind") in ("choice", "multi_choice") and reply.get("choices"):
        return reply["choices"][0]["value"]
    return "yes" if reply.get("kind") == "yes_no" else "none"


# --------------------------------------------------------------------------- HTTP client
class Client:
    """One keep-alive connection to the server, as one member of staff's browser or script."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.connection = http.client.HTTPConnection(HOST, port, timeout=30)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        payload = json.dumps(body) if body is not None else None
        for attempt in range(2):
            started = time.perf_counter()
            try:
                self.connection.request(method, path, body=payload, headers=self.headers)
                response = self.connection.getresponse()
                data = response.read()
            except (ConnectionError, http.client.HTTPException, TimeoutError):
                self.connection.close()
                self.connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
                if attempt:
                    raise
                continue
            elapsed = time.perf_counter() - started
            if response.getheader("Connection", "").lower() == "close":
                self.connection.close()
                self.connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
            return response.status, json.loads(data) if data else None, elapsed
        raise RuntimeError("unreachable")

    def close(self) -> None:
        self.connection.close()


@dataclass
class Samples:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    completed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)

    def error(self, message: str) -> None:
        with self.lock:
            if len(self.errors) < 20:
                self.errors.append(message)


class Pacer:
    """Spaces one user's requests ``interval`` seconds apart (an open schedule: a slow reply
    does not lower the offered load; a late request goes at once)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.next_at = time.monotonic()

    def wait(self) -> None:
        if self.interval <= 0:
            return
        delay = self.next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self.next_at = max(self.next_at + self.interval, time.monotonic() - self.interval)


def run_interview(port: int, token: str, interval: float, deadline: float, samples: Samples) -> None:
    client = Client(port, token)
    pacer = Pacer(interval)
    time.sleep(interval * (hash(token) % 1000) / 1000)  # spread the users' first requests
    answers = interview_answers(date.today())
    try:
        pacer.wait()
        status, body, elapsed = client.request("POST", "/api/v1/conversations", {"policy": "derby-city"})
        if status != 201:
            samples.error(f"start: HTTP {status} {body}")
            return
        samples.add(elapsed)
        for _ in range(MAX_TURNS):
            if body.get("plan_id") or time.monotonic() > deadline:
                break
            pacer.wait()
            text = answer_for(body["replies"][-1], answers)
            status, reply, elapsed = client.request("POST", f"/api/v1/conversations/{body['id']}/messages",
                                                    {"text": text, "version": body["version"]})
            if status != 200:
                samples.error(f"answer {text!r}: HTTP {status} {reply}")
                return
            samples.add(elapsed)
            body = reply
        if body.get("plan_id"):
            with samples.lock:
                samples.completed += 1
    finally:
        client.close()


def run_floor(port: int, token: str, requests: int, interval: float, deadline: float, samples: Samples) -> None:
    client = Client(port, token)
    pacer = Pacer(interval)
    time.sleep(interval * (hash(token) % 1000) / 1000)
    try:
        for _ in range(requests):
            if time.monotonic() > deadline:
                break
            pacer.wait()
            status, body, elapsed = client.request("GET", "/api/v1/ping")
            if status != 200:
                samples.error(f"ping: HTTP {status} {body}")
                return
            samples.add(elapsed)
        with samples.lock:
            samples.completed += 1
    finally:
        client.close()


CLIENT_CPU: dict[str, float] = {}


def in_parallel(worker: Callable[[str], None], tokens: list[str], label: str = "") -> float:
    threads = [threading.Thread(target=worker, args=(token,), daemon=True) for token in tokens]
    cpu = time.process_time()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    CLIENT_CPU[label] = (time.process_time() - cpu) / elapsed if elapsed else 0.0
    return elapsed


# --------------------------------------------------------------------------- databases and server
@contextmanager
def sqlite_database() -> Iterator[str]:
    directory = Path(tempfile.mkdtemp(prefix="ptt-bench-"))
    try:
        yield f"sqlite:///{directory / 'bench.db'}"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def postgres_database() -> Iterator[str | None]:
    import psycopg

    try:
        admin = psycopg.connect(f"{PG_SERVER}/test", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        print(f"PostgreSQL not reachable at {PG_SERVER}/test ({str(error).strip().splitlines()[0]}): skipped")
        yield None
        return
    name = f"ptt_bench_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(database_url: str, users: int) -> list[str]:
    """Migrate, add one school in Derby City with ``users`` members of staff; their tokens."""
    from assistant.services.auth import issue_token
    from storage.db import make_engine, make_session_factory
    from storage.migrate import upgrade
    from storage.repositories import DirectoryRepository

    upgrade(database_url)
    engine = make_engine(database_url)
    tokens = []
    try:
        with make_session_factory(engine)() as session:
            directory = DirectoryRepository(session)
            la = directory.get_or_create_la("derby-city", name="Derby City Council")
            school = directory.get_or_create_school("Oak Primary", la.id)
            for n in range(users):
                user = directory.upsert_user(f"bench{n}@oak.example.org", "staff", school_id=school.id, la_id=la.id)
                tokens.append(issue_token(session, user))
            session.commit()
    finally:
        engine.dispose()
    return tokens


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(database_url: str, workers: int, worker_class: str, threads: int) -> Iterator[int]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "bench-secret", "PTT_SWEEPER": "0",
           "COOKIE_SECURE": "0", "PYTHONPATH": str(ROOT)}
    command = [str(Path(sys.executable).with_name("gunicorn")), "assistant.web:create_app()", "-w", str(workers),
               "-b", f"{HOST}:{port}", "--worker-class", worker_class, "--log-level", "warning",
               "--backlog", "256", "--keep-alive", "5"]
    if worker_class == "gthread":
        command += ["--threads", str(threads)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until_up(port, process)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def wait_until_up(port: int, process: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {process.stderr.read().decode()[-2000:] if process.stderr else ''}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start in time")


# --------------------------------------------------------------------------- measuring
def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Result:
    label: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    completed: int
    errors: list[str]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def measure(label: str, samples: Samples, seconds: float) -> Result:
    return Result(label, len(samples.latencies), seconds, 1000 * percentile(samples.latencies, 0.50),
                  1000 * percentile(samples.latencies, 0.99), samples.completed, samples.errors)


def run_phase(label: str, port: int, tokens: list[str], args: argparse.Namespace, *, interviews: bool,
              interval: float) -> Result:
    samples = Samples()
    deadline = time.monotonic() + args.deadline
    if interviews:
        seconds = in_parallel(lambda t: run_interview(port, t, interval, deadline, samples), tokens, label)
    else:
        seconds = in_parallel(lambda t: run_floor(port, t, args.floor_requests, interval, deadline, samples),
                              tokens, label)
    return measure(label, samples, seconds)


def show(result: Result, users: int) -> None:
    print(f"{result.label:<34} {result.requests:>6} requests in {result.seconds:6.2f} s = "
          f"{result.per_second:7.1f}/s   p50 {result.p50_ms:6.1f} ms   p99 {result.p99_ms:7.1f} ms"
          + (f"   ({result.completed}/{users} interviews done)" if "turn" in result.label else ""))
    for message in result.errors[:5]:
        print(f"   error: {message}")


def bench_backend(backend: str, database_url: str, args: argparse.Namespace) -> None:
    tokens = seed(database_url, args.users)
    interval = args.users / args.rate if args.rate > 0 else 0.0
    with gunicorn(database_url, args.workers, args.worker_class, args.threads) as port:
        # Warm up every worker (imports, policy packs, connections) before measuring.
        warm = Samples()
        in_parallel(lambda t: run_floor(port, t, 5, 0.0, time.monotonic() + 30, warm), tokens[: args.workers * 4],
                    "warm-up")
        floor_max = run_phase("floor, flat out", port, tokens, args, interviews=False, interval=0.0)
        turns_max = run_phase("interview turns, flat out", port, tokens, args, interviews=True, interval=0.0)
        floor_paced = run_phase(f"floor at {args.rate:g}/s offered", port, tokens, args, interviews=False,
                                interval=interval)
        turns_paced = run_phase(f"turns at {args.rate:g}/s offered", port, tokens, args, interviews=True,
                                interval=interval)

    print(f"\n== {backend}: {args.users} users, gunicorn -w {args.workers} ({args.worker_class}"
          f"{f', {args.threads} threads' if args.worker_class == 'gthread' else ''}) on {HOST} ==")
    print("floor = GET /api/v1/ping (token check + one audit row); turn = POST .../messages (one answer)")
    for result in (floor_max, turns_max, floor_paced, turns_paced):
        show(result, args.users)
    print(f"load generator's own CPU (on the same {os.cpu_count()} cores as the server): "
          + ", ".join(f"{k} {v:.2f}" for k, v in CLIENT_CPU.items() if k != "warm-up") + " cores")
    ratio_p50 = turns_paced.p50_ms / floor_paced.p50_ms if floor_paced.p50_ms else float("nan")
    ratio_p99 = turns_paced.p99_ms / floor_paced.p99_ms if floor_paced.p99_ms else float("nan")
    ratio_rate = floor_max.per_second / turns_max.per_second if turns_max.per_second else float("nan")
    print(f"turns/s (flat out): {turns_max.per_second:.1f}; at {args.rate:g}/s offered: "
          f"p50 {turns_paced.p50_ms:.1f} ms, p99 {turns_paced.p99_ms:.1f} ms")
    print(f"ratio to floor: latency p50 {ratio_p50:.2f}x, p99 {ratio_p99:.2f}x; throughput {ratio_rate:.2f}x")
    print(f"targets: p99 <= {TARGET_P99_MS:g} ms: {'met' if turns_paced.p99_ms <= TARGET_P99_MS else 'NOT met'}; "
          f">= {TARGET_TURNS_PER_SECOND:g} turns/s: "
          f"{'met' if turns_max.per_second >= TARGET_TURNS_PER_SECOND else 'NOT met'}; "
          f"ratio <= {TARGET_RATIO:g}: {'met' if max(ratio_p99, ratio_rate) <= TARGET_RATIO else 'NOT met'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50, help="simulated members of staff (default 50)")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--worker-class", default="sync", choices=("sync", "gthread"),
                        help="gunicorn worker class (default sync: faster than gthread here)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (default 4)")
    parser.add_argument("--rate", type=float, default=TARGET_TURNS_PER_SECOND,
                        help="requests per second offered by all users together in the paced phases (default 300)")
    parser.add_argument("--floor-requests", type=int, default=35, help="pings per user for the floor (default 35)")
    parser.add_argument("--deadline", type=float, default=120.0, help="stop each phase after this many seconds")
    args = parser.parse_args(argv)
    if args.users < 1 or args.users > 500:
        parser.error("--users must be between 1 and 500")
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    for backend in backends:
        manager = sqlite_database() if backend == "sqlite" else postgres_database()
        with manager as url:
            if url is not None:
                bench_backend(backend, url, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
