"""Load test of the web chat API: N simulated members of staff complete Derby City interviews
at the same time against a real gunicorn server (2 workers) on loopback, on SQLite and on
PostgreSQL, beside a floor: the smallest authenticated call that writes (GET /api/v1/ping,
one audit row).

    .venv/bin/python bench/web_load.py                 # 50 users, both databases
    .venv/bin/python bench/web_load.py --users 20 --backend sqlite --rate 100

Two measurements each for the floor and for interview turns, each phase ``--seconds`` long:
flat out (every user sends the next request as soon as the last is answered: the throughput)
and paced (the users together offer ``--rate`` requests a second, default 300, as a Poisson
stream of independent people: the latency at that load), the paced phases in ``--rounds``
rounds (default 3), floor and turns alternating, pooled. Interviewers begin each phase
part-way through an interview, spread evenly, as in steady state. Prints turns/s, p50 and p99
latency and the ratios to the floor, against the targets (p99 <= 50 ms at 300 turns/s,
>= 300 turns/s, ratio <= 2), and what share of the flat-out rates the paced phases offer
(near 100%, the latencies measure a machine at its limit). Beforehand one user alone shows what
each kind of request costs with no queueing (see ``bench/queue_model.py`` for what two workers
make of that mix). It prints; it never asserts.

The users are coroutines of one asyncio loop speaking HTTP/1.1 on raw streams: cheap enough to
leave the two cores to the server, and a reply is timed when it arrives rather than when a
thread next gets the GIL. Interviews are bounded in answers (``MAX_TURNS``) and every phase in
time; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
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
    """One member of staff's connection: a minimal HTTP/1.1 client on asyncio streams (every user
    runs in one event loop, so a reply is read the moment it arrives, not when a thread next gets
    the GIL). Keeps the connection alive where the server does; reconnects where it closes."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.head = (f"Host: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
                     "Content-Type: application/json\r\n").encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        payload = json.dumps(body).encode() if body is not None else b""
        message = (f"{method} {path} HTTP/1.1\r\n".encode() + self.head
                   + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
        for attempt in range(2):
            started = time.perf_counter()
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
                assert self.reader is not None
                self.writer.write(message)
                status, headers, data = await self._response(self.reader)
            except (ConnectionError, asyncio.IncompleteReadError, ValueError):
                await self.close()
                if attempt:
                    raise
                continue
            elapsed = time.perf_counter() - started
            if headers.get("connection", "").lower() == "close":
                await self.close()
            return status, json.loads(data) if data else None, elapsed
        raise RuntimeError("unreachable")

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            return status, headers, await reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            await reader.readuntil(b"\r\n")
            return status, headers, b"".join(chunks)
        return status, headers, await reader.read()

    async def close(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()


@dataclass
class Samples:
    latencies: list[float] = field(default_factory=list)
    saving: list[float] = field(default_factory=list)  # the turns that saved a plan (also in latencies)
    ordinary: list[float] = field(default_factory=list)  # every other turn (also in latencies)
    errors: list[str] = field(default_factory=list)
    completed: int = 0
    starts: int = 0

    def add(self, seconds: float, *, turn: bool = True) -> None:
        """Record one reply's latency; an interview's start counts towards the load, not the turns."""
        if turn:
            self.latencies.append(seconds)
        else:
            self.starts += 1

    def error(self, message: str) -> None:
        if len(self.errors) < 20:
            self.errors.append(message)


class Pacer:
    """When one user sends their next request. Users are independent: each waits a random,
    exponentially distributed time (mean ``interval``) between sending times, so that together
    they offer a Poisson stream of requests at the chosen rate, as independent people do. The
    schedule is open: a slow reply does not lower the offered load (a request that falls due
    while the user waits for a reply goes as soon as the reply comes), and it never re-aligns
    the users with one another."""

    def __init__(self, interval: float, rng: random.Random) -> None:
        self.interval = interval
        self.rng = rng
        self.restart()

    def restart(self) -> None:
        """Start the schedule afresh from now (when the measured window opens)."""
        self.next_at = time.monotonic() + (self.rng.expovariate(1 / self.interval) if self.interval > 0 else 0.0)

    async def wait(self) -> None:
        if self.interval <= 0:
            return
        delay = self.next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        self.next_at += self.rng.expovariate(1 / self.interval)


@dataclass
class Window:
    """The measured stretch of a phase. It opens once every user is in position, and lasts
    ``seconds``; requests made before it opens are not recorded."""
    seconds: float
    users: int
    until: float = 0.0
    opened_at: float = 0.0
    cpu_at_open: float = 0.0
    _barrier: asyncio.Barrier = field(init=False)
    open_event: asyncio.Event = field(init=False)

    def __post_init__(self) -> None:
        self._barrier = asyncio.Barrier(self.users)
        self.open_event = asyncio.Event()

    async def open(self) -> None:
        """Wait for every user to be in position; the first to pass starts the clock."""
        await self._barrier.wait()
        if not self.opened_at:
            self.opened_at, self.cpu_at_open = time.monotonic(), time.process_time()
            self.until = self.opened_at + self.seconds
            self.open_event.set()


async def next_request(client: Client, body: dict[str, Any], answers: dict[str, str]) -> tuple[int, Any, float]:
    """A user's next request: begin an interview when none is under way (``body`` empty or its
    plan saved), else answer the last question."""
    if not body or body.get("plan_id"):
        return await client.request("POST", "/api/v1/conversations", {"policy": "derby-city"})
    return await client.request("POST", f"/api/v1/conversations/{body['id']}/messages",
                                {"text": answer_for(body["replies"][-1], answers), "version": body["version"]})


async def run_interviews(port: int, token: str, pacer: Pacer, window: Window, samples: Samples,
                         head_start: int = 0) -> None:
    """One member of staff completing Derby City interviews one after another until the window
    closes (each bounded to ``MAX_TURNS`` answers). With a ``head_start``, they first answer that
    many questions unrecorded, so that the window finds them part-way through an interview."""
    client = Client(port, token)
    answers = interview_answers(date.today())
    body: dict[str, Any] = {}
    try:
        for _ in range(head_start):
            status, body, _elapsed = await next_request(client, body, answers)
            if status not in (200, 201):
                samples.error(f"head start: HTTP {status} {body}")
                body = {}
                break
        await window.open()
        pacer.restart()
        answered = 0
        while time.monotonic() < window.until:
            if answered >= MAX_TURNS:
                body, answered = {}, 0  # bounded out: begin a new interview
            await pacer.wait()
            starting = not body or bool(body.get("plan_id"))
            status, reply, elapsed = await next_request(client, body, answers)
            if status != (201 if starting else 200):
                samples.error(f"{'start' if starting else 'answer'}: HTTP {status} {reply}")
                return
            if starting:
                samples.add(elapsed, turn=False)  # counts towards the load, not the turns
                answered = 0
            else:
                samples.add(elapsed)
                (samples.saving if reply.get("plan_id") else samples.ordinary).append(elapsed)
                samples.completed += bool(reply.get("plan_id"))
                answered += 1
            body = reply
    finally:
        await client.close()


async def run_floor(port: int, token: str, pacer: Pacer, window: Window, samples: Samples) -> None:
    """One member of staff calling the floor endpoint until the window closes."""
    client = Client(port, token)
    try:
        await window.open()
        pacer.restart()
        while time.monotonic() < window.until:
            await pacer.wait()
            status, body, elapsed = await client.request("GET", "/api/v1/ping")
            if status != 200:
                samples.error(f"ping: HTTP {status} {body}")
                return
            samples.add(elapsed)
    finally:
        await client.close()


@dataclass
class Alone:
    """One user with the server to themselves: what each kind of request costs a worker with
    no queueing (seconds), and how many answers an interview takes."""
    turns: int = 0
    floor: list[float] = field(default_factory=list)
    start: list[float] = field(default_factory=list)
    ordinary: list[float] = field(default_factory=list)
    saving: list[float] = field(default_factory=list)

    def per_answer(self) -> float:
        """A worker's mean time per answer, with the answer's share of starting the interview
        and of saving its plan: what fifty interviewers cost the server, per answer."""
        interviews = len(self.saving)
        return (sum(self.start) + sum(self.ordinary) + sum(self.saving)) / (len(self.ordinary) + interviews)


async def one_user_alone(port: int, token: str, interviews: int = 3, pings: int = 100) -> Alone:
    """Complete interviews and call the floor, one request at a time. The first interview sets
    the length of the cycle the users' head starts are spread over and warms every route an
    interview uses; it is not timed."""
    client = Client(port, token)
    answers = interview_answers(date.today())
    alone = Alone()
    try:
        for interview in range(interviews + 1):
            status, body, elapsed = await next_request(client, {}, answers)
            start = elapsed
            ordinary: list[float] = []
            for _ in range(MAX_TURNS):
                status, body, elapsed = await next_request(client, body, answers)
                if status != 200:
                    raise RuntimeError(f"the calibration interview failed: HTTP {status} {body}")
                if body.get("plan_id"):
                    break
                ordinary.append(elapsed)
            else:
                raise RuntimeError(f"the calibration interview saved no plan in {MAX_TURNS} answers")
            if interview == 0:
                alone.turns = len(ordinary) + 1
                continue
            alone.start.append(start)
            alone.ordinary.extend(ordinary)
            alone.saving.append(elapsed)
        for _ in range(pings):
            status, body, elapsed = await client.request("GET", "/api/v1/ping")
            alone.floor.append(elapsed)
        return alone
    finally:
        await client.close()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold off the load generator's own garbage collector while the users run. This process
    imported the app to seed its database, so a full collection here walks a few hundred thousand
    objects: 20–70 ms in which no reply is read, and every request then in flight is timed that
    much slower, as if the server had stalled. Replies are freed as they are dropped; what is
    alive beforehand is frozen (never walked again) and collecting resumes between phases."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


CLIENT_CPU: dict[str, list[float]] = {}  # per phase label, one figure per round
CLIENT_STALL: dict[str, list[float]] = {}  # per phase label, the longest pause of the load generator per round


async def watch_client(window: Window, label: str, every: float = 0.005) -> None:
    """How late the load generator's event loop ran while the window was open (its longest
    pause, in seconds): replies that arrive while it is stalled are timed late by as much."""
    await window.open_event.wait()
    longest = 0.0
    while (now := time.monotonic()) < window.until:
        await asyncio.sleep(every)
        longest = max(longest, time.monotonic() - now - every)
    CLIENT_STALL.setdefault(label, []).append(longest)


def in_parallel(user: Callable[[str, Pacer, Window, random.Random], Awaitable[None]], tokens: list[str],
                interval: float, seconds: float, label: str = "", round_: int = 0) -> float:
    """Run one coroutine per user in one event loop; the measured window's length in seconds.
    The schedule is the same on every run and both databases for the same round: the floor and
    the turns of one round are offered the same stream of arrivals."""
    rng = random.Random(20261122 + round_)
    window = Window(seconds, len(tokens))

    async def everyone() -> None:
        watch = asyncio.create_task(watch_client(window, label))
        await asyncio.gather(*(user(token, Pacer(interval, rng), window, rng) for token in tokens))
        await watch

    with collector_paused():
        asyncio.run(everyone())
    elapsed = time.monotonic() - window.opened_at
    # The load generator's own CPU while the window was open (not in the head starts).
    CLIENT_CPU.setdefault(label, []).append((time.process_time() - window.cpu_at_open) / elapsed if elapsed else 0.0)
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
    command = [str(Path(sys.executable).with_name("gunicorn")), "-c", "python:assistant.web.gunicorn_conf",
               "assistant.web:create_app()", "-w", str(workers), "-b", f"{HOST}:{port}",
               "--worker-class", worker_class, "--log-level", "warning", "--keep-alive", "5"]
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
    saving_ms: tuple[int, float, float] = (0, float("nan"), float("nan"))  # count, p50, p99
    ordinary_ms: tuple[int, float, float] = (0, float("nan"), float("nan"))
    slowest_bursts: tuple[int, int, int] = (0, 0, 0)  # the slowest 1%: how many, in how many bursts, largest
    round_p99_ms: list[float] = field(default_factory=list)  # each round's own p99, when pooled from rounds

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def measure(label: str, samples: Samples, seconds: float) -> Result:
    if os.environ.get("PTT_BENCH_DUMP"):
        with open(os.environ["PTT_BENCH_DUMP"], "a") as dump:
            dump.write(json.dumps({"label": label, "latencies": samples.latencies}) + "\n")
    return Result(label, len(samples.latencies), seconds, 1000 * percentile(samples.latencies, 0.50),
                  1000 * percentile(samples.latencies, 0.99), samples.completed, samples.errors,
                  _spread(samples.saving), _spread(samples.ordinary), slowest_bursts(samples.latencies))


def slowest_bursts(latencies: list[float], fraction: float = 0.01, gap: int = 3) -> tuple[int, int, int]:
    """The slowest ``fraction`` of replies (those at or above the percentile), grouped into
    bursts of replies that arrived within ``gap`` of one another: (how many, bursts, largest).
    Many slow replies in a row mean everything waited together (the machine, the load generator
    or every worker paused), not that some requests were slow."""
    if not latencies:
        return 0, 0, 0
    threshold = percentile(latencies, 1 - fraction)
    slow = [n for n, seconds in enumerate(latencies) if seconds >= threshold]
    bursts, largest, size = 0, 0, 0
    for previous, n in zip([-gap - 1, *slow], slow, strict=False):
        if n - previous > gap:
            bursts, size = bursts + 1, 0
        size += 1
        largest = max(largest, size)
    return len(slow), bursts, largest


def _spread(latencies: list[float]) -> tuple[int, float, float]:
    """How many, p50 and p99 in milliseconds."""
    return len(latencies), 1000 * percentile(latencies, 0.50), 1000 * percentile(latencies, 0.99)


def run_phase(label: str, port: int, tokens: list[str], args: argparse.Namespace, *, interval: float,
              turns_per_interview: int = 0) -> Result:
    """One measured phase: the floor, or (given ``turns_per_interview``) interview turns.

    Interviewers get head starts spread evenly over one interview, as people who began at
    different times would be: if all fifty began together, their interviews would end together
    too, and the window would measure fifty plans saved and fifty interviews begun in the same
    second rather than the steady mix of fifty people part-way through their work."""
    return pooled(label, [run_round(port, tokens, args, interval=interval, turns_per_interview=turns_per_interview,
                                    label=label, round_=0)])


def run_round(port: int, tokens: list[str], args: argparse.Namespace, *, interval: float, turns_per_interview: int,
              label: str, round_: int) -> tuple[Samples, float]:
    """One window of one phase: its samples and its length in seconds."""
    samples = Samples()
    if turns_per_interview:
        def user(token: str, pacer: Pacer, window: Window, rng: random.Random) -> Awaitable[None]:
            return run_interviews(port, token, pacer, window, samples, rng.randrange(turns_per_interview + 1))
    else:
        def user(token: str, pacer: Pacer, window: Window, rng: random.Random) -> Awaitable[None]:
            return run_floor(port, token, pacer, window, samples)
    return samples, in_parallel(user, tokens, interval, args.seconds, label, round_)


def pooled(label: str, rounds: list[tuple[Samples, float]]) -> Result:
    """The rounds' samples together, as one phase as long as them all; each round's own p99 is kept
    to show the spread between rounds."""
    samples = Samples()
    for one, _seconds in rounds:
        for name in ("latencies", "saving", "ordinary"):
            getattr(samples, name).extend(getattr(one, name))
        samples.errors.extend(one.errors)
        samples.completed += one.completed
    result = measure(label, samples, sum(seconds for _samples, seconds in rounds))
    if len(rounds) > 1:
        result.round_p99_ms = [1000 * percentile(one.latencies, 0.99) for one, _seconds in rounds]
    return result


def show(result: Result, users: int) -> None:
    print(f"{result.label:<34} {result.requests:>6} requests in {result.seconds:6.2f} s = "
          f"{result.per_second:7.1f}/s   p50 {result.p50_ms:6.1f} ms   p99 {result.p99_ms:7.1f} ms"
          + (f"   ({result.completed} interviews done)" if "turn" in result.label else ""))
    # A plan is saved by one turn in about 35 (thirteen writes where a turn makes four): with
    # roughly 3% of the turns, the plan-saving turns alone can set the p99 of them all.
    for (count, p50, p99), what in ((result.saving_ms, "saved a plan"), (result.ordinary_ms, "did not")):
        if count:
            print(f"{'':<34} {f'of which {count} {what}:':<31}p50 {p50:6.1f} ms   p99 {p99:7.1f} ms")
    if result.round_p99_ms:
        print(f"{'':<34} each round's own p99: " + ", ".join(f"{p99:.1f}" for p99 in result.round_p99_ms) + " ms")
    slow, bursts, largest = result.slowest_bursts
    if "offered" in result.label and slow:
        print(f"{'':<34} the slowest 1% ({slow} replies) came in {bursts} bursts, the largest {largest} in a row")
    for message in result.errors[:5]:
        print(f"   error: {message}")


def show_alone(alone: Alone) -> None:
    """What each request costs with no queueing. At a given load, the p99 grows with the mean
    worker time and, steeply, with the long requests (saving a plan) that hold a worker while the
    rest queue for the other, so these say where a turn's p99 comes from."""
    floor = statistics.mean(alone.floor)
    print(f"one user alone (no queueing): floor p50 {1000 * statistics.median(alone.floor):.1f} ms; "
          f"an interview's start {1000 * statistics.median(alone.start):.1f} ms, answers p50 "
          f"{1000 * statistics.median(alone.ordinary):.1f} ms, the answer that saves its plan "
          f"{1000 * statistics.median(alone.saving):.1f} ms")
    print(f"{'':<34} a worker's mean time per answer, with its share of the start and the save: "
          f"{1000 * alone.per_answer():.1f} ms = {alone.per_answer() / floor:.2f}x the floor's mean")


#: Above this share of the throughput flat out, a paced phase's p99 measures the queue of a machine
#: at its limit (a p99 in the hundreds of ms) more than the requests themselves.
SATURATED = 0.85


def show_headroom(rate: float, floor_per_second: float, turns_per_second: float) -> None:
    """How much of what the machine served flat out the paced phases offer: near 100%, the p99s
    and their ratio say that this machine (a VM whose speed drifts) was at its limit in that run,
    not how the code compares."""
    shares = {"the floor's": rate / floor_per_second if floor_per_second else float("inf"),
              "the turns'": rate / turns_per_second if turns_per_second else float("inf")}
    print(f"{rate:g}/s offered is " + " and ".join(f"{100 * share:.0f}% of {whose} flat-out rate"
                                                for whose, share in shares.items()))
    if max(shares.values()) > SATURATED:
        print(f"  over {100 * SATURATED:.0f}%: this machine was near or past its limit in this run, so the "
              "latency figures and their ratio mostly measure that queue")


def bench_backend(backend: str, database_url: str, args: argparse.Namespace) -> None:
    tokens = seed(database_url, args.users)
    interval = args.users / args.rate if args.rate > 0 else 0.0
    CLIENT_CPU.clear()
    CLIENT_STALL.clear()
    with gunicorn(database_url, args.workers, args.worker_class, args.threads) as port:
        # Warm up every worker (imports, policy packs, connections) before measuring.
        warm = Samples()
        in_parallel(lambda t, p, w, r: run_floor(port, t, p, w, warm), tokens[: args.workers * 4], 0.0, 2.0,
                    "warm-up")
        with collector_paused():
            alone = asyncio.run(one_user_alone(port, tokens[0]))
        turns = alone.turns
        floor_max = run_phase("floor, flat out", port, tokens, args, interval=0.0)
        turns_max = run_phase("interview turns, flat out", port, tokens, args, interval=0.0,
                              turns_per_interview=turns)
        # The paced phases alternate, floor then turns, round after round, so that whatever the
        # machine is doing at the time (it is a VM whose speed drifts) falls on both alike.
        floor_rounds: list[tuple[Samples, float]] = []
        turn_rounds: list[tuple[Samples, float]] = []
        floor_label, turns_label = f"floor at {args.rate:g}/s offered", f"turns at {args.rate:g}/s offered"
        for n in range(args.rounds):
            floor_rounds.append(run_round(port, tokens, args, interval=interval, turns_per_interview=0,
                                          label=floor_label, round_=n))
            turn_rounds.append(run_round(port, tokens, args, interval=interval, turns_per_interview=turns,
                                         label=turns_label, round_=n))
        floor_paced, turns_paced = pooled(floor_label, floor_rounds), pooled(turns_label, turn_rounds)

    print(f"\n== {backend}: {args.users} users, gunicorn -w {args.workers} ({args.worker_class}"
          f"{f', {args.threads} threads' if args.worker_class == 'gthread' else ''}) on {HOST} ==")
    print("floor = GET /api/v1/ping (token check + one audit row); turn = POST .../messages (one answer)")
    print(f"an interview is {turns} answers; interviewers start part-way through one, spread evenly")
    print(f"paced phases: {args.rounds} rounds of {args.seconds:g} s each, floor and turns alternating, pooled")
    show_alone(alone)
    for result in (floor_max, turns_max, floor_paced, turns_paced):
        show(result, args.users)
    print(f"load generator's own CPU (on the same {os.cpu_count()} cores as the server): "
          + ", ".join(f"{k} {max(v):.2f}" for k, v in CLIENT_CPU.items() if k != "warm-up") + " cores")
    print("its longest pause in any round (replies arriving then are timed late by as much): "
          + ", ".join(f"{k} {1000 * max(v):.1f} ms" for k, v in CLIENT_STALL.items() if k != "warm-up"))
    ratio_p50 = turns_paced.p50_ms / floor_paced.p50_ms if floor_paced.p50_ms else float("nan")
    ratio_p99 = turns_paced.p99_ms / floor_paced.p99_ms if floor_paced.p99_ms else float("nan")
    ratio_rate = floor_max.per_second / turns_max.per_second if turns_max.per_second else float("nan")
    print(f"turns/s (flat out): {turns_max.per_second:.1f}; at {args.rate:g}/s offered: "
          f"p50 {turns_paced.p50_ms:.1f} ms, p99 {turns_paced.p99_ms:.1f} ms")
    print(f"ratio to floor: latency p50 {ratio_p50:.2f}x, p99 {ratio_p99:.2f}x; throughput {ratio_rate:.2f}x")
    show_headroom(args.rate, floor_max.per_second, turns_max.per_second)
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
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase (default 10 s)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the paced phases, floor and turns alternating (default 3)")
    args = parser.parse_args(argv)
    if args.users < 1 or args.users > 500:
        parser.error("--users must be between 1 and 500")
    if not 1 <= args.seconds <= 600:
        parser.error("--seconds must be between 1 and 600")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be between 1 and 20")
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    for backend in backends:
        manager = sqlite_database() if backend == "sqlite" else postgres_database()
        with manager as url:
            if url is not None:
                bench_backend(backend, url, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
