"""Who is asking, and what they may see.

* Passwords are hashed with Argon2id (argon2-cffi); a sign-in for an unknown e-mail still
  spends the time of one verification, so response times do not reveal who has an account.
* API tokens are random, shown once, and stored as SHA-256 digests (``storage``).
* Scope: school staff (``staff``, ``dsl``, ``headteacher``) see their own school's plans;
  education welfare officers and LA officers (``ewo``, ``la_officer``) see every school of their
  local authority, read-only; ``admin`` sees everything. Code outside this module asks
  :func:`visible_school_ids`, :func:`can_see_school` and :func:`can_change_school`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Select, and_, bindparam, update
from sqlmodel import Session, col, select

from storage.models import ApiToken, AuditAction, Conversation, Role, School, User
from storage.repositories import AuditRepository, DirectoryRepository, hash_token
from storage.turns import ConversationRecord
from storage.types import UTCDateTime, utcnow

SCHOOL_ROLES: frozenset[str] = frozenset({Role.STAFF, Role.DSL, Role.HEADTEACHER})
LA_ROLES: frozenset[str] = frozenset({Role.EWO, Role.LA_OFFICER})
ROLES: tuple[str, ...] = tuple(role.value for role in Role)
ROLE_LABELS: dict[str, str] = {
    "staff": "School staff",
    "dsl": "Designated Safeguarding Lead",
    "headteacher": "Headteacher",
    "ewo": "Education Welfare Officer",
    "la_officer": "Local authority officer",
    "admin": "Administrator",
}
#: A token's ``last_used_at`` is written at most this often (spares a write per request).
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)
MIN_PASSWORD_LENGTH = 10


# Built once: a request authenticates with these before anything else.
_USER_FOR_TOKEN = (
    select(User, ApiToken.id, ApiToken.last_used_at).join(ApiToken, col(User.id) == col(ApiToken.user_id))
    .where(col(ApiToken.token_hash) == bindparam("token_hash"), col(ApiToken.revoked_at).is_(None),
           col(User.disabled_at).is_(None))
)
_TOUCH_TOKEN = (update(ApiToken).where(col(ApiToken.id) == bindparam("token_id"))
                .values(last_used_at=bindparam("now", type_=UTCDateTime())))
_USER_BY_ID = select(User).where(col(User.id) == bindparam("user_id"))

# A request that names a conversation (an answer in an interview, the app's most frequent request)
# reads it in the same query as its caller: one round trip to the database where there were two.
# Only the caller's own conversation is read; who may see what is still decided where it is used.
_CONVERSATIONS = Conversation.__table__  # type: ignore[attr-defined]
_CONVERSATION_COLUMNS = [_CONVERSATIONS.c[field.name] for field in dataclasses.fields(ConversationRecord)]


def _with_callers_conversation(statement: Select[Any]) -> Select[Any]:
    return statement.add_columns(*_CONVERSATION_COLUMNS).outerjoin(
        _CONVERSATIONS, and_(_CONVERSATIONS.c.id == bindparam("conversation_id"),
                             _CONVERSATIONS.c.user_id == col(User.id)))


_USER_FOR_TOKEN_AND_CONVERSATION = _with_callers_conversation(_USER_FOR_TOKEN)
_USER_BY_ID_AND_CONVERSATION = _with_callers_conversation(_USER_BY_ID)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, and the conversation their request names if it is theirs."""

    user: User
    conversation: ConversationRecord | None = None


def _conversation(columns: Sequence[Any]) -> ConversationRecord | None:
    return None if columns[0] is None else ConversationRecord(*columns)


