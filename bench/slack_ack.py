"""How fast the Slack app acknowledges slash commands under load (target: p99 ≤ 100 ms).

Separate processes on loopback, so that each one's threads compete only with their own: the fake
Slack Web API; the app served live with its lazy listeners on the thread pool, as deployed; and
the load, from one asyncio thread: rounds of 50 concurrent signed ``/ptt plans`` commands from a
known user, each connection opened and each request signed before the clock starts, all sent at
once. Two servers are measured: werkzeug's threaded server in one process (what the end-to-end
tests use) and gunicorn with two gthread workers (the production set-up). Also measured, for
scale: the same burst against a Flask endpoint that does nothing (the floor of that server on
this machine).

Reports the acknowledgement latency (request written → HTTP response read) p50/p99/max, and
whether every follow-up answer reached the response URL. Prints; never asserts. Bounded: a
fixed number of rounds, and every request, wait and process has a timeout.

    .venv/bin/python bench/slack_ack.py [--rounds 4] [--concurrency 50] [--server both|werkzeug|gunicorn]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "e2e" / "slack")]

from slack_fakes import FakeSlack, SlackSide, SlackUser, signed_headers  # noqa: E402

SECRET = "bench-signing-secret"
USER = SlackUser("UBENCH", "dsl@bench.sch.uk", "Bench DSL")
TIMEOUT = 15.0
DRAIN_TIMEOUT = 60.0
START_TIMEOUT = 60.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


# --------------------------------------------------------------------------- the fake Slack
def run_fake_slack(conn: Connection) -> None:
    fake = FakeSlack([USER]).start()
    conn.send(fake.port)
    while True:
        message = conn.recv()
        if message == "stop":
            break
        _, count = message
        with contextlib.suppress(AssertionError):  # a timeout: report what arrived
            fake.wait_for(lambda c: c.method == "response_url", count=count, timeout=DRAIN_TIMEOUT)
        conn.send(len(fake.calls_to("response_url")))
    fake.stop()


# --------------------------------------------------------------------------- the app
def seed(url: str) -> None:
    from storage.db import make_engine, make_session_factory
    from storage.migrate import upgrade
    from storage.repositories import DirectoryRepository
    from storage.uow import UnitOfWork

    upgrade(url)
    engine = make_engine(url)
    with UnitOfWork(make_session_factory(engine)) as unit:
        directory = DirectoryRepository(unit.session)
        la = directory.get_or_create_la("derby-city", "Derby City Council")
        school = directory.get_or_create_school("Bench Primary", la.id)
        directory.upsert_user(USER.email, "dsl", school_id=school.id, slack_user_id=USER.id)
        unit.commit()
    engine.dispose()


def wsgi_app() -> Any:
    """The app for gunicorn (``bench.slack_ack:wsgi_app()``), configured by BENCH_* variables."""
    from flask import Flask

    from assistant.slack.http import init_app
    from storage.db import make_engine, make_session_factory

    app = Flask("slack-bench")
    if os.environ.get("BENCH_FLOOR"):
        app.add_url_rule("/slack/events", "events", lambda: "", methods=["POST"])
        return app
    app.extensions["ptt"] = SimpleNamespace(
        settings=SimpleNamespace(slack_signing_secret=SECRET, slack_bot_token="xoxb-bench",
                                 slack_api_base_url=f"http://127.0.0.1:{os.environ['BENCH_FAKE_PORT']}/api/",
                                 ptt_base_url="http://ptt.bench"),
        session_factory=make_session_factory(make_engine(os.environ["BENCH_DATABASE_URL"])))
    init_app(app)
    return app


def run_werkzeug(conn: Connection, environment: dict[str, str]) -> None:
    from werkzeug.serving import make_server

    os.environ.update(environment)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, wsgi_app(), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(server.server_port)
    conn.recv()
    server.shutdown()
    server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """One server under test, started in its own process(es)."""

    def __init__(self, kind: str, environment: dict[str, str]) -> None:
        self.kind = kind
        self.environment = environment
        self.port = 0
        self._process: Any = None
        self._conn: Connection | None = None

    def __enter__(self) -> Server:
        if self.kind == "werkzeug":
            end, child = mp.get_context("spawn").Pipe()
            self._process = mp.get_context("spawn").Process(target=run_werkzeug, args=(child, self.environment),
                                                            daemon=True)
            self._process.start()
            if not end.poll(START_TIMEOUT):
                raise RuntimeError("werkzeug did not start")
            self._conn, self.port = end, end.recv()
            return self
        self.port = free_port()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "slack_ack:wsgi_app()", "-w", "2", "-k", "gthread",
             "--threads", "32", "--backlog", "256", "-b", f"127.0.0.1:{self.port}", "--log-level", "warning",
             "--chdir", str(ROOT / "bench")],
            env={**os.environ, **self.environment,
                 "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests" / "e2e" / "slack")])},
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc: object) -> None:
        if self.kind == "werkzeug":
            if self._conn is not None:
                self._conn.send("stop")
            self._process.join(10)
            if self._process.is_alive():
                self._process.terminate()
        else:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()


# --------------------------------------------------------------------------- the load
def raw_request(port: int, body: str, headers: dict[str, str]) -> bytes:
    data = body.encode()
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(data)}\r\n"
            f"Connection: close\r\n{head}\r\n").encode() + data


async def _one(port: int, raw: bytes, go: asyncio.Event) -> tuple[float, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await go.wait()
        started = time.perf_counter()
        writer.write(raw)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        if length:
            await reader.readexactly(length)
        return time.perf_counter() - started, int(head.split(b" ", 2)[1])
    finally:
        writer.close()


async def _burst(port: int, raws: list[bytes]) -> list[tuple[float, int]]:
    go = asyncio.Event()
    tasks = [asyncio.create_task(_one(port, raw, go)) for raw in raws]
    await asyncio.sleep(0.1)  # every connection open before the clock starts
    go.set()
    done = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), TIMEOUT)
    return [d if isinstance(d, tuple) else (TIMEOUT, 0) for d in done]


def burst(port: int, side: SlackSide, text: str, count: int) -> list[tuple[float, int]]:
    raws = []
    for _ in range(count):
        request, _ = side.slash_command(USER.id, text)
        raws.append(raw_request(port, request.body, signed_headers(SECRET, request.body,
                                                                   content_type=request.content_type)))
    return asyncio.run(_burst(port, raws))


def measure(kind: str, environment: dict[str, str], side: SlackSide, args: argparse.Namespace,
            fake: Connection | None) -> None:
    with Server(kind, environment) as server:
        baseline = 0
        for _ in range(2):  # warm up every worker: imports, auth.test, first connections
            burst(server.port, side, args.text, args.concurrency)
        if fake is not None:  # each warm-up command gets exactly one answer
            baseline = 2 * args.concurrency
            fake.send(("drain", baseline))
            fake.recv()
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        slowest_answers = 0.0
        for _ in range(args.rounds):
            began = time.perf_counter()
            for latency, status in burst(server.port, side, args.text, args.concurrency):
                latencies.append(latency * 1000)
                statuses[status] = statuses.get(status, 0) + 1
            if fake is not None:  # each burst meets an idle server: wait for its answers
                fake.send(("drain", baseline + len(latencies)))
                fake.recv()
                slowest_answers = max(slowest_answers, time.perf_counter() - began)
        answered = ""
        if fake is not None:
            fake.send(("drain", baseline + len(latencies)))
            got = min(fake.recv() - baseline, len(latencies))
            answered = (f"; answers at the response URL {got}/{len(latencies)}, "
                        f"each burst's within {slowest_answers:.1f} s")
    label = "floor (empty endpoint)" if environment.get("BENCH_FLOOR") else f"/ptt {args.text}"
    print(f"{kind:9} {label:22} n={len(latencies)} {statuses}  p50 {statistics.median(latencies):6.1f} ms  "
          f"p99 {percentile(latencies, 0.99):6.1f} ms  max {max(latencies):6.1f} ms{answered}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--text", default="plans", help="what follows /ptt (default: plans)")
    parser.add_argument("--server", choices=["both", "werkzeug", "gunicorn"], default="both")
    parser.add_argument("--no-floor", action="store_true", help="skip the empty-endpoint baseline")
    args = parser.parse_args()

    context = mp.get_context("spawn")
    fake_end, fake_child = context.Pipe()
    fake_process = context.Process(target=run_fake_slack, args=(fake_child,), daemon=True)
    fake_process.start()
    if not fake_end.poll(START_TIMEOUT):
        print("the fake Slack did not start")
        return 1
    fake_port = fake_end.recv()
    response_urls = SimpleNamespace(new_response_url=lambda: f"http://127.0.0.1:{fake_port}/response/1")
    side = SlackSide(response_urls)  # type: ignore[arg-type]
    print(f"{args.rounds} rounds × {args.concurrency} concurrent signed slash commands, {os.cpu_count()} CPUs; "
          "target p99 ≤ 100 ms")
    try:
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite:///{Path(directory) / 'bench.db'}"
            seed(url)
            environment = {"BENCH_DATABASE_URL": url, "BENCH_FAKE_PORT": str(fake_port)}
            kinds = ["werkzeug", "gunicorn"] if args.server == "both" else [args.server]
            for kind in kinds:
                if not args.no_floor:
                    measure(kind, {"BENCH_FLOOR": "1"}, side, args, None)
                measure(kind, environment, side, args, fake_end)
    finally:
        fake_end.send("stop")
        fake_process.join(10)
        if fake_process.is_alive():
            fake_process.terminate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
