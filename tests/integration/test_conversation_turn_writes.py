"""A conversation turn's write, on SQLite and PostgreSQL (where it is one statement): the new
state, the raw answer and the audit row together, or nothing when another answer got in first."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from assistant.services import conversations as conversation_service
from assistant.services.conversations import ConversationView
from storage.models import AuditLog, Conversation, ConversationAnswer, ConversationLine, User
from storage.turns import TurnStore
from tests.integration.conftest import Staff

TODAY = date(2026, 11, 23)


def _answers(session: Session, conversation_id: str) -> list[tuple[int, str | None, str, bool]]:
    rows = session.exec(select(ConversationAnswer).where(ConversationAnswer.conversation_id == conversation_id)
                        .order_by(col(ConversationAnswer.seq))).all()
    return [(a.seq, a.fact, a.raw_text, a.accepted) for a in rows]


def _updates(session: Session, conversation_id: str) -> list[dict[str, object]]:
    rows = session.exec(select(AuditLog).where(AuditLog.entity == "conversation", AuditLog.entity_id == conversation_id,
                                               AuditLog.action == "update").order_by(col(AuditLog.id))).all()
    return [row.detail_json or {} for row in rows]


def _lead_answers_year_5(session: Session, staff: Staff) -> tuple[User, ConversationView, ConversationView]:
    """The lead starts a Derby City check and answers the first question."""
    user = session.get(User, staff.lead_id)
    assert user is not None
    started = conversation_service.start(session, user, "derby-city", TODAY, channel="api")
    return user, started, conversation_service.send(session, user, started.id, "Y5", today=TODAY)


def test_each_answer_stores_state_answer_and_audit_row_together(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    with session_factory() as session:
        user, started, first = _lead_answers_year_5(session, staff)
        second = conversation_service.send(session, user, started.id, "not a reason", today=TODAY)
    with session_factory() as session:
        stored = session.get(Conversation, started.id)
        assert stored is not None and stored.version == second.version == first.version + 1 == 3
        assert stored.state_json["replies"] == [r.model_dump(mode="json") for r in second.replies]
        answers = _answers(session, started.id)
        assert [(seq, fact, raw) for seq, fact, raw, _ok in answers] == [
            (1, "pupil.year_group", "Y5"), (2, "reasons", "not a reason")]
        assert answers[0][3] is True and answers[1][3] is False  # the second was not a reason we know
        assert [(d["version"], d["fact"]) for d in _updates(session, started.id)] == [
            (2, "pupil.year_group"), (3, "reasons")]
        audit = session.exec(select(AuditLog).where(AuditLog.entity_id == started.id,
                                                    AuditLog.action == "update")).first()
        assert audit is not None and audit.actor_user_id == staff.lead_id and audit.school_id == staff.school_id


def test_an_answer_the_engine_fails_on_is_kept_and_audited_and_the_conversation_stays_where_it_was(
    session_factory: sessionmaker[Session], staff: Staff, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import conversations

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug in the engine")

    with session_factory() as session:
        user, started, first = _lead_answers_year_5(session, staff)
        monkeypatch.setattr(conversations, "respond", broken)
        with pytest.raises(RuntimeError):
            conversation_service.send(session, user, started.id, "mental health", today=TODAY)
    with session_factory() as session:
        assert _answers(session, started.id)[-1] == (2, "reasons", "mental health", False)
        assert _updates(session, started.id)[-1] == {"version": first.version, "fact": "reasons",
                                                     "engine_failed": True}
        stored = session.get(Conversation, started.id)
        assert stored is not None and stored.version == first.version


def test_each_turn_appends_its_lines_to_the_transcript(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    with session_factory() as session:
        user, started, _first = _lead_answers_year_5(session, staff)
        conversation_service.send(session, user, started.id, "not a reason", today=TODAY)
        view = conversation_service.get(session, user, started.id, with_transcript=True)
    assert view.transcript is not None
    said = [(line.speaker, line.text) for line in view.transcript]
    users = [text for speaker, text in said if speaker == "user"]
    assert users == ["Year 5", "not a reason"]  # a choice as its label, anything else as typed
    assert said[0][0] == "assistant" and said[-1] == ("assistant", view.replies[-1].text)
    with session_factory() as session:
        stored = session.get(Conversation, started.id)
        assert stored is not None and "transcript" not in stored.state_json
        seqs = session.exec(select(ConversationLine.seq).where(ConversationLine.conversation_id == started.id)
                            .order_by(col(ConversationLine.seq))).all()
    assert seqs == list(range(1, len(said) + 1)) and stored.state_json["lines"] == len(said)


def test_a_turn_based_on_an_old_version_writes_nothing(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    with session_factory() as session:
        user, started, _first = _lead_answers_year_5(session, staff)
        conv = session.get(Conversation, started.id)
        assert conv is not None
        session.expunge(conv)
        conversation_service.begin_writing(session)
        stale = conversation_service._write_turn(session, user, conv, started.version,
                                                 [("Y6", "pupil.year_group", True)], "pupil.year_group",
                                                 conv.updated_at)
        assert stale is False
        session.rollback()
    with session_factory() as session:
        assert [raw for _seq, _fact, raw, _ok in _answers(session, started.id)] == ["Y5"]
        assert len(_updates(session, started.id)) == 1
        lines = session.exec(select(ConversationLine).where(ConversationLine.conversation_id == started.id)).all()
        assert len(lines) == session.get(Conversation, started.id).state_json["lines"]  # type: ignore[union-attr]
        stored = session.get(Conversation, started.id)
        assert stored is not None and stored.version == 2


def _decided(session: Session, staff: Staff) -> tuple[User, ConversationView]:
    """The lead runs a Derby City check to its decision."""
    user = session.get(User, staff.lead_id)
    assert user is not None
    answers = {"pupil.year_group": "Y5", "reasons": "mental health", "plan.start_date": "2026-11-30",
               "plan.end_date": "2026-12-11", "plan.hours_per_week": "12", "calendar.closures": "none",
               "steps.parent_consent": "given", "steps.risk_assessment": "no concerns"}
    view = conversation_service.start(session, user, "derby-city", TODAY, channel="api")
    for _ in range(40):
        if view.finished:
            return user, view
        reply = view.replies[-1]
        default = "no" if reply.kind == "yes_no" else "consulted" if reply.kind == "choice" else "1"
        view = conversation_service.send(session, user, view.id, answers.get(reply.fact or "", default), today=TODAY)
    raise AssertionError(f"no decision after 40 answers: {view.replies[-1].text}")


def test_the_decision_is_shown_after_each_turn_but_worked_out_again_rather_than_stored(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    with session_factory() as session:
        user, decided = _decided(session, staff)
        assert decided.decision is not None and decided.decision["outcome"] in ("may_proceed", "not_yet")
        read = conversation_service.get(session, user, decided.id)
        listed = conversation_service.list_for_user(session, user)
    with session_factory() as session:
        stored = session.get(Conversation, decided.id)
        assert stored is not None and "decision" not in stored.state_json
    assert read.decision == decided.decision
    assert [summary.id for summary in listed] == [decided.id]


def test_a_conversation_stored_with_its_decision_shows_that_decision(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    with session_factory() as session:
        user, decided = _decided(session, staff)
        stored = session.get(Conversation, decided.id)
        assert stored is not None and decided.decision is not None
        as_once_shown = {**decided.decision, "outcome": "not_yet"}  # as an older release stored it
        stored.state_json = {**stored.state_json, "decision": as_once_shown}
        session.commit()
        assert conversation_service.get(session, user, decided.id).decision == as_once_shown


def test_an_answer_given_with_an_out_of_date_read_of_the_conversation_reads_it_again(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    with session_factory() as session:
        user = session.get(User, staff.lead_id)
        assert user is not None
        started = conversation_service.start(session, user, "derby-city", TODAY, channel="api")
        out_of_date = TurnStore(session).load(started.id)  # version 1
        conversation_service.send(session, user, started.id, "Y5", today=TODAY)  # now version 2
        assert out_of_date is not None and out_of_date.version == 1

        view = conversation_service.send(session, user, started.id, "mental health", today=TODAY, read=out_of_date)
    assert view.version == 3
    with session_factory() as session:
        assert [raw for _seq, _fact, raw, _ok in _answers(session, started.id)] == ["Y5", "mental health"]
        assert [d["fact"] for d in _updates(session, started.id)] == ["pupil.year_group", "reasons"]


def _interview_to_its_end(session: Session, user: User) -> list[ConversationView]:
    """A Derby City interview answered as a member of staff would, to its written plan: every
    view it went through, the last one complete."""
    from tests.e2e.conftest import derby_city_answers, scripted_answer

    answers = derby_city_answers(TODAY)
    views = [conversation_service.start(session, user, "derby-city", TODAY, channel="api")]
    for _ in range(80):
        if views[-1].complete:
            return views
        views.append(conversation_service.send(session, user, views[-1].id,
                                               scripted_answer(views[-1].replies[-1].model_dump(), answers),
                                               today=TODAY))
    raise AssertionError(f"the interview did not end: {views[-1].replies[-1].text}")


@pytest.mark.parametrize("outside_transaction", [False, True], ids=["read in a transaction", "read outside one"])
def test_an_answer_that_would_save_the_plan_but_lost_its_race_saves_no_second_plan(
    session_factory: sessionmaker[Session], staff: Staff, outside_transaction: bool
) -> None:
    """The answer that saves the plan writes the plan and the turn in one transaction: if another
    answer got in first, both are undone (an ordinary answer commits with its write), also when
    the request read outside a transaction, as a request of a conversation does on PostgreSQL."""
    from storage.models import Plan
    from tests.e2e.conftest import derby_city_answers, scripted_answer

    answers = derby_city_answers(TODAY)
    with session_factory() as session:
        user = session.get(User, staff.lead_id)
        assert user is not None
        replies = _interview_to_its_end(session, user)
        view = replies[-1]
        assert view.plan_id is not None, "the interview saved no plan"
        before_saving = replies[-2]
        last_answer = scripted_answer(before_saving.replies[-1].model_dump(), answers)

        # The same interview again, stopped one answer short of saving; then the saving answer is
        # given twice, the second time on a read from before the first.
        again = conversation_service.start(session, user, "derby-city", TODAY, channel="api")
        for earlier in replies[:-2]:
            again = conversation_service.send(session, user, again.id,
                                              scripted_answer(earlier.replies[-1].model_dump(), answers), today=TODAY)
        stale = TurnStore(session).load(again.id)
        assert stale is not None and not stale.state_json.get("complete")
        saved = conversation_service.send(session, user, again.id, last_answer, today=TODAY)
        assert saved.plan_id is not None
        conversation_service.begin_reading(session, outside_transaction=outside_transaction)
        late = conversation_service.send(session, user, again.id, last_answer, today=TODAY, read=stale)
        assert late.plan_id == saved.plan_id and late.version == saved.version + 1
    with session_factory() as session:
        plans = session.exec(select(Plan.id).where(Plan.school_id == staff.school_id)).all()
        assert sorted(plans) == sorted([view.plan_id, saved.plan_id])
        assert [raw for _seq, _fact, raw, _ok in _answers(session, again.id)][-2:] == [last_answer, last_answer]


def test_the_saved_plan_keeps_the_timetable_and_the_conversation_leaves_it_out(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    """The timetable is most of a finished conversation's state; the plan keeps it, and every
    later answer would rewrite it with the conversation."""
    from storage.models import Plan

    with session_factory() as session:
        user = session.get(User, staff.lead_id)
        assert user is not None
        view = _interview_to_its_end(session, user)[-1]
        summary = conversation_service.send(session, user, view.id, "summary", today=TODAY)
    assert view.plan_id is not None and "Weekly hours" in summary.replies[0].text
    with session_factory() as session:
        plan = session.get(Plan, view.plan_id)
        stored = session.get(Conversation, view.id)
        assert plan is not None and stored is not None
        assert len(plan.timetable_json["timetable"]["weeks"]) >= 4
        written = stored.state_json["engine"]["plan"]
        assert "timetable" not in written and written["weeks"] and written["first_name"] == "Alex"


def test_a_plan_written_from_an_account_of_no_school_is_not_saved_and_the_reply_says_so(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    """An EWO's account belongs to the LA, not a school: the plan has no school to be saved to,
    and the reply promises nothing the chat cannot do."""
    from storage.models import Plan

    with session_factory() as session:
        ewo = session.get(User, staff.ewo_id)
        assert ewo is not None and ewo.school_id is None
        view = _interview_to_its_end(session, ewo)[-1]
    assert view.plan_id is None
    said = view.replies[-1].text
    assert "not saved" in said and "administrator" in said and "download" not in said
    with session_factory() as session:
        assert session.exec(select(Plan.id)).all() == []
