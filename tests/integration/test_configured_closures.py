"""Closures configured for an LA or a school count in every conversation its staff start."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from assistant.services import conversations as conversation_service
from assistant.services.closures import ClosureError, add_closure, closures_for_school
from storage.models import School, User
from tests.integration.conftest import seed_staff

# A Derby City check for a Y5 pupil starting Monday 12 January 2026 and ending Friday 27 February:
# seven calendar weeks, which is six school weeks only if the school is closed for half term.
ANSWERS = {
    "pupil.year_group": "Y5",
    "reasons": "mental_health",
    "plan.start_date": "2026-01-12",
    "plan.end_date": "2026-02-27",
    "plan.hours_per_week": "12",
    "calendar.closures": "none",
    "steps.parent_consent": "given",
    "steps.risk_assessment": "no_concerns",
}


def run_check(session_factory: sessionmaker[Session], user_id: int) -> dict:
    with session_factory() as session:
        user = session.get(User, user_id)
        view = conversation_service.start(session, user, "derby-city", date(2026, 1, 5))
        session.commit()
        for _ in range(60):
            if view.finished:
                return view.decision or {}
            reply = view.replies[-1]
            fact = reply.fact or ""
            if fact in ANSWERS:
                text = ANSWERS[fact]
            elif fact.startswith("circumstances."):
                text = "no"
            elif fact.startswith("consultations."):
                text = "consulted"
            else:
                text = "yes"
            view = conversation_service.send(session, user, view.id, text, today=date(2026, 1, 5))
            session.commit()
    raise AssertionError("the check did not finish")


def test_a_schools_half_term_lets_a_seven_week_plan_stay_within_six_school_weeks(
    session_factory: sessionmaker[Session],
) -> None:
    staff = seed_staff(session_factory)
    before = run_check(session_factory, staff.lead_id)
    assert before["outcome"] == "must_not_proceed"
    assert before["latest_end_date"] == "2026-02-20"

    with session_factory() as session:
        add_closure(session, "school", "Oak Primary", date(2026, 2, 16), date(2026, 2, 20), "February half term")
        session.commit()
    after = run_check(session_factory, staff.lead_id)
    assert after["latest_end_date"] == "2026-02-27"
    assert after["outcome"] == "may_proceed"


def test_an_las_closures_apply_to_its_schools_and_the_schools_own_are_added(
    session_factory: sessionmaker[Session],
) -> None:
    staff = seed_staff(session_factory)
    with session_factory() as session:
        add_closure(session, "la", "derby-city", date(2026, 2, 16), date(2026, 2, 20), "half term")
        add_closure(session, "school", "Oak Primary", date(2026, 3, 2), date(2026, 3, 2), "INSET day")
        session.commit()
        assert closures_for_school(session, staff.school_id) == [
            (date(2026, 2, 16), date(2026, 2, 20)),
            (date(2026, 3, 2), date(2026, 3, 2)),
        ]


def test_a_school_outside_any_la_keeps_its_own_closures_and_an_unknown_school_has_none(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        academy = School(name="Free Academy", la_id=None,
                         closures_json=[{"from": "2026-04-06", "to": "2026-04-17", "label": "Easter"}])
        session.add(academy)
        session.commit()
        assert closures_for_school(session, academy.id) == [(date(2026, 4, 6), date(2026, 4, 17))]
        assert closures_for_school(session, 999_999) == []
        assert closures_for_school(session, None) == []


def test_a_closure_that_ends_before_it_starts_is_refused(session_factory: sessionmaker[Session]) -> None:
    seed_staff(session_factory)
    with session_factory() as session, pytest.raises(ClosureError, match="before it starts"):
        add_closure(session, "school", "Oak Primary", date(2026, 2, 20), date(2026, 2, 16))


def test_ptt_closures_adds_and_lists_a_schools_closures(tmp_path: Path) -> None:
    ptt = str(Path(sys.executable).parent / "ptt")
    environment = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'ptt.db'}"}
    subprocess.run([ptt, "users", "add", "dsl@oak.example.org", "--role", "dsl", "--school", "Oak Primary",
                    "--la", "derby-city"], env=environment, check=True, capture_output=True, timeout=60)
    added = subprocess.run([ptt, "closures", "add", "--school", "Oak Primary", "16/02/2026", "20/02/2026",
                            "--label", "February half term"], env=environment, capture_output=True, text=True,
                           timeout=60)
    assert added.returncode == 0, added.stderr
    listed = subprocess.run([ptt, "closures", "list", "--school", "Oak Primary"], env=environment,
                            capture_output=True, text=True, timeout=60)
    assert "2026-02-16  2026-02-20  February half term" in listed.stdout
    unknown = subprocess.run([ptt, "closures", "list", "--school", "Elm Academy"], env=environment,
                             capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "no school called 'Elm Academy'" in unknown.stderr
