"""The Slack app's own tables: what it has already handled, and which DM thread runs which check.

* ``slack_receipts``: one row per thing done once — an Events API ``event_id`` (Slack retries an
  event it thinks was not received; the retry carries the same id and ``X-Slack-Retry-Num``), a
  reminder DM already sent, a reminder's "review held" button already applied.
* ``slack_threads``: a check run in a DM: the conversation, the DM channel and the thread.

The tables are defined in :mod:`storage.models` and built by the migrations (0006).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.db import SessionFactory
from storage.models import SlackReceipt, SlackThread
from storage.types import utcnow

PRUNE_CHANCE = 0.001


def engine_of(session_factory: SessionFactory) -> Engine:
    session = session_factory()
    try:
        bind = session.get_bind()
    finally:
        session.close()
    return bind if isinstance(bind, Engine) else bind.engine


def first_time(session_factory: SessionFactory, key: str) -> bool:
    """Record ``key``; True the first time it is seen, False ever after (even concurrently)."""
    session = session_factory()
    try:
        if session.get(SlackReceipt, key[:255]) is not None:
            return False
        session.add(SlackReceipt(key=key[:255]))
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    finally:
        session.close()
    if random.random() < PRUNE_CHANCE:
        prune(session_factory)
    return True


#: Receipts older than this are forgotten (Slack retries within minutes; reminders within days),
#: except the "review held" ones, which keep a reminder's button from recording a second review.
RECEIPT_RETENTION = timedelta(days=30)
_KEPT_PREFIXES = ("review_held:",)


def prune(session_factory: SessionFactory, *, now: datetime | None = None) -> int:
    cutoff = (now or utcnow()) - RECEIPT_RETENTION
    with session_factory() as session:
        stale = [r for r in session.exec(select(SlackReceipt).where(col(SlackReceipt.received_at) < cutoff))
                 if not r.key.startswith(_KEPT_PREFIXES)]
        for row in stale:
            session.delete(row)
        session.commit()
        return len(stale)


def seen(session_factory: SessionFactory, key: str) -> bool:
    with session_factory() as session:
        return session.get(SlackReceipt, key[:255]) is not None


def forget(session_factory: SessionFactory, key: str) -> None:
    """Undo :func:`first_time` when the work it guarded failed and may be tried again."""
    with session_factory() as session:
        row = session.get(SlackReceipt, key[:255])
        if row is not None:
            session.delete(row)
            session.commit()


def remember_thread(session: Session, conversation_id: str, *, slack_user_id: str, channel_id: str,
                    thread_ts: str) -> SlackThread:
    row = SlackThread(conversation_id=conversation_id, slack_user_id=slack_user_id, channel_id=channel_id,
                      thread_ts=thread_ts)
    session.add(row)
    session.commit()
    return row


def thread_for_conversation(session: Session, conversation_id: str) -> SlackThread | None:
    return session.get(SlackThread, conversation_id)


def thread_at(session: Session, channel_id: str, thread_ts: str) -> SlackThread | None:
    return session.exec(
        select(SlackThread).where(SlackThread.channel_id == channel_id, SlackThread.thread_ts == thread_ts)
    ).first()


def mark_decision_posted(session: Session, conversation_id: str) -> bool:
    """True if this call is the one that marks it (so the decision is posted once)."""
    row = session.get(SlackThread, conversation_id)
    if row is None or row.decision_posted:
        return False
    row.decision_posted = True
    session.add(row)
    session.commit()
    return True
