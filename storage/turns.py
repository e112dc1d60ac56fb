"""An interview turn's own reads and writes, on the database driver's connection.

A turn (one answer in the web chat, the API or Slack) is the app's most frequent request, and
its statements are always the same few: read the conversation; then, if it is still at the
version read, store its new state, the raw answer, the turn's transcript lines and an audit
row. Through SQLAlchemy each statement costs 60–90 µs of Python (the ORM's identity map and row
processing, the Core's parameter and result machinery) on top of the few microseconds SQLite
takes to run it: a third of a turn's time. So these statements go straight to the DBAPI cursor
of the session's own connection, inside whatever transaction the session has begun (on SQLite
the read as a deferred ``BEGIN``, the writes after ``BEGIN IMMEDIATE``), and commit with it. On
PostgreSQL a request of a conversation reads outside a transaction (see
:func:`storage.db.read_outside_transaction`): there a turn's one statement commits by itself,
and a write of several statements, or one to be committed with the caller's other writes,
begins a transaction first.

Being beneath the session, they do not autoflush it (objects pending in the session are
written at its next flush or commit, after these), and SQLAlchemy's statement events and echo
do not see them. A driver error comes out as SQLAlchemy's; a lost connection is invalidated
(that connection, where an ORM statement's disconnect also invalidates the rest of the pool).

The values are converted here as the tables' column types convert them (see
:mod:`storage.models` and :class:`storage.types.UTCDateTime`): JSON as text through
:func:`storage.db.json_dumps`; timestamps as naive UTC text on SQLite (SQLAlchemy's own format,
which sorts correctly) and ``timestamptz`` on PostgreSQL; booleans as 0/1 on SQLite. The tests
write through here and read back through the ORM, and the other way about, on both databases.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlmodel import Session

from storage.db import json_dumps, open_transaction, outside_transaction
from storage.driver import driver_cursor


@dataclass(slots=True)
class ConversationRecord:
    """A conversation's row as a turn reads and rewrites it: the columns of
    :class:`storage.models.Conversation`, outside any session."""

    id: str
    user_id: int | None
    policy_id: str
    channel: str | None
    state_json: dict[str, Any]
    version: int
    finished: bool
    plan_id: int | None
    created_at: datetime
    updated_at: datetime
    school_id: int | None = None
    la_id: int | None = None


#: A raw answer as stored: the text exactly as given, the fact it answered, whether accepted.
Answer = tuple[str, str | None, bool]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An ``audit_log`` row about a conversation."""

    action: str
    actor_user_id: int | None
    school_id: int | None
    detail: dict[str, Any] | None


_COLUMNS = ("id, user_id, policy_id, channel, state_json, version, finished, plan_id, created_at, updated_at, "
            "school_id, la_id")