class AuthError(ValueError):
    """A request that cannot be authorised; the message is fit to show."""


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    return _hasher().hash("not a real password: equalises sign-in timing")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user with this e-mail and password, or None (also for a disabled account, after
    the same work, so that timing tells nothing). Rehashes an outdated hash."""
    user = DirectoryRepository(session).user_by_email(email)
    if not verify_password(user.password_hash if user else None, password):
        return None
    assert user is not None and user.password_hash is not None
    if not user.is_active:
        return None
    if _hasher().check_needs_rehash(user.password_hash):
        from assistant.services.conversations import begin_writing

        begin_writing(session)
        user.password_hash = _hasher().hash(password)
        session.add(user)
    return user


def record_sign_in(session: Session, user: User, *, method: str, address: str | None) -> None:
    """An audit row: ``user`` signed in to the web app (``method``: "password" or "sso") from
    ``address``. Committed with the caller's transaction."""
    _record_session_event(session, AuditAction.SIGN_IN, user, {"method": method, "address": address})


def record_sign_out(session: Session, user: User, *, address: str | None) -> None:
    """``user`` signed out of the web app: their web sessions end everywhere (a copy of the
    cookie stops working too), and an audit row says so."""
    _record_session_event(session, AuditAction.SIGN_OUT, user, {"address": address})
    end_sessions(session, user)


def revoke_feed(session: Session, user: User, *, now: datetime | None = None) -> None:
    """Withdraw ``user``'s calendar-feed address (a lost device): the feed gets a new one."""
    user.feed_revoked_at = now or utcnow()
    session.add(user)
    session.flush()


def end_sessions(session: Session, user: User, *, now: datetime | None = None) -> None:
    """End every web session of ``user`` begun until now, at its next request."""
    user.sessions_ended_at = now or utcnow()
    session.add(user)
    session.flush()


def session_has_ended(user: User, began_at: float | None) -> bool:
    """Whether a web session begun at ``began_at`` (a POSIX timestamp; None for a cookie from
    before sessions carried one) was ended by a sign-out or a revocation since."""
    ended = user.sessions_ended_at
    return ended is not None and (began_at is None or began_at <= ended.timestamp())


def _record_session_event(session: Session, action: AuditAction, user: User, detail: dict[str, Any]) -> None:
    from assistant.services.conversations import begin_writing

    begin_writing(session)
    AuditRepository(session).record(action, "user", user.id, actor_user_id=user.id, school_id=user.school_id,
                                    detail=detail)


