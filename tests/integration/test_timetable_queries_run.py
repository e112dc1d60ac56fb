"""Message queries run on a real database: which school a query names (told apart by the words
that distinguish schools, asked back when two answer equally well), and which plans it finds."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from assistant.services.queries import TimetableQueryResult, run_timetable_query
from assistant.slack.blocks import row_line
from conversations.queries import TimetableQuery, parse_timetable_query
from storage.models import Plan, Pupil, User
from storage.repositories import DirectoryRepository
from storage.uow import UnitOfWork

SCHOOLS = ("Oak Primary School", "Riverside Primary School", "Oakwood Academy", "Oak Hill Infants",
           "St Mary's CE Primary", "St Mary's Catholic Primary", "Portway Infant School", "Portway Junior School")


@pytest.fixture
def ewo(session_factory: sessionmaker[Session]) -> User:
    with UnitOfWork(session_factory) as unit:
        directory = DirectoryRepository(unit.session)
        la = directory.get_or_create_la("derby-city", "Derby City Council")
        for name in SCHOOLS:
            directory.get_or_create_school(name, la.id)
        user = directory.upsert_user("ewo@derby.example", "ewo", school_id=None, la_id=la.id)
        unit.commit()
        unit.session.refresh(user)
        unit.session.expunge(user)
        return user


def ask(session_factory: sessionmaker[Session], user: User, text: str) -> TimetableQueryResult:
    query = parse_timetable_query(text, today=date(2026, 3, 11))
    assert isinstance(query, TimetableQuery), query
    return run_timetable_query(session_factory, user, query, base_url="http://ptt.test")


@pytest.mark.parametrize(("text", "school"), [
    ("how many at Oak Primary for LAC", "Oak Primary School"),  # "Primary" alone would pick Riverside
    ("active at Oak Primary on a CP plan", "Oak Primary School"),
    ("how many active at oak primary in year 6", "Oak Primary School"),
    ("active at Riverside", "Riverside Primary School"),
    ("active at St Mary's Catholic", "St Mary's Catholic Primary"),
    ("active at St Mary's CE", "St Mary's CE Primary"),
    ("active at Portway Junior", "Portway Junior School"),  # the words that tie them still tell them apart
])
def test_a_school_is_found_by_the_words_that_tell_it_apart(
        session_factory: sessionmaker[Session], ewo: User, text: str, school: str) -> None:
    result = ask(session_factory, ewo, text)
    assert result.school_not_found is None and f"at {school}" in result.heading


def test_a_name_two_schools_answer_to_equally_is_asked_back(session_factory: sessionmaker[Session], ewo: User) -> None:
    result = ask(session_factory, ewo, "active at St Mary's")
    assert result.school_ambiguous
    assert set(result.school_suggestions) == {"St Mary's CE Primary", "St Mary's Catholic Primary"}


def test_a_school_nobody_can_see_is_not_found(session_factory: sessionmaker[Session], ewo: User) -> None:
    result = ask(session_factory, ewo, "active at Elm Academy")
    assert result.school_not_found == "Elm Academy" and not result.school_ambiguous


def test_plans_open_after_their_end_date_are_listed_and_flagged(session_factory: sessionmaker[Session],
                                                                ewo: User) -> None:
    with UnitOfWork(session_factory) as unit:
        school = DirectoryRepository(unit.session).get_or_create_school("Oak Primary School", ewo.la_id)
        for first_name, end, status in (("Ada", date(2026, 3, 6), "active"), ("Ben", date(2026, 3, 20), "active"),
                                        ("Cy", date(2026, 3, 6), "closed")):
            pupil = unit.pupils.add(Pupil(first_name=first_name, last_name="Smith", school_id=school.id))
            unit.plans.add(Plan(school_id=school.id, pupil_id=pupil.id, policy_id="derby-city", status=status,
                                case_json={}, start_date=date(2026, 2, 2), end_date=end))
        unit.commit()

    result = ask(session_factory, ewo, "past end date")

    assert [(row.pupil, row.past_end_date) for row in result.rows] == [("Ada S.", True)]
    assert result.heading == "Plans still open after their end date"
    assert "ended Fri 6 Mar 2026 :warning: still open: close it or record an extension" in row_line(result.rows[0])