class TurnStore:
    """The turn's statements for the session's database (SQLite or PostgreSQL)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.postgres = session.get_bind().dialect.name == "postgresql"

    def _cursor(self, sql: str) -> AbstractContextManager[Any]:
        """A cursor of the session's connection (:func:`storage.driver.driver_cursor`)."""
        return driver_cursor(self.session, self._sql(sql))

    def _time(self, value: datetime) -> Any:
        """A timestamp as :class:`storage.types.UTCDateTime` binds it."""
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: give a timezone-aware datetime (UTC)")
        value = value.astimezone(UTC)
        return value if self.postgres else value.replace(tzinfo=None).isoformat(" ", "microseconds")

    def _json(self, value: Any) -> Any:
        if self.postgres:
            from psycopg.types.json import Json

            return Json(value)  # dumped by the dumps SQLAlchemy set on the connection (json_dumps)
        return json_dumps(value)

    # ------------------------------------------------------------------ reading
    def load(self, conversation_id: str) -> ConversationRecord | None:
        sql = f"SELECT {_COLUMNS} FROM conversations WHERE id = {'%s' if self.postgres else '?'}"
        with self._cursor(sql) as cursor:
            cursor.execute(sql, (conversation_id,))
            row = cursor.fetchone()
        if row is None:
            return None
        id_, user_id, policy_id, channel, state, version, finished, plan_id, created, updated, school_id, la_id = row
        return ConversationRecord(
            id=id_, user_id=user_id, policy_id=policy_id, channel=channel,
            state_json=orjson.loads(state) if isinstance(state, str | bytes) else state,
            version=version, finished=bool(finished), plan_id=plan_id,
            created_at=_utc(created), updated_at=_utc(updated), school_id=school_id, la_id=la_id,
        )

    # ------------------------------------------------------------------ writing
    def insert_conversation(self, conv: ConversationRecord, *, lines: Sequence[dict[str, Any]],
                            audit: AuditEntry) -> None:
        """Add a new conversation (``conv``, its first state already set), its first transcript
        lines (numbered from 1) and the audit row of its creation, dated ``conv.created_at``."""
        params = {"conversation_id": conv.id, "user_id": conv.user_id, "policy_id": conv.policy_id,
                  "channel": conv.channel, "state": self._json(conv.state_json), "version": conv.version,
                  "finished": self._bool(conv.finished), "plan_id": conv.plan_id,
                  "created_at": self._time(conv.created_at), "updated_at": self._time(conv.updated_at),
                  "conversation_school_id": conv.school_id,  # not "school_id": the audit row's is that
                  "conversation_la_id": conv.la_id}
        if self.postgres:
            # One statement: one round trip to the server instead of three.
            params.update(self._audit_params(conv.id, audit, conv.created_at), new_lines=self._json(list(lines)))
            with self._cursor(_PG_INSERT_CONVERSATION) as cursor:
                cursor.execute(_PG_INSERT_CONVERSATION, params)
            return
        with self._cursor(_INSERT_CONVERSATION) as cursor:
            cursor.execute(_INSERT_CONVERSATION, params)
        self.insert_lines(conv.id, 0, lines)
        self.insert_audit(conv.id, audit, conv.created_at)

    def write_turn(self, conv: ConversationRecord, *, loaded_version: int, answers: Sequence[Answer],
                   lines_before: int, lines: Sequence[dict[str, Any]], audit: AuditEntry, now: datetime,
                   commit: bool = False) -> bool:
        """Store the conversation's new state (``conv``) as version ``loaded_version + 1``, its
        answers, transcript lines and audit row, if the stored conversation is still at
        ``loaded_version``; False (nothing written) if another answer got in first.

        ``commit``: then commit the session, whatever the outcome (the caller has written nothing
        else in this transaction that must be undone if another answer got in first). On
        PostgreSQL the COMMIT goes to the server with the write, one round trip instead of two,
        or, where the request reads outside a transaction (see
        :func:`storage.db.read_outside_transaction`), the one statement needs none."""
        if not commit:
            open_transaction(self.session.connection())  # to be committed with the caller's other writes
        if self.postgres and len(answers) == 1:
            written = self._write_turn_postgres(conv, loaded_version, answers[0], lines_before, lines, audit, now,
                                                commit=commit)
        else:
            written = self._write_turn_each(conv, loaded_version, answers, lines_before, lines, audit, now)
        if commit:
            self.session.commit()  # on PostgreSQL, committed already: only the session's bookkeeping is left
        return written

    def _write_turn_each(self, conv: ConversationRecord, loaded_version: int, answers: Sequence[Answer],
                         lines_before: int, lines: Sequence[dict[str, Any]], audit: AuditEntry,
                         now: datetime) -> bool:
        open_transaction(self.session.connection())  # several statements: all or none
        with self._cursor(_UPDATE_CONVERSATION) as cursor:
            cursor.execute(self._sql(_UPDATE_CONVERSATION), self._update_params(conv, loaded_version, now))
            if cursor.rowcount != 1:
                return False
        self.insert_answers(conv.id, answers, now)
        self.insert_lines(conv.id, lines_before, lines)
        self.insert_audit(conv.id, audit, now)
        return True

    def insert_answers(self, conversation_id: str, answers: Sequence[Answer], now: datetime) -> None:
        """Store each raw answer with the next sequence number, taken by the INSERT itself inside
        the write transaction (so two writers cannot take the same number)."""
        if not answers:
            return
        with self._cursor(_INSERT_ANSWER) as cursor:
            cursor.executemany(self._sql(_INSERT_ANSWER), [
                {"conversation_id": conversation_id, "fact": fact, "raw_text": raw,
                 "accepted": self._bool(accepted), "now": self._time(now)}
                for raw, fact, accepted in answers])

    def insert_lines(self, conversation_id: str, before: int, lines: Sequence[dict[str, Any]]) -> None:
        if not lines:
            return
        with self._cursor(_INSERT_LINE) as cursor:
            cursor.executemany(self._sql(_INSERT_LINE), [
                {"conversation_id": conversation_id, "seq": before + n, "entry_json": self._json(line)}
                for n, line in enumerate(lines, 1)])

    def insert_audit(self, conversation_id: str, audit: AuditEntry, now: datetime) -> None:
        with self._cursor(_INSERT_AUDIT) as cursor:
            cursor.execute(self._sql(_INSERT_AUDIT), self._audit_params(conversation_id, audit, now))

    def _audit_params(self, conversation_id: str, audit: AuditEntry, now: datetime) -> dict[str, Any]:
        return {"at": self._time(now), "actor_user_id": audit.actor_user_id, "action": audit.action,
                "entity_id": conversation_id, "school_id": audit.school_id, "detail_json": self._json(audit.detail)}

    def _write_turn_postgres(self, conv: ConversationRecord, loaded_version: int, answer: Answer,
                             lines_before: int, lines: Sequence[dict[str, Any]], audit: AuditEntry,
                             now: datetime, *, commit: bool) -> bool:
        # One statement: one round trip to the server instead of four.
        raw, fact, accepted = answer
        params = {**self._update_params(conv, loaded_version, now), "fact": fact, "raw_text": raw,
                  "accepted": accepted, "action": audit.action, "actor_user_id": audit.actor_user_id,
                  "school_id": audit.school_id, "detail_json": self._json(audit.detail),
                  "lines_before": lines_before, "new_lines": self._json(list(lines))}
        with self._cursor(_PG_WRITE_TURN) as cursor:
            if commit and not outside_transaction(self.session.connection()):
                # Pipelined with one Sync: the server gets the write and the COMMIT together and
                # answers both at once. (The driver's own commit() would sync on its own: two
                # round trips.) If the write fails, the server skips the COMMIT.
                connection = cursor.connection
                with connection.pipeline():
                    cursor.execute(_PG_WRITE_TURN, params)
                    connection.execute("COMMIT")
            else:
                cursor.execute(_PG_WRITE_TURN, params)
            return cursor.fetchone() is not None

    def _update_params(self, conv: ConversationRecord, loaded_version: int, now: datetime) -> dict[str, Any]:
        return {"conversation_id": conv.id, "loaded": loaded_version, "new_state": self._json(conv.state_json),
                "new_finished": self._bool(conv.finished), "new_plan_id": conv.plan_id,
                "new_version": loaded_version + 1, "now": self._time(now)}

    def _bool(self, value: bool) -> bool | int:
        return value if self.postgres else int(value)

    def _sql(self, sql: str) -> str:
        """The statement as the driver takes it (``%(name)s`` placeholders for psycopg)."""
        return _POSTGRES_SQL.get(sql, sql) if self.postgres else sql


