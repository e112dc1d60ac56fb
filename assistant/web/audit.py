"""Audit rows for what the web app shows: one row per plan read or exported, naming who."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session

from assistant.services.conversations import begin_writing
from storage.models import AuditLog, User
from storage.types import utcnow


def record_plan_access(session: Session, user: User, plans: Iterable[Any], *, action: str = "read",
                       via: str, detail: dict[str, Any] | None = None) -> None:
    """One audit row per plan (``plans``: objects with ``id`` and ``school_id``)."""
    begin_writing(session)
    now = utcnow()
    session.add_all([
        AuditLog(at=now, actor_user_id=user.id, action=action, entity="plan", entity_id=str(p.id),
                 school_id=p.school_id, detail_json={"via": via, **(detail or {})})
        for p in plans
    ])
    session.flush()
