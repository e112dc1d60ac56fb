"""A conversation's transcript in rows of its own (conversation_lines), out of the state that
every answer rewrites. Existing transcripts move there; the state keeps their count.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 17:45:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_conversations = sa.table("conversations", sa.column("id", sa.String), sa.column("state_json", sa.JSON))
_lines = sa.table("conversation_lines", sa.column("conversation_id", sa.String), sa.column("seq", sa.Integer),
                  sa.column("entry_json", sa.JSON))


def upgrade() -> None:
    op.create_table(
        "conversation_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entry_json", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_conversation_lines_conversation_id_conversations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_lines")),
        sa.UniqueConstraint("conversation_id", "seq", name=op.f("uq_conversation_lines_conversation_id_seq")),
    )
    connection = op.get_bind()
    for conversation_id, state in connection.execute(sa.select(_conversations.c.id, _conversations.c.state_json)):
        state = dict(state or {})
        lines = state.pop("transcript", None) or []
        if lines:
            connection.execute(sa.insert(_lines), [
                {"conversation_id": conversation_id, "seq": n, "entry_json": line} for n, line in enumerate(lines, 1)])
        state["lines"] = len(lines)
        connection.execute(sa.update(_conversations).where(_conversations.c.id == conversation_id)
                           .values(state_json=state))


def downgrade() -> None:
    connection = op.get_bind()
    for conversation_id, state in connection.execute(sa.select(_conversations.c.id, _conversations.c.state_json)):
        lines = [row.entry_json for row in connection.execute(
            sa.select(_lines.c.entry_json).where(_lines.c.conversation_id == conversation_id).order_by(_lines.c.seq))]
        state = {k: v for k, v in dict(state or {}).items() if k != "lines"}
        state["transcript"] = lines[-400:]
        connection.execute(sa.update(_conversations).where(_conversations.c.id == conversation_id)
                           .values(state_json=state))
    op.drop_table("conversation_lines")
