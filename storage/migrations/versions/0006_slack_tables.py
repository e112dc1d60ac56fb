"""The Slack app's tables (slack_receipts, slack_threads) come under the migrations.

Until now the Slack app created them itself when it started. A database where it did so
keeps them as they are (they were built from the same definitions); elsewhere they are
created here.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 19:10:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "slack_receipts" not in existing:
        op.create_table(
            "slack_receipts",
            sa.Column("key", sa.String(length=255), nullable=False),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("key", name=op.f("pk_slack_receipts")),
        )
    if "slack_threads" not in existing:
        op.create_table(
            "slack_threads",
            sa.Column("conversation_id", sa.String(length=36), nullable=False),
            sa.Column("slack_user_id", sa.String(length=64), nullable=False),
            sa.Column("channel_id", sa.String(length=64), nullable=False),
            sa.Column("thread_ts", sa.String(length=32), nullable=False),
            sa.Column("decision_posted", sa.Boolean(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_slack_threads")),
        )
        op.create_index(op.f("ix_slack_threads_slack_user_id"), "slack_threads", ["slack_user_id"])
        op.create_index(op.f("ix_slack_threads_thread_ts"), "slack_threads", ["thread_ts"])


def downgrade() -> None:
    op.drop_table("slack_threads")
    op.drop_table("slack_receipts")
