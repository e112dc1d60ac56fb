"""The day a plan closed (plans.closed_on): its timetable's sessions stop after it, in the MIS
sessions CSV, the calendar and the plan page. ``closed_at`` is when the closure was recorded,
which may be days later. Existing closed plans take the day their closure was recorded.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:30:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("plans", sa.Column("closed_on", sa.Date(), nullable=True))
    # SQLite keeps timestamps as text ("2026-12-03 15:00:00..."), whose first ten characters are
    # the ISO date; PostgreSQL casts its timestamptz in the session's time zone (UTC here).
    recorded_day = ("substr(closed_at, 1, 10)" if op.get_bind().dialect.name == "sqlite"
                    else "CAST(closed_at AT TIME ZONE 'UTC' AS DATE)")
    op.execute(sa.text(f"UPDATE plans SET closed_on = {recorded_day} "
                       f"WHERE status = 'closed' AND closed_at IS NOT NULL"))


def downgrade() -> None:
    op.drop_column("plans", "closed_on")
