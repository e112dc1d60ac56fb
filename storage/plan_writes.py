"""A new plan written in one go: its pupil (when new), the plan, its consultations, scheduled
reviews and reminders, its first version and the audit row of its creation.

Saving the plan an interview has just written is an interview's heaviest answer. Through the
ORM it took seven statements and as many flushes: on PostgreSQL seven round trips to the server,
while a worker that holds one answer for long makes every other request queue for the other.
Here :mod:`assistant.services.plans` works out the rows first and they are written together: on
PostgreSQL as one statement, on SQLite as one statement per table on the driver's cursor
(:mod:`storage.driver`: there no round trip is saved, but the unit of work's bookkeeping and
SQLAlchemy's own work per statement, most of a save's time in the database, are). The
reminders' idempotency keys hold :data:`PLAN_ID` where the plan's id goes, as the database gives
it; with a new id in their keys they are new rows, so they are inserted where
:meth:`ReminderRepository.schedule` upserts.

The rows are plain column values: dates and timezone-aware datetimes, JSON columns as Python
values. The tests write plans through here on both databases and read them back through the
ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from storage.db import json_dumps
from storage.driver import DriverInsert, driver_insert
from storage.models import AuditLog, Consultation, Plan, PlanVersion, Pupil, Reminder, Review

#: Stands for the new plan's id in its reminders' idempotency keys.
PLAN_ID = "{plan_id}"


@dataclass(frozen=True, slots=True)
class NewPlan:
    """The rows of a new plan, each without its own id or the ids the database is to give."""

    plan: dict[str, Any]  # a plans row, without id and pupil_id
    pupil: dict[str, Any] | None  # a new pupils row, without id; None: the pupil is ``pupil_id``
    pupil_id: int | None
    consultations: Sequence[dict[str, Any]]  # consultations rows, without id and plan_id
    review_dates: Sequence[date]
    reminders: Sequence[dict[str, Any]]  # reminders rows, without id and plan_id
    version: dict[str, Any]  # a plan_versions row, without id and plan_id
    audit: dict[str, Any]  # an audit_log row about the plan, without id, entity and entity_id

    def __post_init__(self) -> None:
        if (self.pupil is None) == (self.pupil_id is None):
            raise ValueError("give either a new pupil's row or a stored pupil's id")


_PLANS = Plan.__table__  # type: ignore[attr-defined]
#: The columns of :attr:`NewPlan.plan`: all the plan's but the two the database gives.
NEW_PLAN_COLUMNS = tuple(c.name for c in _PLANS.columns if c.name not in ("id", "pupil_id"))
_PUPIL_COLUMNS = ("first_name", "last_name", "date_of_birth", "upn", "school_id")
_CONSULTATION_COLUMNS = ("role", "requirement", "status", "created_at", "updated_at", "note")
_REMINDER_COLUMNS = ("kind", "subject", "due_at", "idempotency_key", "status", "attempts", "escalation_level",
                     "recipient_role", "recipient_user_id", "created_at")
_JSON_COLUMNS = frozenset({"case_json", "decision_json", "timetable_json"})


class PlanWriter:
    """Writes a :class:`NewPlan` in the session's transaction (SQLite or PostgreSQL)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def insert(self, new: NewPlan) -> tuple[int, int]:
        """Write ``new``; the pupil's id and the plan's."""
        if self.session.get_bind().dialect.name == "postgresql":
            return self._insert_postgres(new)
        return self._insert_each(new)

    def _insert_each(self, new: NewPlan) -> tuple[int, int]:
        """SQLite: one statement per table, on the driver's cursor (:mod:`storage.driver`)."""
        session = self.session
        dialect = session.get_bind().dialect

        def insert(model: Any, rows: Sequence[dict[str, Any]]) -> DriverInsert:
            return driver_insert(model.__table__, tuple(rows[0]), dialect)

        pupil_id = new.pupil_id
        if new.pupil is not None:
            pupil_id = insert(Pupil, [new.pupil]).one(session, new.pupil)
        plan = {**new.plan, "pupil_id": pupil_id}
        plan_id = insert(Plan, [plan]).one(session, plan)
        for model, rows in (
            (Consultation, [{**row, "plan_id": plan_id} for row in new.consultations]),
            (Review, [{"plan_id": plan_id, "due_on": day} for day in new.review_dates]),
            (Reminder, [_with_plan_id(row, plan_id) for row in new.reminders]),
            (PlanVersion, [{**new.version, "plan_id": plan_id}]),
            (AuditLog, [{**new.audit, "entity": "plan", "entity_id": str(plan_id)}]),
        ):
            if rows:
                insert(model, rows).many(session, rows)
        assert pupil_id is not None
        return pupil_id, plan_id

    def _insert_postgres(self, new: NewPlan) -> tuple[int, int]:
        params: dict[str, Any] = {name: new.plan[name] for name in NEW_PLAN_COLUMNS}
        params.update({name: json_dumps(params[name]) for name in _JSON_COLUMNS})
        params.update({f"pupil_{name}": (new.pupil or {}).get(name) for name in _PUPIL_COLUMNS})
        params.update(
            new_pupil=new.pupil is not None, pupil_id=new.pupil_id, placeholder=PLAN_ID,
            consultations=json_dumps([{name: row.get(name) for name in _CONSULTATION_COLUMNS}
                                      for row in new.consultations]),
            reviews=json_dumps([{"due_on": day} for day in new.review_dates]),
            reminders=json_dumps([{name: row.get(name) for name in _REMINDER_COLUMNS} for row in new.reminders]),
            version_number=new.version["version"], snapshot_json=json_dumps(new.version["snapshot_json"]),
            changed_by=new.version.get("changed_by"), changed_at=new.version["changed_at"],
            change_summary=new.version.get("change_summary") or "",
            audit_at=new.audit["at"], audit_actor_user_id=new.audit.get("actor_user_id"),
            audit_action=new.audit["action"], audit_school_id=new.audit.get("school_id"),
            audit_detail_json=json_dumps(new.audit.get("detail_json")),
        )
        pupil_id, plan_id = self.session.execute(_PG_INSERT_PLAN, params).one()
        return pupil_id, plan_id


