"""The turn's statements on the driver's connection (:mod:`storage.turns`) read and write the
same values as the ORM, on SQLite and PostgreSQL: what one writes the other reads back alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from storage.models import AuditLog, Conversation, ConversationAnswer, ConversationLine
from storage.turns import AuditEntry, ConversationRecord, TurnStore
from tests.integration.conftest import Staff

CREATED = datetime(2026, 11, 23, 8, 30, 0, 123456, tzinfo=UTC)
STATE = {"engine": {"answers": {"pupil.year_group": "Y5"}}, "replies": [{"text": "Which year group?"}],
         "lines": 2, "unicode": "Ésmé’s plan", "nested": [1, 2.5, None, True]}


def _add_conversation(session_factory: sessionmaker[Session], staff: Staff, **fields: object) -> str:
    with session_factory() as session:
        conv = Conversation(id="c0ffee00-0000-4000-8000-000000000001", user_id=staff.lead_id,
                            policy_id="derby-city", channel="api", state_json=dict(STATE), version=4,
                            finished=False, created_at=CREATED, updated_at=CREATED + timedelta(minutes=5),
                            **fields)
        session.add(conv)
        session.commit()
        return conv.id


def _loaded(session: Session, conversation_id: str) -> tuple[TurnStore, ConversationRecord]:
    store = TurnStore(session)
    conv = store.load(conversation_id)
    assert conv is not None
    return store, conv


def test_a_conversation_loads_as_the_orm_reads_it(session_factory: sessionmaker[Session], staff: Staff) -> None:
    conversation_id = _add_conversation(session_factory, staff)
    with session_factory() as session:
        orm = session.get(Conversation, conversation_id)
        record = TurnStore(session).load(conversation_id)
    assert orm is not None and record is not None
    for name in ("id", "user_id", "policy_id", "channel", "state_json", "version", "finished", "plan_id",
                 "created_at", "updated_at"):
        assert getattr(record, name) == getattr(orm, name), name
    assert record.created_at.tzinfo is not None and record.created_at.utcoffset() == timedelta(0)
    assert record.finished is False


def test_an_unknown_conversation_loads_as_none(session_factory: sessionmaker[Session], staff: Staff) -> None:
    with session_factory() as session:
        assert TurnStore(session).load("no-such-conversation") is None


def test_a_written_turn_reads_back_through_the_orm(session_factory: sessionmaker[Session], staff: Staff) -> None:
    conversation_id = _add_conversation(session_factory, staff)
    # A time given in another zone is stored as the same instant in UTC.
    now = datetime(2026, 11, 23, 10, 15, 30, 654321, tzinfo=timezone(timedelta(hours=1)))
    with session_factory() as session:
        store, conv = _loaded(session, conversation_id)
        conv.state_json = {**STATE, "lines": 4}
        conv.finished = True
        written = store.write_turn(
            conv, loaded_version=4, answers=[("Year 5", "pupil.year_group", True)], lines_before=2,
            lines=[{"speaker": "user", "text": "Year 5"}, {"speaker": "assistant", "text": "Thank you."}],
            audit=AuditEntry("update", staff.lead_id, staff.school_id, {"version": 5, "fact": "pupil.year_group"}),
            now=now)
        session.commit()
    assert written
    with session_factory() as session:
        stored = session.get(Conversation, conversation_id)
        assert stored is not None
        assert (stored.version, stored.finished, stored.state_json) == (5, True, {**STATE, "lines": 4})
        assert stored.updated_at == now and stored.updated_at.utcoffset() == timedelta(0)
        answer = session.exec(select(ConversationAnswer)).one()
        assert (answer.seq, answer.fact, answer.raw_text, answer.accepted, answer.at) == (
            1, "pupil.year_group", "Year 5", True, now)
        lines = session.exec(select(ConversationLine).order_by(col(ConversationLine.seq))).all()
        assert [(line.seq, line.entry_json["text"]) for line in lines] == [(3, "Year 5"), (4, "Thank you.")]
        audit = session.exec(select(AuditLog)).one()
        assert (audit.action, audit.entity, audit.entity_id, audit.actor_user_id, audit.school_id, audit.at) == (
            "update", "conversation", conversation_id, staff.lead_id, staff.school_id, now)
        assert audit.detail_json == {"version": 5, "fact": "pupil.year_group"}


def test_a_new_conversation_reads_back_through_the_orm_with_its_first_lines_and_audit_row(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    record = ConversationRecord(id="c0ffee00-0000-4000-8000-000000000002", user_id=staff.lead_id,
                                policy_id="derby-city", channel="slack", state_json={**STATE, "lines": 2},
                                version=1, finished=False, plan_id=None, created_at=CREATED, updated_at=CREATED)
    with session_factory() as session:
        TurnStore(session).insert_conversation(
            record, lines=[{"speaker": "assistant", "text": "Hello."}, {"speaker": "assistant", "text": "Year?"}],
            audit=AuditEntry("create", staff.lead_id, staff.school_id, {"policy": "derby-city", "channel": "slack"}))
        session.commit()
    with session_factory() as session:
        stored = session.get(Conversation, record.id)
        assert stored is not None
        for name in ("user_id", "policy_id", "channel", "state_json", "version", "finished", "plan_id",
                     "created_at", "updated_at", "school_id"):
            assert getattr(stored, name) == getattr(record, name), name
        lines = session.exec(select(ConversationLine).order_by(col(ConversationLine.seq))).all()
        assert [(line.seq, line.entry_json["text"]) for line in lines] == [(1, "Hello."), (2, "Year?")]
        audit = session.exec(select(AuditLog)).one()
        assert (audit.action, audit.entity, audit.entity_id, audit.actor_user_id, audit.school_id, audit.at) == (
            "create", "conversation", record.id, staff.lead_id, staff.school_id, CREATED)
        assert audit.detail_json == {"policy": "derby-city", "channel": "slack"}
        # …and the turns that follow find it where the ORM put nothing.
        assert TurnStore(session).load(record.id) == record


def test_a_new_conversation_whose_id_is_taken_writes_nothing(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    from sqlalchemy.exc import IntegrityError

    conversation_id = _add_conversation(session_factory, staff)
    record = ConversationRecord(id=conversation_id, user_id=staff.lead_id, policy_id="derby-city", channel=None,
                                state_json={}, version=1, finished=False, plan_id=None, created_at=CREATED,
                                updated_at=CREATED)
    with session_factory() as session:
        with pytest.raises(IntegrityError):
            TurnStore(session).insert_conversation(record, lines=[{"speaker": "assistant", "text": "Hi"}],
                                                   audit=AuditEntry("create", staff.lead_id, None, None))
        session.rollback()
    with session_factory() as session:
        assert session.exec(select(ConversationLine)).all() == []
        assert session.exec(select(AuditLog)).all() == []
        assert session.get(Conversation, conversation_id).version == 4  # type: ignore[union-attr]


def test_a_turn_written_with_its_commit_is_committed_and_the_session_goes_on(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    conversation_id = _add_conversation(session_factory, staff)
    with session_factory() as session:
        store, conv = _loaded(session, conversation_id)
        conv.state_json = {**STATE, "lines": 3}
        written = store.write_turn(
            conv, loaded_version=4, answers=[("Year 5", "pupil.year_group", True)], lines_before=2,
            lines=[{"speaker": "user", "text": "Year 5"}], audit=AuditEntry("update", staff.lead_id, None, {}),
            now=CREATED, commit=True)
        assert written
        assert not session.in_transaction()
        # Another connection sees it at once: nothing waits for this session's commit.
        with session_factory() as other:
            stored = other.get(Conversation, conversation_id)
            assert stored is not None and (stored.version, stored.state_json) == (5, {**STATE, "lines": 3})
            assert [a.raw_text for a in other.exec(select(ConversationAnswer))] == ["Year 5"]
            assert [line.seq for line in other.exec(select(ConversationLine))] == [3]
            assert [a.action for a in other.exec(select(AuditLog))] == ["update"]
        # The session carries on in a new transaction, as after any commit.
        session.commit()
        again = TurnStore(session).load(conversation_id)
        assert again is not None and again.version == 5


@pytest.mark.parametrize("commit", [False, True], ids=["committed after", "committed with the write"])
@pytest.mark.parametrize("answers", [1, 2], ids=["one answer", "two answers"])
def test_a_turn_on_an_outdated_version_writes_nothing(
    session_factory: sessionmaker[Session], staff: Staff, answers: int, commit: bool
) -> None:
    conversation_id = _add_conversation(session_factory, staff)
    with session_factory() as session:
        store, conv = _loaded(session, conversation_id)
        written = store.write_turn(
            conv, loaded_version=3, answers=[("yes", "steps.parent_consent", True)] * answers, lines_before=2,
            lines=[{"speaker": "user", "text": "yes"}], audit=AuditEntry("update", staff.lead_id, None, {}),
            now=CREATED, commit=commit)
        session.commit()
    assert not written
    with session_factory() as session:
        assert session.exec(select(ConversationAnswer)).all() == []
        assert session.exec(select(ConversationLine)).all() == []
        assert session.exec(select(AuditLog)).all() == []
        stored = session.get(Conversation, conversation_id)
        assert stored is not None and stored.version == 4


def test_answers_take_the_next_numbers_after_those_stored(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    conversation_id = _add_conversation(session_factory, staff)
    with session_factory() as session:
        session.add(ConversationAnswer(conversation_id=conversation_id, seq=1, fact="a", raw_text="first",
                                       accepted=True, at=CREATED))
        session.commit()
        TurnStore(session).insert_answers(conversation_id, [("second", "b", False), ("third", None, True)], CREATED)
        session.commit()
        rows = session.exec(select(ConversationAnswer).order_by(col(ConversationAnswer.seq))).all()
    assert [(a.seq, a.raw_text, a.fact, a.accepted) for a in rows] == [
        (1, "first", "a", True), (2, "second", "b", False), (3, "third", None, True)]


def test_a_read_audit_without_detail_reads_back_as_none(session_factory: sessionmaker[Session], staff: Staff) -> None:
    conversation_id = _add_conversation(session_factory, staff)
    with session_factory() as session:
        TurnStore(session).insert_audit(conversation_id, AuditEntry("read", staff.lead_id, staff.school_id, None),
                                        CREATED)
        session.add(AuditLog(action="read", entity="conversation", entity_id=conversation_id, at=CREATED,
                             actor_user_id=staff.lead_id, school_id=staff.school_id, detail_json=None))
        session.commit()
        details = session.exec(select(AuditLog.detail_json)).all()
        # Both ways store the same thing (SQLAlchemy's JSON type keeps None as JSON null).
        stored = session.execute(text("SELECT CAST(detail_json AS TEXT) FROM audit_log")).scalars().all()
    assert details == [None, None]
    assert stored[0] == stored[1]


def test_timestamps_are_stored_as_the_orm_stores_them(session_factory: sessionmaker[Session], staff: Staff) -> None:
    """Same text on SQLite (where it must sort as time does), same instant on PostgreSQL."""
    conversation_id = _add_conversation(session_factory, staff)
    with session_factory() as session:
        TurnStore(session).insert_audit(conversation_id, AuditEntry("read", None, None, None), CREATED)
        session.add(AuditLog(action="read", entity="conversation", entity_id=conversation_id, at=CREATED))
        session.commit()
        raw = session.execute(text("SELECT CAST(at AS TEXT) FROM audit_log ORDER BY id")).scalars().all()
    assert raw[0] == raw[1]


@pytest.mark.parametrize("commit", [False, True], ids=["committed after", "committed with the write"])
def test_a_failed_write_comes_out_as_sqlalchemys_error_and_leaves_nothing_written(
    session_factory: sessionmaker[Session], staff: Staff, commit: bool
) -> None:
    from sqlalchemy.exc import IntegrityError

    conversation_id = _add_conversation(session_factory, staff)
    with session_factory() as session:
        store, conv = _loaded(session, conversation_id)
        with pytest.raises(IntegrityError) as failure:
            store.write_turn(conv, loaded_version=4, answers=[("Y5", "pupil.year_group", True)], lines_before=2,
                             lines=[], audit=AuditEntry("update", 999_999, None, {}), now=CREATED, commit=commit)
        assert "foreign key" in str(failure.value).lower()
        session.rollback()
        assert session.get(Conversation, conversation_id).version == 4  # type: ignore[union-attr]
    with session_factory() as session:
        assert session.exec(select(AuditLog)).all() == []
        assert session.exec(select(ConversationAnswer)).all() == []


@pytest.mark.postgres
def test_a_connection_lost_during_a_turn_is_reported_and_replaced(postgres_database: str) -> None:
    """A driver error comes out as SQLAlchemy's, and a lost connection leaves the pool, so the
    next request gets a working one (as for the ORM's own statements)."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    from storage.db import make_engine, make_session_factory

    engine = make_engine(postgres_database)
    try:
        with make_session_factory(engine)() as session:
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
            with psycopg.connect(postgres_database.replace("postgresql+psycopg://", "postgresql://"),
                                 autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(%s)", (pid,))
            with pytest.raises(OperationalError) as failure:
                TurnStore(session).load("any")
            assert failure.value.connection_invalidated
        with make_session_factory(engine)() as session:
            assert TurnStore(session).load("any") is None
            assert session.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    finally:
        engine.dispose()


def test_outside_a_transaction_a_turn_written_to_commit_later_waits_for_that_commit(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    """A turn written with the rest of the caller's transaction (the answer that saves a plan)
    opens one where the request was reading outside a transaction: a rollback undoes it."""
    from storage.db import read_outside_transaction

    conversation_id = _add_conversation(session_factory, staff)
    with session_factory() as session:
        read_outside_transaction(session)
        store, conv = _loaded(session, conversation_id)
        assert store.write_turn(conv, loaded_version=4, answers=[("Y5", "pupil.year_group", True)], lines_before=2,
                                lines=[], audit=AuditEntry("update", staff.lead_id, None, {}), now=CREATED)
        session.rollback()
    with session_factory() as session:
        assert session.get(Conversation, conversation_id).version == 4  # type: ignore[union-attr]
        assert session.exec(select(AuditLog)).all() == []


@pytest.mark.parametrize("answers", [1, 2], ids=["one answer", "two answers"])
def test_outside_a_transaction_a_turn_written_with_its_commit_is_all_or_nothing(
    session_factory: sessionmaker[Session], staff: Staff, answers: int
) -> None:
    """One answer is one statement; two are several, which then run as one transaction."""
    from sqlalchemy.exc import IntegrityError

    from storage.db import read_outside_transaction

    conversation_id = _add_conversation(session_factory, staff)
    with session_factory() as session:
        read_outside_transaction(session)
        store, conv = _loaded(session, conversation_id)
        with pytest.raises(IntegrityError):
            store.write_turn(conv, loaded_version=4, answers=[("Y5", "pupil.year_group", True)] * answers,
                             lines_before=2, lines=[{"speaker": "user", "text": "Y5"}],
                             audit=AuditEntry("update", 999_999, None, {}), now=CREATED, commit=True)
        session.rollback()
    with session_factory() as session:
        assert session.get(Conversation, conversation_id).version == 4  # type: ignore[union-attr]
        assert session.exec(select(ConversationAnswer)).all() == []
        assert session.exec(select(ConversationLine)).all() == []
    with session_factory() as session:
        read_outside_transaction(session)
        store, conv = _loaded(session, conversation_id)
        assert store.write_turn(conv, loaded_version=4, answers=[("Y5", "pupil.year_group", True)] * answers,
                                lines_before=2, lines=[], audit=AuditEntry("update", staff.lead_id, None, {}),
                                now=CREATED, commit=True)
    with session_factory() as session:
        assert session.get(Conversation, conversation_id).version == 5  # type: ignore[union-attr]
        assert len(session.exec(select(ConversationAnswer)).all()) == answers
