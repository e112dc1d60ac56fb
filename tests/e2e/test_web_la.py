"""The LA view: education welfare officers and LA officers see their LA's timetables only."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from sqlmodel import select

from assistant.services.plans import close_plan
from assistant.services.queries import run_timetable_query
from conversations.queries import DateWindow, TimetableQuery
from storage.models import AuditLog, Plan, Pupil, School, User

from .conftest import (
    ADMIN,
    DERBY_EWO,
    DERBY_LA_OFFICER,
    DERBYSHIRE_EWO,
    OAK_STAFF,
    World,
    school_today,
    signed_in,
)


@pytest.mark.parametrize("email", [DERBY_EWO, DERBY_LA_OFFICER])
def test_an_la_user_sees_active_timetables_across_their_las_schools(web: World, email: str) -> None:
    client, _ = signed_in(web.app, email)
    html = client.get("/la").get_data(as_text=True)
    assert "Part-time timetables in Derby City Council" in html
    assert "Oak Primary" in html and "Riverside Academy" in html
    assert "Peak View Primary" not in html and "Mendip Primary" not in html
    assert "Amelia Hart" not in html, "awaiting plans are not in the default (active) list"


def test_an_ewo_of_another_la_sees_none_of_these_schools(web: World) -> None:
    client, _ = signed_in(web.app, DERBYSHIRE_EWO)
    html = client.get("/la?status=").get_data(as_text=True)
    assert "Peak View Primary" in html
    assert "Oak Primary" not in html and "Riverside Academy" not in html


def test_the_la_view_filters_by_school_status_vulnerability_maximum_and_overdue_review(web: World) -> None:
    client, _ = signed_in(web.app, DERBY_EWO)
    with web.session() as session:
        oak = session.exec(select(School).where(School.name == "Oak Primary")).one()
    by_school = client.get(f"/la?school={oak.id}").get_data(as_text=True)
    assert "Riverside Academy</td>" not in by_school and "Oak Primary</td>" in by_school
    awaiting = client.get("/la?status=awaiting&vulnerability=looked_after").get_data(as_text=True)
    assert "Amelia Hart" in awaiting and "Looked after child" in awaiting
    # Other tests may have made a looked-after pupil's plan active: the list holds exactly those.
    active_looked_after = client.get("/la?status=active&vulnerability=looked_after").get_data(as_text=True)
    with web.session() as session:
        derby = {school.id for school in session.exec(select(School).where(School.la_id == oak.la_id))}
        expected = [f"{pupil.first_name} {pupil.last_name}" for plan, pupil in session.exec(
            select(Plan, Pupil).where(Plan.pupil_id == Pupil.id, Plan.status == "active"))
            if plan.school_id in derby and (plan.case_json.get("circumstances") or {}).get("looked_after")]
    assert ("No timetables match." in active_looked_after) == (not expected)
    assert all(name in active_looked_after for name in expected)
    assert "Amelia Hart" not in active_looked_after or "Amelia Hart" in expected
    overdue = client.get("/la?review_overdue=1").get_data(as_text=True)
    assert "Isla Byrne" in overdue and "Noah Okafor" not in overdue
    over_max = client.get("/la?over_maximum=1&status=").get_data(as_text=True)
    assert "Past policy maximum" in over_max and "Noah Okafor" not in over_max
    assert "No timetables match." in client.get("/la?over_maximum=1&status=active").get_data(as_text=True)


def test_the_la_csv_export_lists_the_filtered_timetables(web: World) -> None:
    client, _ = signed_in(web.app, DERBY_EWO)
    response = client.get("/la/export.csv?status=active")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows and {r["status"] for r in rows} == {"active"}
    assert {r["school"] for r in rows} <= {"Oak Primary", "Riverside Academy"}
    assert {"pupil", "review_overdue", "over_maximum", "circumstances"} <= set(rows[0])
    # Lists in words, not codes.
    assert "Medical needs" in {r["circumstances"] for r in rows}
    assert not any("_" in r["circumstances"] + r["reasons"] + r["agreements_missing"] for r in rows)
    with web.session() as session:
        exports = session.exec(select(AuditLog).where(AuditLog.action == "export")).all()
    assert any(r.detail_json and r.detail_json["via"] == "web:la-csv" for r in exports)


def test_a_plan_closed_part_way_is_listed_and_queried_by_the_day_it_closed(web: World, make_plan: Callable[..., int]
                                                                            ) -> None:
    plan_id = make_plan("active")
    with web.session() as session:
        ewo = session.exec(select(User).where(User.email == DERBY_EWO)).one()
        plan = session.get(Plan, plan_id)
        assert plan is not None and plan.end_date is not None and plan.end_date > date.today() + timedelta(days=7)
    close_plan(web.session, plan_id, route="left_school", actor_user_id=None)

    client, _ = signed_in(web.app, DERBY_EWO)
    rows = list(csv.DictReader(io.StringIO(client.get("/la/export.csv?status=closed").get_data(as_text=True))))
    row = next(r for r in rows if r["plan_id"] == str(plan_id))
    today = school_today()  # the day close_plan records: the schools' today
    assert (row["closed_on"], row["how_it_ended"]) == (today.isoformat(), "Left the school")
    ending = run_timetable_query(web.session, ewo, TimetableQuery(status="any", ending_within=DateWindow(
        start=today, end=today, label="today"), today=today), base_url="http://test")
    assert plan_id in {r.plan_id for r in ending.rows}


def test_school_staff_may_not_open_the_la_view(web: World) -> None:
    client, _ = signed_in(web.app, OAK_STAFF)
    assert client.get("/la").status_code == 403
    assert client.get("/la/export.csv").status_code == 403


def test_an_administrator_sees_every_la(web: World) -> None:
    client, _ = signed_in(web.app, ADMIN)
    html = client.get("/la").get_data(as_text=True)
    assert "Oak Primary" in html and "Peak View Primary" in html and "Mendip Primary" in html


def test_la_users_are_sent_from_the_plan_list_to_the_la_view(web: World) -> None:
    client, _ = signed_in(web.app, DERBY_EWO)
    response = client.get("/plans?status=active")
    assert response.status_code == 302 and response.location.startswith("/la")
