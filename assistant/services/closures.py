"""Closures configured for an LA and for a school: term holidays and INSET days.

A school's calendar is its LA's closures plus its own; conversations started by the school's
staff count school days with them, so plans need not repeat them in every case.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from storage.models import LocalAuthority, School

Closure = tuple[date, date]


class ClosureError(ValueError):
    """A closure that cannot be recorded, with a message for the person who typed it."""


def _as_closures(rows: list[dict[str, str]] | None) -> list[Closure]:
    return [(date.fromisoformat(row["from"]), date.fromisoformat(row["to"])) for row in rows or []]


def closures_for_school(session: Session, school_id: int | None) -> list[Closure]:
    """The LA's closures and the school's own, in date order."""
    if school_id is None:
        return []
    row = session.execute(_SCHOOL_AND_LA_CLOSURES, {"school_id": school_id}).first()
    if row is None:
        return []
    return sorted(set(_as_closures(row.school) + _as_closures(row.la)))


#: Both lists in one query: every interview begins by reading them.
_SCHOOL_AND_LA_CLOSURES = (
    select(col(School.closures_json).label("school"), col(LocalAuthority.closures_json).label("la"))
    .select_from(School)
    .outerjoin(LocalAuthority, col(LocalAuthority.id) == col(School.la_id))
    .where(col(School.id) == bindparam("school_id"))
)


def _owner(session: Session, scope: Literal["school", "la"], name: str) -> School | LocalAuthority:
    if scope == "la":
        owner = session.exec(select(LocalAuthority).where(LocalAuthority.policy_id == name)).first()
        if owner is None:
            raise ClosureError(f"no local authority with policy {name!r}")
        return owner
    schools = session.exec(select(School).where(School.name == name)).all()
    if not schools:
        raise ClosureError(f"no school called {name!r}")
    if len(schools) > 1:
        raise ClosureError(f"more than one school is called {name!r}; add the closure to each LA's school by id")
    return schools[0]


def add_closure(
    session: Session, scope: Literal["school", "la"], name: str, first: date, last: date, label: str = ""
) -> list[dict[str, str]]:
    if last < first:
        raise ClosureError(f"the closure ends ({last.isoformat()}) before it starts ({first.isoformat()})")
    owner = _owner(session, scope, name)
    entry = {"from": first.isoformat(), "to": last.isoformat(), "label": label}
    rows = [row for row in owner.closures_json or [] if (row["from"], row["to"]) != (entry["from"], entry["to"])]
    owner.closures_json = sorted([*rows, entry], key=lambda row: row["from"])
    session.add(owner)
    return owner.closures_json


def remove_closure(session: Session, scope: Literal["school", "la"], name: str, first: date) -> bool:
    owner = _owner(session, scope, name)
    rows = owner.closures_json or []
    kept = [row for row in rows if row["from"] != first.isoformat()]
    owner.closures_json = kept
    session.add(owner)
    return len(kept) < len(rows)


def list_closures(session: Session, scope: Literal["school", "la"], name: str) -> list[dict[str, str]]:
    return list(_owner(session, scope, name).closures_json or [])
