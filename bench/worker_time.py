"""What one gunicorn sync worker spends on each kind of request, and on what: timed inside the
worker, one request at a time, so that no queueing and no other client's load is in the figures.

    .venv/bin/python bench/worker_time.py                        # PostgreSQL (default), 20 interviews
    .venv/bin/python bench/worker_time.py --backend sqlite --interviews 40

The p99 of ``bench/web_load.py`` at 300/s moves by a factor of two between runs of the same code on
this VM (its speed drifts), so it cannot tell whether a change of 5% in an answer's cost helped.
What the queueing follows is the time each kind of request holds a worker: these are those times
(median of the wall time inside the worker, and its CPU time), split into the service sections
that make them up (mean per request, wrapped calls nest), for an interview's start, an ordinary
answer, the answer that saves the plan and the floor (``GET /api/v1/ping``). The last line feeds
them to ``bench/queue_model.py``. Times inside the worker leave out the HTTP connection and the
client; the wrappers add about a microsecond per section. It prints; it never asserts.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import http.client
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: The sections timed: (module, attribute path). Calls nest: ``send`` includes ``respond``.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("assistant.services.auth", "caller_for_token"),
    ("assistant.services.conversations", "start"),
    ("assistant.services.conversations", "_send_once"),
    ("conversations", "respond"),
    ("assistant.services.conversations", "_store_turn"),
    ("assistant.services.conversations", "_write_turn"),
    ("assistant.services.conversations", "_save_plan"),
    ("assistant.services.plans", "create_plan"),
    ("storage.plan_writes", "PlanWriter.insert"),
    ("assistant.services.conversations", "_view"),
    ("assistant.services.conversations", "ConversationView.public"),
    ("storage.repositories", "AuditRepository.record"),
    ("sqlalchemy.orm", "Session.commit"),
    ("assistant.web.api", "jsonify"),
)
OUTPUT_ENV = "PTT_WORKER_TIME_OUT"


# --------------------------------------------------------------------------- inside the worker
def worker_app() -> Callable[..., Iterable[bytes]]:
    """The app as gunicorn serves it, with the sections wrapped and each request's times kept;
    they are written to ``$PTT_WORKER_TIME_OUT.<pid>`` when the worker exits."""
    from assistant.web import create_app

    app = create_app()
    timings: dict[str, float] | None = None

    def timed(function: Callable[..., Any], name: str) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                if timings is not None:
                    timings[name] = timings.get(name, 0.0) + time.perf_counter() - started
        return wrapper

    for module_name, path in SECTIONS:
        owner: Any = importlib.import_module(module_name)
        *parents, attribute = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        setattr(owner, attribute, timed(getattr(owner, attribute), path))
    records: list[dict[str, Any]] = []

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        nonlocal timings
        timings = {}
        started, cpu = time.perf_counter(), time.process_time()
        body = app(environ, start_response)
        try:
            content = b"".join(body)
        finally:
            getattr(body, "close", lambda: None)()
        record, timings = {"path": environ["PATH_INFO"], "method": environ["REQUEST_METHOD"],
                           "wall": time.perf_counter() - started, "cpu": time.process_time() - cpu,
                           "sections": timings}, None
        if record["path"].endswith("/messages"):
            record["plan_id"] = json.loads(content).get("plan_id")
        records.append(record)
        return [content]

    def write() -> None:
        with open(f"{os.environ[OUTPUT_ENV]}.{os.getpid()}", "w") as out:
            json.dump(records, out)

    atexit.register(write)
    return application


# --------------------------------------------------------------------------- the client
def kinds(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The requests by kind: the floor, an interview's start, an ordinary answer, and the answer
    that saved a plan (the first to carry its id)."""
    grouped: dict[str, list[dict[str, Any]]] = {"start": [], "answer": [], "save": [], "floor": []}
    saved: set[int] = set()
    for record in records:
        if record["path"].endswith("/ping"):
            grouped["floor"].append(record)
        elif record["path"].endswith("/messages"):
            plan_id = record.get("plan_id")
            new_plan = plan_id is not None and plan_id not in saved
            if new_plan:
                saved.add(plan_id)
            grouped["save" if new_plan else "answer"].append(record)
        elif record["method"] == "POST" and record["path"].endswith("/conversations"):
            grouped["start"].append(record)
    return grouped


def median_ms(records: list[dict[str, Any]], key: str) -> float:
    return 1000 * statistics.median(r[key] for r in records)


