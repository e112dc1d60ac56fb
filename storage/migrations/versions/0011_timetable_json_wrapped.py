"""Every plan's timetable_json in one shape, ``{"timetable": …, "written": …}``: a timetable
stored bare (its ``weeks`` at the top, as ``create_plan`` once accepted) is wrapped, so that the
code that reads and re-plans timetables need not check for both shapes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 17:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(sa.text("UPDATE plans SET timetable_json = json_object('timetable', json(timetable_json)) "
                           "WHERE json_type(timetable_json, '$.weeks') IS NOT NULL"))
    else:
        op.execute(sa.text("UPDATE plans SET timetable_json = json_build_object('timetable', timetable_json) "
                           "WHERE timetable_json -> 'weeks' IS NOT NULL"))


def downgrade() -> None:
    """Nothing to undo: the wrapped shape is the one every revision reads."""