def _utc(value: Any) -> datetime:
    """A timestamp as :class:`storage.types.UTCDateTime` returns it (UTC, timezone-aware)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Written with ``:name`` placeholders (the sqlite3 module's) and, where PostgreSQL must be told a
# selected parameter's type, a CAST that SQLite takes as it is.
_UPDATE_CONVERSATION = (
    "UPDATE conversations SET state_json = :new_state, finished = :new_finished, plan_id = :new_plan_id, "
    "version = :new_version, updated_at = :now WHERE id = :conversation_id AND version = :loaded")
_INSERT_CONVERSATION = (
    "INSERT INTO conversations (id, user_id, policy_id, channel, state_json, version, finished, plan_id, "
    "created_at, updated_at, school_id, la_id) VALUES (:conversation_id, :user_id, :policy_id, :channel, :state, "
    ":version, :finished, :plan_id, :created_at, :updated_at, :conversation_school_id, :conversation_la_id)")
_INSERT_ANSWER = (
    "INSERT INTO conversation_answers (conversation_id, seq, fact, raw_text, accepted, at) "
    "SELECT CAST(:conversation_id AS VARCHAR), coalesce(max(seq), 0) + 1, CAST(:fact AS VARCHAR), "
    "CAST(:raw_text AS TEXT), :accepted, :now FROM conversation_answers WHERE conversation_id = :conversation_id")
_INSERT_LINE = ("INSERT INTO conversation_lines (conversation_id, seq, entry_json) "
                "VALUES (:conversation_id, :seq, :entry_json)")
_INSERT_AUDIT = (
    "INSERT INTO audit_log (at, actor_user_id, action, entity, entity_id, school_id, detail_json) "
    "VALUES (:at, :actor_user_id, :action, 'conversation', :entity_id, :school_id, :detail_json)")


def _pyformat(sql: str) -> str:
    """``:name`` placeholders as ``%(name)s`` (psycopg's)."""
    return re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)


