"""The timetable's sessions as CSV, with the register code each one takes, for MIS import."""

from __future__ import annotations

import csv
from io import StringIO

from conversations.timetable import WEEKDAY_NAMES

from .data import PlanDocumentData

SESSION_COLUMNS: tuple[str, ...] = (
    "pupil_name",
    "upn",
    "date_of_birth",
    "date",
    "weekday",
    "session",
    "expected_in_school",
    "register_code",
    "hours_in_school",
    "location",
    "with_whom",
)
# A cell starting with one of these is read as a formula by spreadsheet programs.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def sessions_csv(data: PlanDocumentData) -> str:
    """One row per am/pm session on each open day of the plan.

    ``expected_in_school`` is ``Y`` or ``N``; ``register_code`` is ``C2`` (authorised absence
    under the part-time timetable), ``B`` (approved off-site education) or blank where the
    pupil is expected in school and takes the normal attendance mark. Days the school is closed
    have no rows, nor have days after the plan closed.
    """
    out = StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(SESSION_COLUMNS)
    dob = data.date_of_birth.isoformat() if data.date_of_birth else ""
    for session in data.sessions_in_force():
        writer.writerow(_safe(value) for value in (
            data.pupil_name,
            data.upn,
            dob,
            session.day.isoformat(),
            WEEKDAY_NAMES[session.weekday],
            session.half.upper(),
            "Y" if session.in_school else "N",
            session.register_code or "",
            f"{round(session.hours, 2):g}",
            session.location or "",
            session.with_whom or "",
        ))
    return out.getvalue()


def _safe(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value
