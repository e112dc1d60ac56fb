"""The audit log records sign-ins and sign-outs of the web app: actions sign_in and sign_out.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 07:40:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ("read", "create", "update", "delete", "export")
AFTER = (*BEFORE, "sign_in", "sign_out")


def _allow(actions: tuple[str, ...]) -> None:
    # On SQLite the table is rebuilt (batch mode), which drops the old CHECK by its name.
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint(op.f("ck_audit_log_action"), type_="check")
        batch.create_check_constraint("action", f"action IN ({', '.join(repr(a) for a in actions)})")


def upgrade() -> None:
    _allow(AFTER)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM audit_log WHERE action IN ('sign_in', 'sign_out')"))
    _allow(BEFORE)
