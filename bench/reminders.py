"""Benchmark: one reminder sweep over many stored plans, few of them due.

    .venv/bin/python bench/reminders.py                 # SQLite, and PostgreSQL if reachable
    .venv/bin/python bench/reminders.py --backend sqlite --plans 100000 10000

For each size it stores N plans with five reminders each (due over the coming weeks,
plus a history of sent ones) and makes a fixed number due now (1% of 100,000 = 1,000),
then times a full sweep (reap, escalate, claim, deliver to a null deliverer, mark
sent), three times over the same due rows (reset in between), and reports the median.
The cost should follow the due rows, not the table: the figures for 100,000 and 10,000
plans should be close. Prints figures; asserts nothing. Target: <= 2 s at 100,000.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, update
from sqlmodel import col, select

from assistant.reminders import ReminderMessage, SweepSettings, run_once
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.models import LocalAuthority, Plan, Pupil, Reminder, School, User

NOW = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
PG_SERVER = os.environ.get("PTT_TEST_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")


class NullDeliverer:
    def __init__(self) -> None:
        self.count = 0

    def deliver(self, message: ReminderMessage) -> None:
        self.count += 1


def populate(url: str, plans: int, due: int) -> int:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    created = NOW - timedelta(days=30)
    with factory() as session:
        la = LocalAuthority(name="Bench LA", policy_id="derby-city")
        session.add(la)
        session.flush()
        school = School(name="Bench School", la_id=la.id)
        session.add(school)
        session.flush()
        lead = User(email="lead@bench.test", role="staff", school_id=school.id,
                    display_name="Lead", created_at=created)
        session.add_all([lead, User(email="dsl@bench.test", role="dsl", school_id=school.id,
                                    display_name="DSL", created_at=created)])
        session.flush()
        chunk = 20_000
        for first in range(0, plans, chunk):
            count = min(chunk, plans - first)
            session.execute(insert(Pupil), [
                {"first_name": f"P{first + i}", "last_name": "B", "school_id": school.id}
                for i in range(count)])
        pupil_ids = list(session.exec(select(Pupil.id).order_by(col(Pupil.id))))
        for first in range(0, plans, chunk):
            session.execute(insert(Plan), [
                {"school_id": school.id, "pupil_id": pid, "policy_id": "derby-city",
                 "status": "active", "case_json": {}, "version": 1,
                 "extended_beyond_maximum": False, "lead_user_id": lead.id,
                 "created_at": created, "updated_at": created}
                for pid in pupil_ids[first:first + chunk]])
        plan_ids = list(session.exec(select(Plan.id).order_by(col(Plan.id))))
        step = max(1, plans // due)
        due_plans = set(plan_ids[::step][:due])
        rows: list[dict[str, Any]] = []
        stored = 0
        for n, plan_id in enumerate(plan_ids):
            for k in range(5):
                base = {"plan_id": plan_id, "kind": "review_due", "subject": f"r{k}",
                        "idempotency_key": f"plan:{plan_id}:review_due:r{k}", "attempts": 0,
                        "escalation_level": 0, "recipient_role": "lead",
                        "recipient_user_id": lead.id, "created_at": created}
                if k == 0 and plan_id in due_plans:
                    base.update(status="pending", due_at=NOW - timedelta(minutes=5))
                elif k < 2:  # history: already sent, nobody needs to act any more
                    base.update(status="sent", due_at=NOW - timedelta(days=14 - k + n % 7),
                                sent_at=NOW - timedelta(days=14 - k))
                else:  # the coming weeks
                    base.update(status="pending",
                                due_at=NOW + timedelta(days=1 + (n + k * 3) % 40))
                rows.append(base)
            if len(rows) >= chunk:
                session.execute(insert(Reminder), rows)
                stored += len(rows)
                rows = []
        if rows:
            session.execute(insert(Reminder), rows)
            stored += len(rows)
        session.commit()
    # Steady state: statistics gathered and the bulk load flushed, as it would be long
    # before a routine sweep.
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
            connection.exec_driver_sql("CHECKPOINT")
    else:
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    return stored


def sweep(url: str, repeat: int) -> tuple[list[float], int]:
    """Time ``repeat`` sweeps; between them the same rows are made due again."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    timings: list[float] = []
    delivered = 0
    for _ in range(repeat):
        deliverer = NullDeliverer()
        with factory() as session:  # open the pool's connection outside the timing
            session.exec(select(Plan.id).limit(1)).all()
        started = time.perf_counter()
        run_once(factory, NOW, {"email": deliverer}, worker_id="bench",
                 settings=SweepSettings(batch_size=200))
        timings.append(time.perf_counter() - started)
        delivered = deliverer.count
        with factory() as session:
            session.execute(
                update(Reminder).where(col(Reminder.claimed_by) == "bench")
                .values(status="pending", sent_at=None, claimed_by=None, claimed_at=None,
                        attempts=0, escalate_at=None))
            session.commit()
    engine.dispose()
    return timings, delivered


def sqlite_url(directory: str, plans: int) -> str:
    return f"sqlite:///{Path(directory) / f'bench_{plans}.db'}"


def run_backend(backend: str, sizes: list[int], due: int, repeat: int) -> None:
    admin = None
    if backend == "postgresql":
        import psycopg

        try:
            admin = psycopg.connect(f"{PG_SERVER}/test", autocommit=True, connect_timeout=3)
        except psycopg.OperationalError as error:
            print(f"postgresql: not reachable ({str(error).strip().splitlines()[0]}); skipped")
            return
    with tempfile.TemporaryDirectory() as directory:
        for plans in sizes:
            if admin is not None:
                name = f"ptt_bench_{uuid.uuid4().hex[:10]}"
                admin.execute(f'CREATE DATABASE "{name}"')
                url = f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
            else:
                url = sqlite_url(directory, plans)
            try:
                upgrade(url)
                t0 = time.perf_counter()
                stored = populate(url, plans, due)
                setup = time.perf_counter() - t0
                timings, delivered = sweep(url, repeat)
                best, median = min(timings), statistics.median(timings)
                print(f"{backend:10} plans={plans:>7,} reminders={stored:>7,} due={delivered:>5,} "
                      f"sweep median={median:6.3f}s best={best:6.3f}s "
                      f"per due row={1000 * median / max(1, delivered):5.2f}ms "
                      f"(first {timings[0]:.3f}s; setup {setup:.0f}s)", flush=True)
            finally:
                if admin is not None:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if admin is not None:
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--plans", type=int, nargs="+", default=[100_000, 10_000])
    parser.add_argument("--due", type=int, default=1_000, help="reminders due now (default 1,000)")
    parser.add_argument("--repeat", type=int, default=3, help="sweeps timed per size (default 3)")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"one sweep, {args.due:,} reminders due, null deliverer; target <= 2 s at 100,000 plans")
    for backend in backends:
        run_backend(backend, args.plans, args.due, args.repeat)


if __name__ == "__main__":
    main()
