"""A conversation belongs to the school its user was at when it began (conversations.school_id):
someone who moves to another school no longer reads the old school's interviews, which name
its pupils. Existing conversations take the school their creation was audited with.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 15:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    name = op.f("fk_conversations_school_id_schools")
    if op.get_bind().dialect.name == "sqlite":
        # Not a batch, which would copy the table that its answers and lines refer to: SQLite adds
        # a column with its reference in place.
        op.execute(sa.text(f"ALTER TABLE conversations ADD COLUMN school_id INTEGER "
                           f"CONSTRAINT {name} REFERENCES schools (id)"))
    else:
        op.add_column("conversations", sa.Column("school_id", sa.Integer(), nullable=True))
        op.create_foreign_key(name, "conversations", "schools", ["school_id"], ["id"])
    op.execute(sa.text(
        "UPDATE conversations SET school_id = (SELECT max(audit_log.school_id) FROM audit_log "
        "WHERE audit_log.entity = 'conversation' AND audit_log.entity_id = conversations.id "
        "AND audit_log.action = 'create')"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("fk_conversations_school_id_schools"), "conversations", type_="foreignkey")
    op.drop_column("conversations", "school_id")