_POSTGRES_SQL = {sql: _pyformat(sql) for sql in (_UPDATE_CONVERSATION, _INSERT_ANSWER, _INSERT_LINE, _INSERT_AUDIT)}

#: PostgreSQL: the whole write of a one-answer turn as one statement. The answer, the lines and
#: the audit row are inserted only if the conditional UPDATE matched (it returns the id they use).
_PG_WRITE_TURN = _pyformat("""
WITH updated AS (
    UPDATE conversations
       SET state_json = :new_state, finished = :new_finished, plan_id = :new_plan_id,
           version = :new_version, updated_at = :now
     WHERE id = :conversation_id AND version = :loaded
 RETURNING id
), answer AS (
    INSERT INTO conversation_answers (conversation_id, seq, fact, raw_text, accepted, at)
    SELECT updated.id,
           (SELECT coalesce(max(seq), 0) + 1 FROM conversation_answers WHERE conversation_id = updated.id),
           CAST(:fact AS VARCHAR), CAST(:raw_text AS TEXT), CAST(:accepted AS BOOLEAN), :now
      FROM updated
), transcript AS (
    INSERT INTO conversation_lines (conversation_id, seq, entry_json)
    SELECT updated.id, CAST(:lines_before AS INTEGER) + line.n, line.entry
      FROM updated, json_array_elements(CAST(:new_lines AS JSON)) WITH ORDINALITY AS line(entry, n)
)
INSERT INTO audit_log (at, actor_user_id, action, entity, entity_id, school_id, detail_json)
SELECT :now, CAST(:actor_user_id AS INTEGER), CAST(:action AS VARCHAR), 'conversation', updated.id,
       CAST(:school_id AS INTEGER), CAST(:detail_json AS JSON)
  FROM updated
RETURNING id
""")

#: PostgreSQL: a new conversation, its first lines and its audit row as one statement (the rows
#: that refer to the conversation are checked against it at the end of the statement).
_PG_INSERT_CONVERSATION = _pyformat("""
WITH created AS (
    INSERT INTO conversations (id, user_id, policy_id, channel, state_json, version, finished, plan_id,
                               created_at, updated_at, school_id, la_id)
    VALUES (:conversation_id, :user_id, :policy_id, :channel, :state, :version, :finished, :plan_id,
            :created_at, :updated_at, CAST(:conversation_school_id AS INTEGER), CAST(:conversation_la_id AS INTEGER))
 RETURNING id
), transcript AS (
    INSERT INTO conversation_lines (conversation_id, seq, entry_json)
    SELECT created.id, line.n, line.entry
      FROM created, json_array_elements(CAST(:new_lines AS JSON)) WITH ORDINALITY AS line(entry, n)
)
INSERT INTO audit_log (at, actor_user_id, action, entity, entity_id, school_id, detail_json)
SELECT :at, CAST(:actor_user_id AS INTEGER), CAST(:action AS VARCHAR), 'conversation', created.id,
       CAST(:school_id AS INTEGER), CAST(:detail_json AS JSON)
  FROM created
""")
