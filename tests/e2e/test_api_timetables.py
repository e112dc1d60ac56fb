"""GET /api/v1/timetables: the plans the caller may see, and the floor endpoint /api/v1/ping."""

from __future__ import annotations

from sqlmodel import select

from storage.models import AuditLog, Plan, School

from .conftest import ADMIN, DERBY_EWO, DERBYSHIRE_EWO, OAK_STAFF, RIVERSIDE_STAFF, World


def timetables(world: World, email: str, query: str = "") -> list[dict]:
    response = world.app.test_client().get(f"/api/v1/timetables{query}", headers=world.auth(email))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert isinstance(response.get_json(), list)
    return response.get_json()


def test_school_staff_see_only_their_own_schools_timetables(world: World) -> None:
    plans = timetables(world, OAK_STAFF)
    assert plans
    assert {p["school"]["name"] for p in plans} == {"Oak Primary"}
    assert {p["school"]["name"] for p in timetables(world, RIVERSIDE_STAFF)} == {"Riverside Academy"}


def test_status_active_lists_only_active_timetables(world: World) -> None:
    plans = timetables(world, OAK_STAFF, "?status=active")
    assert plans and all(p["status"] == "active" for p in plans)
    awaiting = timetables(world, OAK_STAFF, "?status=awaiting")
    assert awaiting and all(p["status"] == "awaiting" for p in awaiting)


def test_an_ewo_sees_every_school_of_their_la_and_no_other(world: World) -> None:
    derby = {p["school"]["name"] for p in timetables(world, DERBY_EWO, "?status=active")}
    assert derby == {"Oak Primary", "Riverside Academy"}
    derbyshire = {p["school"]["name"] for p in timetables(world, DERBYSHIRE_EWO)}
    assert derbyshire == {"Peak View Primary", "Dales Secondary School"}


def test_an_administrator_sees_every_la(world: World) -> None:
    policies = {p["policy"] for p in timetables(world, ADMIN)}
    assert policies == {"derby-city", "derbyshire", "bath-wells-mat", "achieving-for-children"}


def test_a_timetable_entry_carries_the_fields_an_la_system_needs(world: World) -> None:
    plan = timetables(world, OAK_STAFF, "?status=awaiting")[0]
    assert {"id", "status", "school", "pupil", "start_date", "end_date", "hours_per_week", "full_time_hours",
            "review_overdue", "over_maximum", "agreements_missing"} <= set(plan)
    assert plan["agreements_missing"] == ["virtual_school"]


def test_the_due_filter_finds_overdue_reviews(world: World) -> None:
    overdue = timetables(world, OAK_STAFF, "?due=review_overdue")
    assert overdue and all(p["review_overdue"] for p in overdue)


def test_an_unknown_status_is_a_400(world: World) -> None:
    response = world.app.test_client().get("/api/v1/timetables?status=finished", headers=world.auth(OAK_STAFF))
    assert response.status_code == 400
    assert "active" in response.get_json()["error"]["message"]


def test_listing_timetables_audits_a_read_of_each_plan(world: World) -> None:
    plans = timetables(world, RIVERSIDE_STAFF)
    with world.session() as session:
        rows = session.exec(select(AuditLog).where(AuditLog.entity == "plan", AuditLog.action == "read")).all()
        riverside = session.exec(select(School).where(School.name == "Riverside Academy")).one()
        ids = {str(p.id) for p in session.exec(select(Plan).where(Plan.school_id == riverside.id))}
    read = {r.entity_id for r in rows if r.detail_json and r.detail_json.get("via") == "api:timetables"}
    assert {str(p["id"]) for p in plans} <= read
    assert {str(p["id"]) for p in plans} <= ids


def test_ping_is_authenticated_and_writes_an_audit_row(world: World) -> None:
    client = world.app.test_client()
    assert client.get("/api/v1/ping").status_code == 401
    with world.session() as session:
        before = len(session.exec(select(AuditLog).where(AuditLog.entity == "ping")).all())
    response = client.get("/api/v1/ping", headers=world.auth(OAK_STAFF))
    assert response.status_code == 200 and response.get_json()["ok"] is True
    with world.session() as session:
        after = len(session.exec(select(AuditLog).where(AuditLog.entity == "ping")).all())
    assert after == before + 1