def show(grouped: dict[str, list[dict[str, Any]]]) -> None:
    from bench.web_load import Alone

    for kind, records in grouped.items():
        if not records:
            continue
        print(f"{kind:<7} n={len(records):<5} worker wall p50 {median_ms(records, 'wall'):6.2f} ms, "
              f"CPU p50 {median_ms(records, 'cpu'):6.2f} ms")
        names = sorted({name for r in records for name in r["sections"]},
                       key=lambda name: -sum(r["sections"].get(name, 0.0) for r in records))
        for name in names:
            mean = 1000 * statistics.mean(r["sections"].get(name, 0.0) for r in records)
            print(f"{'':<9}{name:<40} {mean:6.3f} ms")
    floor, answer = median_ms(grouped["floor"], "wall"), median_ms(grouped["answer"], "wall")
    save, start = median_ms(grouped["save"], "wall"), median_ms(grouped["start"], "wall")
    walls = {kind: [r["wall"] for r in records] for kind, records in grouped.items()}
    alone = Alone(floor=walls["floor"], start=walls["start"], ordinary=walls["answer"], saving=walls["save"])
    per_answer = alone.per_answer()
    answers = len(alone.ordinary) + len(alone.saving)
    print(f"an ordinary answer holds the worker {answer / floor:.2f}x as long as the floor (medians); per answer, "
          f"with its share of the start and the save, the mean is {1000 * per_answer:.2f} ms = "
          f"{per_answer / statistics.mean(alone.floor):.2f}x the floor's mean")
    print(f"queue model: .venv/bin/python bench/queue_model.py --rate 300 --floor {floor:.2f} --answer {answer:.2f} "
          f"--save {save:.2f} --start {start:.2f} --answers {round(answers / len(alone.saving))}")
    print("(times one user alone: under load each grows, with the cores shared by the database and the load)")


def main(argv: list[str] | None = None) -> int:
    from bench.web_load import (
        HOST,
        MAX_TURNS,
        answer_for,
        free_port,
        interview_answers,
        postgres_database,
        seed,
        sqlite_database,
        wait_until_up,
    )

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--interviews", type=int, default=20,
                        help="interviews timed (default 20), after two untimed; each followed by as many floor calls "
                             "as it had answers")
    args = parser.parse_args(argv)

    database = postgres_database() if args.backend == "postgres" else sqlite_database()
    with database as url:
        if url is None:
            return 1
        token = seed(url, 1)[0]
        output = Path(f"/tmp/ptt-worker-time-{os.getpid()}")
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-secret", "PTT_SWEEPER": "0",
               "COOKIE_SECURE": "0", "PYTHONPATH": str(ROOT), OUTPUT_ENV: str(output)}
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "-c", "python:assistant.web.gunicorn_conf",
             "bench.worker_time:worker_app()", "-w", "1", "-b", f"{HOST}:{port}", "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        def request(method: str, path: str, body: Any = None) -> Any:
            connection = http.client.HTTPConnection(HOST, port, timeout=30)
            try:
                connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
                response = connection.getresponse()
                reply = json.loads(response.read())
                if response.status not in (200, 201):
                    raise RuntimeError(f"{method} {path}: HTTP {response.status} {reply}")
                return reply
            finally:
                connection.close()

        answers = interview_answers(date.today())
        try:
            wait_until_up(port, server)
            for _ in range(args.interviews + 2):
                reply = request("POST", "/api/v1/conversations", {"policy": "derby-city"})
                answered = 0
                while not reply.get("plan_id"):
                    answered += 1
                    if answered > MAX_TURNS:
                        raise RuntimeError(f"an interview saved no plan in {MAX_TURNS} answers")
                    reply = request("POST", f"/api/v1/conversations/{reply['id']}/messages",
                                    {"text": answer_for(reply["replies"][-1], answers), "version": reply["version"]})
                for _ in range(answered):
                    request("GET", "/api/v1/ping")
        finally:
            server.terminate()
            server.wait(15)
        records: list[dict[str, Any]] = []
        for part in output.parent.glob(f"{output.name}.*"):
            records.extend(json.loads(part.read_text()))
            part.unlink()
    grouped = kinds(records)
    untimed = 2
    for kind in grouped:  # the first two interviews (and their floor calls) warm the worker up
        share = len(grouped[kind]) * untimed // (args.interviews + untimed)
        grouped[kind] = grouped[kind][share:]
    print(f"== {args.backend}: one gunicorn sync worker, one user, {args.interviews} interviews "
          f"(Derby City) and as many floor calls as answers ==")
    show(grouped)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
