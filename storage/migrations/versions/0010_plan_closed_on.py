"""The day a plan closed (plans.closed_on): its timetable's sessions stop after it, in the MIS
sessions CSV, the calendar and the plan page. ``closed_at`` is when the closure was recorded,
which may be days later. Existing closed plans take the day (in the schools' time zone) their
closure was recorded.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:30:00

"""
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: The schools' time zone, as the app's ``SCHOOL_TIMEZONE`` (written out: a migration stays as it was).
SCHOOLS = "Europe/London"


def upgrade() -> None:
    op.add_column("plans", sa.Column("closed_on", sa.Date(), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(sa.text(f"UPDATE plans SET closed_on = CAST(closed_at AT TIME ZONE '{SCHOOLS}' AS DATE) "
                           "WHERE status = 'closed' AND closed_at IS NOT NULL"))
        return
    # SQLite keeps the UTC timestamps as text and knows no time zones: each day is worked out here.
    closed = bind.execute(sa.text("SELECT id, closed_at FROM plans WHERE status = 'closed' AND closed_at IS NOT NULL"))
    for plan_id, closed_at in closed.all():
        recorded = datetime.fromisoformat(str(closed_at))
        recorded = recorded if recorded.tzinfo else recorded.replace(tzinfo=UTC)
        bind.execute(sa.text("UPDATE plans SET closed_on = :day WHERE id = :id"),
                     {"day": recorded.astimezone(ZoneInfo(SCHOOLS)).date().isoformat(), "id": plan_id})


def downgrade() -> None:
    op.drop_column("plans", "closed_on")