def set_password(session: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    session.add(user)
    session.flush()


def issue_token(session: Session, user: User) -> str:
    """A new API token for ``user``, returned once; only its digest is stored."""
    assert user.id is not None
    return DirectoryRepository(session).issue_token(user.id)


def user_for_token(session: Session, token: str, *, now: datetime | None = None) -> User | None:
    """The owner of an unrevoked API token, if the account is not disabled; else None."""
    caller = caller_for_token(session, token, now=now)
    return caller.user if caller else None


def caller_for_token(session: Session, token: str, *, conversation_id: str | None = None,
                     now: datetime | None = None) -> Caller | None:
    """The owner of an unrevoked API token, if the account is not disabled (else None), with
    the conversation ``conversation_id`` if it is theirs."""
    if not token or len(token) > 200:
        return None
    params = {"token_hash": hash_token(token)}
    if conversation_id is None:
        found = session.exec(_USER_FOR_TOKEN, params=params).first()
        conversation = None
    else:
        found = session.execute(_USER_FOR_TOKEN_AND_CONVERSATION,
                                {**params, "conversation_id": conversation_id}).first()
        conversation = None if found is None else _conversation(found[3:])
    if found is None:
        return None
    user, token_id, last_used_at = found[:3]
    now = now or utcnow()
    if last_used_at is None or now - last_used_at > TOKEN_TOUCH_INTERVAL:
        from assistant.services.conversations import begin_writing

        begin_writing(session)
        session.execute(_TOUCH_TOKEN, {"token_id": token_id, "now": now})
    return Caller(user, conversation)


def caller_by_id(session: Session, user_id: int, *, conversation_id: str | None = None) -> Caller | None:
    """The account ``user_id`` (signed in by a session cookie), enabled or not, with the
    conversation ``conversation_id`` if it is theirs; None if there is no such account."""
    if conversation_id is None:
        user = session.get(User, user_id)
        return Caller(user) if user is not None else None
    found = session.execute(_USER_BY_ID_AND_CONVERSATION,
                            {"user_id": user_id, "conversation_id": conversation_id}).first()
    return None if found is None else Caller(found[0], _conversation(found[1:]))


def disable_user(session: Session, user: User, *, now: datetime | None = None) -> int:
    """Disable an account (a leaver, a lost device): no sign-in by password or SSO, its web
    sessions end at their next request, its API tokens are revoked, Slack no longer knows it,
    and reminders go to the school's other staff. Returns how many tokens were revoked."""
    from assistant.services.conversations import begin_writing

    assert user.id is not None
    begin_writing(session)
    now = now or utcnow()
    if user.disabled_at is None:
        user.disabled_at = now
        session.add(user)
    end_sessions(session, user, now=now)  # so that enabling it again does not revive them
    revoke_feed(session, user, now=now)
    revoked = DirectoryRepository(session).revoke_tokens(user.id, now=now)
    session.flush()
    return revoked


def enable_user(session: Session, user: User) -> None:
    """Let a disabled account sign in again (its old API tokens stay revoked)."""
    from assistant.services.conversations import begin_writing

    begin_writing(session)
    user.disabled_at = None
    session.add(user)
    session.flush()


def feed_token(secret_key: str, user: User) -> str:
    """The secret in a user's calendar-feed URL (an HMAC of their id, their e-mail, their role,
    school and LA, and when their feed was last revoked: :func:`revoke_feed`, a change of e-mail,
    of role or of place, or of the server's secret key revokes it). A feed subscribed at one
    school must not go on to publish the pupils of the next."""
    revoked = f":{user.feed_revoked_at.isoformat()}" if user.feed_revoked_at is not None else ""
    message = f"calendar-feed:{user.id}:{user.email}:{user.role}:{user.school_id}:{user.la_id}{revoked}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:40]


def check_feed_token(secret_key: str, user: User, token: str) -> bool:
    return hmac.compare_digest(feed_token(secret_key, user), token)


# --------------------------------------------------------------------------- scope
def is_school_role(user: User) -> bool:
    return user.role in SCHOOL_ROLES


def is_la_role(user: User) -> bool:
    return user.role in LA_ROLES


def visible_school_ids(session: Session, user: User) -> list[int] | None:
    """The schools whose pupils ``user`` may see; None means every school (admin)."""
    if user.role == Role.ADMIN:
        return None
    if user.role in SCHOOL_ROLES:
        return [user.school_id] if user.school_id is not None else []
    if user.role in LA_ROLES and user.la_id is not None:
        return list(session.exec(select(School.id).where(School.la_id == user.la_id).order_by(col(School.id))))
    return []


def can_see_school(session: Session, user: User, school_id: int) -> bool:
    school = session.get(School, school_id) if user.role in LA_ROLES else None
    return may_see_school(user, school_id, school.la_id if school is not None else None)


def may_see_school(user: User, school_id: int, school_la_id: int | None) -> bool:
    """Whether ``user`` may see the pupils of school ``school_id``, which is in the LA
    ``school_la_id``: an admin every school, school staff their own, EWOs and LA officers their
    LA's (as :func:`visible_school_ids` lists them)."""
    if user.role == Role.ADMIN:
        return True
    if user.role in SCHOOL_ROLES:
        return user.school_id is not None and user.school_id == school_id
    return user.role in LA_ROLES and user.la_id is not None and user.la_id == school_la_id


def can_change_school(user: User, school_id: int) -> bool:
    """Only the school's own staff (and admins) record steps, replies, reviews and closures."""
    return user.role == Role.ADMIN or (user.role in SCHOOL_ROLES and user.school_id == school_id)


def schools_for(session: Session, school_ids: Sequence[int] | None) -> list[School]:
    query = select(School).order_by(col(School.name))
    if school_ids is not None:
        query = query.where(col(School.id).in_(list(school_ids)))
    return list(session.exec(query))
