"""The conversation API of contract §2, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlmodel import Session, select

from storage.models import AuditLog, ConversationAnswer

from .conftest import (
    DERBY_EWO,
    MAX_TURNS,
    OAK_DSL,
    OAK_STAFF,
    PEAKVIEW_STAFF,
    RIVERSIDE_STAFF,
    World,
    scripted_answer,
)

REPLY_KEYS = {"text", "fact", "kind", "choices"}
KINDS = {"yes_no", "date", "choice", "multi_choice", "number", "text"}


def start(world: World, email: str = OAK_STAFF, body: Any = None) -> dict[str, Any]:
    response = world.app.test_client().post("/api/v1/conversations", json=body if body is not None else
                                            {"policy": "derby-city"}, headers=world.auth(email))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def send(world: World, conversation_id: str, text: str, email: str = OAK_STAFF, **extra: Any) -> Any:
    return world.app.test_client().post(f"/api/v1/conversations/{conversation_id}/messages",
                                        json={"text": text, **extra}, headers=world.auth(email))


def assert_contract_shape(body: dict[str, Any]) -> None:
    assert {"id", "replies", "finished", "decision"} <= set(body)
    assert isinstance(body["finished"], bool)
    assert body["replies"], "every response says something"
    for reply in body["replies"]:
        assert set(reply) >= REPLY_KEYS
        assert reply["kind"] in KINDS
        for choice in reply["choices"]:
            assert set(choice) >= {"value", "label"}


def test_starting_a_conversation_returns_201_with_the_first_question(world: World) -> None:
    body = start(world)
    assert_contract_shape(body)
    question = body["replies"][-1]
    assert question["fact"] == "pupil.year_group"
    assert question["kind"] == "choice"
    assert {"value": "Y5", "label": "Year 5"} in question["choices"]
    assert body["finished"] is False and body["decision"] is None
    assert body["version"] == 1


def test_a_conversation_without_a_policy_follows_the_callers_local_authority(world: World) -> None:
    assert start(world, OAK_STAFF, body={})["policy"] == "derby-city"
    assert start(world, PEAKVIEW_STAFF, body={})["policy"] == "derbyshire"


def test_an_unknown_policy_is_a_400_naming_the_known_ones(world: World) -> None:
    response = world.app.test_client().post("/api/v1/conversations", json={"policy": "atlantis"},
                                            headers=world.auth(OAK_STAFF))
    assert response.status_code == 400
    message = response.get_json()["error"]["message"]
    assert "atlantis" in message and "derby-city" in message


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"policy": 5}'])
def test_a_body_that_is_not_a_json_object_is_a_400(world: World, body: str) -> None:
    response = world.app.test_client().post("/api/v1/conversations", data=body, content_type="application/json",
                                            headers=world.auth(OAK_STAFF))
    assert response.status_code == 400
    assert response.get_json()["error"]["message"]


def test_requests_without_a_valid_token_get_401(world: World) -> None:
    client = world.app.test_client()
    assert client.post("/api/v1/conversations", json={"policy": "derby-city"}).status_code == 401
    assert client.get("/api/v1/timetables").status_code == 401
    bad = client.get("/api/v1/timetables", headers={"Authorization": "Bearer not-a-real-token"})
    assert bad.status_code == 401
    assert bad.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/timetables", headers={"Authorization": "Basic abc"}).status_code == 401


def test_an_answer_returns_200_and_the_next_question(world: World) -> None:
    conversation = start(world)
    response = send(world, conversation["id"], "Y5")
    assert response.status_code == 200
    body = response.get_json()
    assert_contract_shape(body)
    assert body["replies"][-1]["fact"] == "reasons"
    assert body["replies"][-1]["kind"] == "multi_choice"
    assert body["version"] == 2


def test_a_bad_answer_says_what_was_wrong_and_keeps_earlier_answers(world: World) -> None:
    conversation = start(world)
    send(world, conversation["id"], "Year 5")
    send(world, conversation["id"], "mental health")
    body = send(world, conversation["id"], "perhaps on tuesdays").get_json()
    assert any(reply["error"] for reply in body["replies"])
    assert body["replies"][-1]["fact"] == "circumstances.looked_after"
    summary = send(world, conversation["id"], "summary").get_json()
    text = " ".join(r["text"] for r in summary["replies"])
    assert "Year 5" in text or "Y5" in text
    with world.session() as session:
        stored = session.exec(select(ConversationAnswer).where(
            ConversationAnswer.conversation_id == conversation["id"]).order_by(ConversationAnswer.seq)).all()
    assert [(a.raw_text, a.accepted) for a in stored[:3]] == [
        ("Year 5", True), ("mental health", True), ("perhaps on tuesdays", False)]
    assert stored[0].fact == "pupil.year_group"


def test_an_answer_based_on_an_old_version_is_a_409(world: World) -> None:
    conversation = start(world)
    assert send(world, conversation["id"], "Y5", version=1).status_code == 200
    stale = send(world, conversation["id"], "mental_health", version=1)
    assert stale.status_code == 409
    assert "reload" in stale.get_json()["error"]["message"]
    assert send(world, conversation["id"], "mental_health", version=2).status_code == 200


def test_a_version_that_is_not_a_number_is_a_400(world: World) -> None:
    conversation = start(world)
    assert send(world, conversation["id"], "Y5", version="latest").status_code == 400


def test_an_answer_must_be_text(world: World) -> None:
    conversation = start(world)
    response = world.app.test_client().post(f"/api/v1/conversations/{conversation['id']}/messages",
                                            json={"answer": "yes"}, headers=world.auth(OAK_STAFF))
    assert response.status_code == 400
    assert "text" in response.get_json()["error"]["message"]


def test_reading_a_conversation_returns_where_it_stands(world: World) -> None:
    conversation = start(world)
    send(world, conversation["id"], "Y5")
    response = world.app.test_client().get(f"/api/v1/conversations/{conversation['id']}",
                                           headers=world.auth(OAK_STAFF))
    assert response.status_code == 200
    body = response.get_json()
    assert_contract_shape(body)
    assert body["replies"][-1]["fact"] == "reasons"
    with_transcript = world.app.test_client().get(f"/api/v1/conversations/{conversation['id']}?transcript=1",
                                                  headers=world.auth(OAK_STAFF)).get_json()
    assert [e["text"] for e in with_transcript["transcript"] if e["speaker"] == "user"] == ["Year 5"]


@pytest.mark.parametrize("other", [OAK_DSL, RIVERSIDE_STAFF, DERBY_EWO])
def test_someone_elses_conversation_is_not_found(world: World, other: str) -> None:
    conversation = start(world)
    client = world.app.test_client()
    assert client.get(f"/api/v1/conversations/{conversation['id']}", headers=world.auth(other)).status_code == 404
    assert send(world, conversation["id"], "Y5", email=other).status_code == 404
    assert client.get("/api/v1/conversations/no-such-id", headers=world.auth(OAK_STAFF)).status_code == 404


def test_every_read_and_change_of_a_conversation_is_audited(world: World) -> None:
    conversation = start(world)
    send(world, conversation["id"], "Y5")
    world.app.test_client().get(f"/api/v1/conversations/{conversation['id']}", headers=world.auth(OAK_STAFF))
    with world.session() as session:
        rows = session.exec(select(AuditLog).where(AuditLog.entity == "conversation",
                                                   AuditLog.entity_id == conversation["id"])).all()
    assert [r.action for r in rows] == ["create", "update", "read"]
    assert all(r.actor_user_id is not None and r.school_id is not None for r in rows)


def test_a_full_derby_city_check_reaches_the_decision_and_saves_the_plan(world: World,
                                                                          answers: dict[str, str]) -> None:
    body = start(world)
    decision = None
    for _ in range(MAX_TURNS):
        if body.get("plan_id"):
            break
        response = send(world, body["id"], scripted_answer(body["replies"][-1], answers))
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert_contract_shape(body)
        decision = decision or body["decision"]
    else:
        pytest.fail("the interview did not end")
    assert body["finished"] is True
    assert decision is not None and decision["outcome"] == "may_proceed"
    assert decision["policy"] == "derby-city"
    assert all(r["citation"]["quote"] for r in decision["reasons"])
    assert body["phase"] == "plan_done"
    plans = world.app.test_client().get("/api/v1/timetables", headers=world.auth(OAK_STAFF)).get_json()
    saved = next(p for p in plans if p["id"] == body["plan_id"])
    assert saved["pupil"]["name"] == "Alex Taylor"
    assert saved["status"] == "active"
    assert saved["school"]["name"] == "Oak Primary"


def test_the_list_of_my_conversations_holds_only_mine(world: World) -> None:
    mine = start(world, OAK_DSL)
    listed = world.app.test_client().get("/api/v1/conversations", headers=world.auth(OAK_DSL)).get_json()
    assert mine["id"] in {c["id"] for c in listed}
    others = world.app.test_client().get("/api/v1/conversations", headers=world.auth(RIVERSIDE_STAFF)).get_json()
    assert mine["id"] not in {c["id"] for c in others}


@pytest.mark.parametrize(("role", "began_at", "moved_to"), [
    ("staff", "Oak Primary", "Riverside Academy"),  # another school
    ("ewo", "derby-city", "derbyshire"),  # another LA: an EWO's interviews have no school to tell by
    ("ewo", "derby-city", "Oak Primary"),  # from the LA into one of its schools
    ("staff", "Oak Primary", "Oak Primary"),  # staying put (their account naming no LA of its own)
    ("ewo", "derby-city", "derby-city"),
], ids=["school to school", "LA to LA", "LA to school", "staying at a school", "staying in an LA"])
def test_someone_who_moves_no_longer_reads_the_interviews_begun_where_they_were(
        world: World, role: str, began_at: str, moved_to: str) -> None:
    from assistant.services.auth import issue_token
    from storage.models import LocalAuthority, School, User
    from storage.repositories import DirectoryRepository

    def place(session: Session, name: str) -> tuple[int | None, int | None]:
        """(school id, LA id) of a school's name (staff: their school's LA is theirs) or an LA's policy."""
        school = session.exec(select(School).where(School.name == name)).first()
        if school is not None:
            return school.id, None
        return None, session.exec(select(LocalAuthority).where(LocalAuthority.policy_id == name)).one().id

    with world.session() as session:
        school_id, la_id = place(session, began_at)
        mover = DirectoryRepository(session).upsert_user(f"mover-{uuid.uuid4().hex[:8]}@example.org", role,
                                                        school_id=school_id, la_id=la_id)
        headers = {"Authorization": f"Bearer {issue_token(session, mover)}"}
        session.commit()
    client = world.app.test_client()
    started = client.post("/api/v1/conversations", json={"policy": "derby-city"}, headers=headers).get_json()
    assert client.get(f"/api/v1/conversations/{started['id']}", headers=headers).status_code == 200
    with world.session() as session:
        moved = session.get(User, mover.id)
        assert moved is not None
        moved.school_id, moved.la_id = place(session, moved_to)
        moved.role = "staff" if moved.school_id is not None else role
        session.add(moved)
        session.commit()
    stayed = moved_to == began_at
    assert client.get(f"/api/v1/conversations/{started['id']}", headers=headers).status_code == (200 if stayed else 404)
    assert client.post(f"/api/v1/conversations/{started['id']}/messages", json={"text": "Y5"},
                       headers=headers).status_code == (200 if stayed else 404)
    listed = client.get("/api/v1/conversations", headers=headers).get_json()
    assert (started["id"] in {c["id"] for c in listed}) is stayed


