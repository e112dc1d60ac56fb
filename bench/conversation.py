"""Benchmark: one conversation turn in process, including persistence on SQLite.

Drives generated cases through ``assistant.services.conversations.send`` (engine + state,
answer log and audit row committed to an SQLite file on every answer) and, for comparison, the
pure engine alone. Target: ≤ 1 ms median per turn with persistence. Prints; asserts nothing.
Run: ``.venv/bin/python bench/conversation.py [--conversations 200]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from assistant.services import conversations as service
from bench.rules import generated_case
from conversations import ConversationState, respond, start_conversation
from rules import known_policy_ids
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.uow import UnitOfWork
from tests.unit.conversation_client import answer_for

TODAY = date(2026, 1, 5)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(7)
    cases = [generated_case(rng, rng.choice(known_policy_ids())) for _ in range(args.conversations)]

    engine_only: list[float] = []
    for case in cases:
        turn = start_conversation(case["policy"], TODAY)
        for _ in range(80):
            if turn.finished:
                break
            text = answer_for(case, turn.replies[-1].fact or "")
            state = ConversationState.model_validate(turn.state.model_dump(mode="json"))
            started = time.perf_counter()
            turn = respond(state, text, TODAY)
            engine_only.append(time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        upgrade(url)
        session_factory = make_session_factory(make_engine(url))
        with UnitOfWork(session_factory) as uow:
            la = uow.directory.get_or_create_la("derby-city", "Derby City Council")
            school = uow.directory.get_or_create_school("Oak Primary", la.id)
            user = uow.directory.upsert_user("bench@oak.example.org", "dsl", school_id=school.id, la_id=la.id)
            uow.commit()
            user_id = user.id
        persisted: list[float] = []
        for case in cases:
            with session_factory() as session:
                staff = session.get(type(user), user_id)
                view = service.start(session, staff, case["policy"], TODAY)
                session.commit()
                for _ in range(80):
                    if view.finished:
                        break
                    text = answer_for(case, view.replies[-1].fact or "")
                    started = time.perf_counter()
                    view = service.send(session, staff, view.id, text, today=TODAY)
                    session.commit()
                    persisted.append(time.perf_counter() - started)

    print(f"conversation turns over {len(cases)} generated cases (all four policies)")
    for label, samples, target in (
        ("engine only", engine_only, ""),
        ("with SQLite persistence", persisted, "   (target: median <= 1 ms)"),
    ):
        median_ms = statistics.median(samples) * 1e3
        p99_ms = percentile(samples, 0.99) * 1e3
        print(f"  {label:<26}{len(samples):>6} turns, median {median_ms:.3f} ms, p99 {p99_ms:.3f} ms{target}")

if __name__ == "__main__":
    main()
