"""A request that names a conversation reads it with its caller, in one query, on SQLite and
PostgreSQL: the caller's own conversation as a turn would read it, and nobody else's."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from assistant.services import auth
from assistant.services import conversations as conversation_service
from storage.models import User
from storage.turns import TurnStore
from storage.types import utcnow
from tests.integration.conftest import Staff, statements_run

TODAY = date(2026, 11, 23)


def _token_and_conversation(session_factory: sessionmaker[Session], user_id: int) -> tuple[str, str]:
    """An API token of ``user_id``, used once (so that reading it again writes nothing), and a
    conversation of theirs one answer in."""
    with session_factory() as session:
        user = session.get(User, user_id)
        assert user is not None
        token = auth.issue_token(session, user)
        assert auth.user_for_token(session, token) is not None
        started = conversation_service.start(session, user, "derby-city", TODAY, channel="api")
        conversation_service.send(session, user, started.id, "Y5", today=TODAY)
        session.commit()
    return token, started.id


def test_a_token_reads_its_owners_conversation_in_the_same_query(
    engine: Engine, session_factory: sessionmaker[Session], staff: Staff
) -> None:
    token, conversation_id = _token_and_conversation(session_factory, staff.lead_id)

    with session_factory() as session, statements_run(engine) as run:
        caller = auth.caller_for_token(session, token, conversation_id=conversation_id, now=utcnow())
        assert len(run) == 1
        assert caller is not None and caller.user.id == staff.lead_id
        assert caller.conversation is not None
        assert caller.conversation == TurnStore(session).load(conversation_id)
        assert caller.conversation.version == 2 and caller.conversation.state_json["engine"]["answers"]


def test_a_signed_in_user_reads_their_conversation_in_the_same_query(
    engine: Engine, session_factory: sessionmaker[Session], staff: Staff
) -> None:
    _token, conversation_id = _token_and_conversation(session_factory, staff.lead_id)

    with session_factory() as session, statements_run(engine) as run:
        caller = auth.caller_by_id(session, staff.lead_id, conversation_id=conversation_id)
        assert len(run) == 1
        assert caller is not None and caller.user.id == staff.lead_id
        assert caller.conversation == TurnStore(session).load(conversation_id)


def test_someone_elses_conversation_is_never_read_with_the_caller(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    _lead_token, leads_conversation = _token_and_conversation(session_factory, staff.lead_id)
    dsl_token, _dsls_conversation = _token_and_conversation(session_factory, staff.dsl_id)

    with session_factory() as session:
        by_token = auth.caller_for_token(session, dsl_token, conversation_id=leads_conversation)
        by_id = auth.caller_by_id(session, staff.dsl_id, conversation_id=leads_conversation)
        unknown = auth.caller_for_token(session, dsl_token, conversation_id="no-such-conversation")
    for caller in (by_token, by_id, unknown):
        assert caller is not None and caller.user.id == staff.dsl_id and caller.conversation is None


def test_a_revoked_token_or_an_unknown_account_reads_nothing(
    session_factory: sessionmaker[Session], staff: Staff
) -> None:
    token, conversation_id = _token_and_conversation(session_factory, staff.lead_id)
    with session_factory() as session:
        user = session.get(User, staff.lead_id)
        assert user is not None
        auth.disable_user(session, user)
        session.commit()

    with session_factory() as session:
        assert auth.caller_for_token(session, token, conversation_id=conversation_id) is None
        assert auth.caller_by_id(session, 999_999, conversation_id=conversation_id) is None
