"""Closures configured per local authority and per school (term holidays, INSET days).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 15:20:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("local_authorities", "schools"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("closures_json", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    for table in ("schools", "local_authorities"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("closures_json")
