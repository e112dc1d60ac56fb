"""What a request can reach: the settings, one database session per request, the caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from assistant.config import Settings
from rules.reminder_schedule import SCHOOL_TIMEZONE
from storage.models import User
from storage.turns import ConversationRecord
from storage.types import utcnow

EXTENSION_KEY = "ptt"


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]


def runtime(app: Flask | None = None) -> Runtime:
    return (app or current_app).extensions[EXTENSION_KEY]


def db() -> Session:
    """The request's database session (one transaction; services commit it)."""
    session = g.get("_db")
    if session is None:
        from assistant.services.conversations import begin_reading

        session = runtime().session_factory()
        begin_reading(session)  # writes first call begin_writing: a request holds no write lock while it reads
        g._db = session
    return session


def close_db(_error: BaseException | None = None) -> None:
    session = g.pop("_db", None)
    if session is not None:
        try:
            session.rollback()
        finally:
            session.close()


def current_user() -> User | None:
    return g.get("user")


def require_user() -> User:
    user = g.get("user")
    if user is None:  # the login_required / API guards run first; this is a programming error
        raise RuntimeError("no signed-in user")
    return user


def read_with_caller() -> ConversationRecord | None:
    """The conversation the route names, as read with the signed-in caller (if it is theirs),
    for the service to use rather than read it again (the service checks it is the one asked for)."""
    return g.get("conversation")


def today() -> date:
    """Today in England (school dates are local dates)."""
    return utcnow().astimezone(SCHOOL_TIMEZONE).date()
