"""Signing out ends the account's web sessions everywhere (users.sessions_ended_at), and revoking
a user's tokens withdraws their calendar feed's address too (users.feed_revoked_at).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 11:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("sessions_ended_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("feed_revoked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("feed_revoked_at")
        batch.drop_column("sessions_ended_at")
