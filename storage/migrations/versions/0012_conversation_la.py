"""A conversation begun outside any school belongs to the local authority its user was in
(conversations.la_id): an EWO or LA officer who moves to another LA no longer reads the old
LA's interviews, which name its pupils (a school's conversation has its school to tell by).
Existing ones take their user's LA now.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 20:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    name = op.f("fk_conversations_la_id_local_authorities")
    if op.get_bind().dialect.name == "sqlite":
        # As in 0009: SQLite adds a column with its reference in place, without copying the table.
        op.execute(sa.text(f"ALTER TABLE conversations ADD COLUMN la_id INTEGER "
                           f"CONSTRAINT {name} REFERENCES local_authorities (id)"))
    else:
        op.add_column("conversations", sa.Column("la_id", sa.Integer(), nullable=True))
        op.create_foreign_key(name, "conversations", "local_authorities", ["la_id"], ["id"])
    op.execute(sa.text(
        "UPDATE conversations SET la_id = (SELECT users.la_id FROM users WHERE users.id = conversations.user_id) "
        "WHERE school_id IS NULL"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("fk_conversations_la_id_local_authorities"), "conversations", type_="foreignkey")
    op.drop_column("conversations", "la_id")