def test_the_openapi_description_names_every_contract_route(world: World) -> None:
    response = world.app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    assert {"/api/v1/conversations", "/api/v1/conversations/{conversation_id}",
            "/api/v1/conversations/{conversation_id}/messages", "/api/v1/timetables"} <= set(document["paths"])
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert set(document["components"]["schemas"]["Reply"]["required"]) == REPLY_KEYS


def _complete(world: World, answers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    """Answer with the script until the plan is saved (again)."""
    for _ in range(MAX_TURNS):
        if body.get("complete"):
            return body
        response = send(world, body["id"], scripted_answer(body["replies"][-1], answers))
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
    pytest.fail("the interview did not end")


def test_an_answer_changed_after_the_plan_is_saved_is_applied_to_the_plan(world: World,
                                                                           answers: dict[str, str]) -> None:
    from assistant.services import plans as plan_service
    from storage.models import User
    from storage.uow import UnitOfWork

    body = _complete(world, answers, start(world))
    plan_id = body["plan_id"]
    with world.session() as session:
        staff_id = session.exec(select(User.id).where(User.email == OAK_STAFF)).one()
    factory = lambda: world.session()  # noqa: E731
    plan_service.record_step(UnitOfWork(factory), plan_id, "healthcare_plan", True, actor_user_id=staff_id)
    try:
        _change_looked_after_and_check_the_plan(world, answers, body, plan_id)
    finally:  # the world is shared: leave no active looked-after plan behind for the LA view's tests
        plan_service.close_plan(UnitOfWork(factory), plan_id, route="withdrawn", actor_user_id=staff_id)


def _change_looked_after_and_check_the_plan(world: World, answers: dict[str, str], body: dict[str, Any],
                                           plan_id: int) -> None:
    from storage.models import Consultation, Plan, PlanVersion

    changed = send(world, body["id"], "change looked after").get_json()
    assert changed["replies"][-1]["fact"] == "circumstances.looked_after"
    body = _complete(world, answers, send(world, body["id"], "yes").get_json())

    assert body["plan_id"] == plan_id
    assert "updated the saved plan" in body["replies"][-1]["text"]
    assert "circumstances.looked_after" in body["replies"][-1]["text"]
    with world.session() as session:
        plan = session.get(Plan, plan_id)
        assert plan is not None
        assert plan.case_json["circumstances"]["looked_after"] is True
        assert plan.case_json["steps"]["healthcare_plan"] is True  # recorded on the plan since: it stands
        roles = {c.role for c in session.exec(select(Consultation).where(Consultation.plan_id == plan_id))}
        assert "virtual_school" in roles
        latest = session.exec(select(PlanVersion).where(PlanVersion.plan_id == plan_id)
                              .order_by(PlanVersion.version.desc())).first()  # type: ignore[attr-defined]
        assert latest is not None and "circumstances.looked_after" in latest.change_summary