def _plan_values() -> str:
    """The plan's columns as parameters, cast where PostgreSQL cannot tell the type of a NULL."""
    casts = {"case_json": "JSON", "decision_json": "JSON", "timetable_json": "JSON", "start_date": "DATE",
             "end_date": "DATE", "latest_end_date": "DATE", "extended_beyond_maximum": "BOOLEAN",
             "school_id": "INTEGER", "lead_user_id": "INTEGER", "version": "INTEGER", "created_at": "TIMESTAMPTZ",
             "updated_at": "TIMESTAMPTZ", "closed_at": "TIMESTAMPTZ",
             "closed_on": "DATE"}
    return ", ".join(f"CAST(:{name} AS {casts[name]})" if name in casts else f":{name}" for name in NEW_PLAN_COLUMNS)


def _with_plan_id(reminder: dict[str, Any], plan_id: int) -> dict[str, Any]:
    key = reminder["idempotency_key"].replace(PLAN_ID, str(plan_id))
    return {**reminder, "plan_id": plan_id, "idempotency_key": key}


#: PostgreSQL: the whole new plan as one statement. The rows that refer to the plan (and the
#: plan to its pupil) are checked against it at the end of the statement.
_PG_INSERT_PLAN = text(f"""
WITH new_pupil AS (
    INSERT INTO pupils (first_name, last_name, date_of_birth, upn, school_id)
    SELECT :pupil_first_name, :pupil_last_name, CAST(:pupil_date_of_birth AS DATE), :pupil_upn,
           CAST(:pupil_school_id AS INTEGER)
     WHERE CAST(:new_pupil AS BOOLEAN)
 RETURNING id
), pupil AS (
    SELECT id FROM new_pupil
     UNION ALL
    SELECT CAST(:pupil_id AS INTEGER) WHERE NOT CAST(:new_pupil AS BOOLEAN)
), plan AS (
    INSERT INTO plans (pupil_id, {", ".join(NEW_PLAN_COLUMNS)})
    SELECT pupil.id, {_plan_values()}
      FROM pupil
 RETURNING id, pupil_id
), consultations AS (
    INSERT INTO consultations (plan_id, {", ".join(_CONSULTATION_COLUMNS)})
    SELECT plan.id, c.role, c.requirement, c.status, c.created_at, c.updated_at, c.note
      FROM plan, json_to_recordset(CAST(:consultations AS JSON))
           AS c(role TEXT, requirement TEXT, status TEXT, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, note TEXT)
), reviews AS (
    INSERT INTO reviews (plan_id, due_on)
    SELECT plan.id, r.due_on FROM plan, json_to_recordset(CAST(:reviews AS JSON)) AS r(due_on DATE)
), reminders AS (
    INSERT INTO reminders (plan_id, {", ".join(_REMINDER_COLUMNS)})
    SELECT plan.id, m.kind, m.subject, m.due_at, replace(m.idempotency_key, :placeholder, plan.id::TEXT), m.status,
           m.attempts, m.escalation_level, m.recipient_role, m.recipient_user_id, m.created_at
      FROM plan, json_to_recordset(CAST(:reminders AS JSON))
           AS m(kind TEXT, subject TEXT, due_at TIMESTAMPTZ, idempotency_key TEXT, status TEXT, attempts INTEGER,
                escalation_level INTEGER, recipient_role TEXT, recipient_user_id INTEGER, created_at TIMESTAMPTZ)
), version AS (
    INSERT INTO plan_versions (plan_id, version, snapshot_json, changed_by, changed_at, change_summary)
    SELECT plan.id, CAST(:version_number AS INTEGER), CAST(:snapshot_json AS JSON), CAST(:changed_by AS INTEGER),
           CAST(:changed_at AS TIMESTAMPTZ), :change_summary
      FROM plan
), audit AS (
    INSERT INTO audit_log (at, actor_user_id, action, entity, entity_id, school_id, detail_json)
    SELECT CAST(:audit_at AS TIMESTAMPTZ), CAST(:audit_actor_user_id AS INTEGER), :audit_action, 'plan',
           plan.id::TEXT, CAST(:audit_school_id AS INTEGER), CAST(:audit_detail_json AS JSON)
      FROM plan
)
SELECT pupil_id, id FROM plan
""")
