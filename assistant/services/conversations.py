"""Interviews kept in the database: the glue between the conversation engine and every channel
(the web chat page, the JSON API, Slack).

Each call is one transaction: load the conversation (without a lock), run one turn of the pure
engine (:mod:`conversations`), then store the new state, every raw answer exactly as given
(accepted or not, in ``conversation_answers``), the transcript lines and an audit row, on
condition that the conversation is still at the version read (:mod:`storage.turns`), and commit.
``version`` is an optimistic lock: a send based on an older version than the stored one gets
:class:`storage.errors.ConflictError` (the web answers 409) rather than overwriting another
tab's answer.

When the checklist is decided and the plan written, the plan is created through
:mod:`assistant.services.plans` and linked to the conversation (``plan_id``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from assistant.services.closures import closures_for_school
from rules import known_policy_ids, load_pack
from storage.db import SQLITE_READ_ONLY, open_transaction, read_outside_transaction, upgrade_to_write
from storage.errors import ConflictError, NotFoundError
from storage.models import Conversation, ConversationLine, LocalAuthority, School, User
from storage.turns import Answer, AuditEntry, ConversationRecord, TurnStore
from storage.types import utcnow
from storage.uow import UnitOfWork

logger = logging.getLogger("ptt.conversations")

MAX_ANSWER_LENGTH = 2000
TRANSCRIPT_LIMIT = 400
CONFLICT_RETRIES = 3
CONFLICT_MESSAGE = ("This conversation moved on in another window or app (you answered there); "
                    "reload to carry on from where it is now.")
#: The engine's phase once the checklist is decided and the plan written.
COMPLETE_PHASES = frozenset({"plan_done"})
Channel = Literal["web", "api", "slack"]


#: A conversation as listed through the ORM, or as a turn reads and writes it (outside the session).
StoredConversation = Conversation | ConversationRecord


class ConversationError(ValueError):
    """A request the conversation cannot take (unknown policy, empty answer); fit to show."""


# --------------------------------------------------------------------------- views (contract §2)
class ChoiceView(BaseModel):
    value: str
    label: str


class CitationView(BaseModel):
    document: str
    section: str
    quote: str
    policy_title: str = ""


class ProgressView(BaseModel):
    asked: int
    estimated_total: int
    label: str = ""

    @property
    def percent(self) -> int:
        if self.estimated_total <= 0:
            return 0
        return max(0, min(100, round(100 * self.asked / self.estimated_total)))


class ReplyView(BaseModel):
    """One message from the assistant. ``text``, ``fact``, ``kind`` and ``choices`` are the
    contract's; the rest are extras for richer clients."""

    text: str
    fact: str | None = None
    kind: str = "text"
    choices: list[ChoiceView] = Field(default_factory=list)
    why: CitationView | None = None
    question_id: str | None = None
    progress: ProgressView | None = None
    error: bool = False
    prompt: str | None = None
    skip: ChoiceView | None = None


class TranscriptEntry(BaseModel):
    """A line of the conversation as it was shown: said by the assistant or the user."""

    model_config = ConfigDict(extra="ignore")

    speaker: Literal["assistant", "user"]
    text: str
    fact: str | None = None
    kind: str | None = None
    error: bool = False
    why: CitationView | None = None


class ConversationView(BaseModel):
    """Contract §2: ``{"id", "replies", "finished", "decision"}`` plus extras."""

    id: str
    replies: list[ReplyView]
    finished: bool
    decision: dict[str, Any] | None
    version: int
    phase: str | None = None
    progress: ProgressView | None = None
    policy: str
    plan_id: int | None = None
    complete: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    transcript: list[TranscriptEntry] | None = None
    said: str | None = None

    def public(self) -> dict[str, Any]:
        """The JSON body for API clients (no transcript unless it was asked for)."""
        return self.model_dump(mode="json", exclude_none=False,
                               exclude={"said"} | ({"transcript"} if self.transcript is None else set()))

    @property
    def current(self) -> ReplyView | None:
        """The question now waiting for an answer, or None (decided, stopped or complete:
        the user may still type a command such as 'change end date')."""
        if self.replies and self.replies[-1].question_id:
            return self.replies[-1]
        return None


class ConversationSummary(BaseModel):
    id: str
    policy: str
    policy_title: str
    finished: bool
    complete: bool
    phase: str | None
    plan_id: int | None
    started: datetime
    updated: datetime
    progress: ProgressView | None = None
    last_question: str = ""


# --------------------------------------------------------------------------- engine adapter
def _engine() -> Any:
    import conversations

    return conversations


def _dump(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, dict):
        return value
    raise TypeError(f"cannot store {type(value).__name__}")


def _load_state(data: dict[str, Any]) -> Any:
    state_type = _engine().ConversationState
    if hasattr(state_type, "model_validate"):
        return state_type.model_validate(data)
    return state_type.from_json(data)


def _citation(why: Any, policy_title: str) -> CitationView | None:
    if why is None:
        return None
    data = _dump(why)
    return CitationView(document=data.get("document", ""), section=data.get("section", ""),
                        quote=data.get("quote", ""), policy_title=data.get("policy_title") or policy_title)


def _progress(progress: Any) -> ProgressView | None:
    if progress is None:
        return None
    data = _dump(progress)
    return ProgressView(asked=int(data.get("asked", 0)), estimated_total=int(data.get("estimated_total", 0)),
                        label=str(data.get("label") or ""))


def _reply(reply: Any, policy_title: str) -> ReplyView:
    choices = [_choice(c) for c in (_attr(reply, "choices") or ())]
    return ReplyView(
        text=str(_attr(reply, "text") or ""),
        fact=_attr(reply, "fact"),
        kind=str(_attr(reply, "kind") or "text"),
        choices=choices,
        why=_citation(_attr(reply, "why"), policy_title),
        question_id=_attr(reply, "question_id"),
        progress=_progress(_attr(reply, "progress")),
        error=bool(_attr(reply, "error") or False),
        prompt=_attr(reply, "prompt"),
        skip=_choice(skip) if (skip := _attr(reply, "skip")) is not None else None,
    )


def _choice(choice: Any) -> ChoiceView:
    return ChoiceView(value=str(_attr(choice, "value")), label=str(_attr(choice, "label")))


def _attr(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _phase(state: Any) -> str | None:
    phase = _attr(state, "phase")
    return None if phase is None else str(getattr(phase, "value", phase))


def _policy_title(policy_id: str) -> str:
    try:
        return load_pack(policy_id).title
    except Exception:  # an unknown pack id stored long ago must not break reading
        return policy_id


# --------------------------------------------------------------------------- stored layout
# conversations.state_json = {"engine": <engine state>, "replies": [ReplyView], "lines": int,
#                             "phase": str, "complete": bool,
#                             "saved_answers": <the engine's answers when the plan was last saved>}
# The transcript is in conversation_lines (seq 1..lines), appended each turn. While a turn is
# being written, its new lines wait under UNWRITTEN (never stored).
#
# The decision is not stored: it follows from the engine state (conversations.shown_decision),
# and at 3–4 KB it would be most of every turn's write once the checklist is decided. A turn
# shows the one its engine run gave; a read recomputes it. Rows written before this was so
# still hold a "decision", which is shown as stored.
UNWRITTEN = "unwritten_lines"
#: ``_view``'s default: work the decision out from the stored state.
_FROM_STATE: Any = object()


def _stored(conv: StoredConversation) -> dict[str, Any]:
    return conv.state_json or {}


def _view(conv: StoredConversation, *, transcript: Sequence[dict[str, Any]] | None = None,
          decision: dict[str, Any] | None = _FROM_STATE) -> ConversationView:
    """The conversation as clients see it; ``decision`` as a turn has just given it, else worked
    out from the stored state."""
    stored = _stored(conv)
    replies = [ReplyView.model_validate(r) for r in stored.get("replies", [])]
    progress = next((r.progress for r in reversed(replies) if r.progress is not None), None)
    if decision is _FROM_STATE:
        decision = _stored_decision(conv)
    return ConversationView(
        id=conv.id, replies=replies, finished=conv.finished, decision=decision,
        version=conv.version, phase=stored.get("phase"), progress=progress, policy=conv.policy_id,
        plan_id=conv.plan_id, complete=bool(stored.get("complete")), created_at=conv.created_at,
        updated_at=conv.updated_at,
        transcript=None if transcript is None else [TranscriptEntry.model_validate(e) for e in transcript],
    )


def _stored_decision(conv: StoredConversation) -> dict[str, Any] | None:
    stored = _stored(conv)
    if "decision" in stored:  # written before decisions were left out of the stored state
        return stored["decision"]
    if not conv.finished or not stored.get("engine"):
        return None
    return _dump(_engine().shown_decision(_load_state(stored["engine"])))


def _transcript_for(replies: Sequence[ReplyView]) -> list[dict[str, Any]]:
    return [
        TranscriptEntry(speaker="assistant", text=r.text, fact=r.fact, kind=r.kind, error=r.error,
                        why=r.why).model_dump(mode="json", exclude_defaults=True)
        for r in replies
    ]


def _store_turn(conv: ConversationRecord, turn: Any, *, answer: str | None) -> dict[str, Any] | None:
    """Put the turn's outcome into ``conv`` (to be written); the decision it gave, as JSON."""
    title = _policy_title(conv.policy_id)
    replies = [_reply(r, title) for r in (_attr(turn, "replies") or ())]
    previous = _stored(conv)
    lines = [{"speaker": "user", "text": answer}] if answer is not None else []
    lines.extend(_transcript_for(replies))
    state = _attr(turn, "state")
    conv.state_json = {
        "engine": _stored_engine_state(state),
        "replies": [r.model_dump(mode="json") for r in replies],
        "lines": int(previous.get("lines") or 0),
        "phase": _phase(state),
        "complete": _phase(state) in COMPLETE_PHASES,
        UNWRITTEN: lines,
    }
    if "saved_answers" in previous:
        conv.state_json["saved_answers"] = previous["saved_answers"]
    conv.finished = bool(_attr(turn, "finished"))
    return _dump(_attr(turn, "decision"))


def _stored_engine_state(state: BaseModel) -> dict[str, Any]:
    """The engine's state as stored, without the written plan's timetable: only the turn that
    finishes the plan uses it (to save the plan, which keeps it), the engine builds it again
    whenever the plan is finished again, and at 7 KB it is most of the state by then; stored, it
    would be rewritten by every later answer."""
    return state.model_dump(mode="json", exclude={"plan": {"timetable"}})


def _add_reply(conv: ConversationRecord, reply: ReplyView) -> None:
    """Say one more thing after the engine's replies (e.g. that the plan was saved)."""
    stored = dict(_stored(conv))
    stored["replies"] = [*stored.get("replies", []), reply.model_dump(mode="json")]
    stored[UNWRITTEN] = [*stored.get(UNWRITTEN, []), *_transcript_for([reply])]
    conv.state_json = stored


def _take_unwritten_lines(conv: ConversationRecord) -> tuple[int, list[dict[str, Any]]]:
    """The turn's new lines and the seq after which they go; the state then counts them."""
    lines = conv.state_json.pop(UNWRITTEN, [])
    before = int(conv.state_json.get("lines") or 0)
    conv.state_json["lines"] = before + len(lines)
    return before, lines


def _transcript(session: Session, conversation_id: str) -> list[dict[str, Any]]:
    """The last :data:`TRANSCRIPT_LIMIT` lines of the conversation, oldest first."""
    rows = session.execute(_SELECT_LINES, {"conversation_id": conversation_id, "limit": TRANSCRIPT_LIMIT}).all()
    return [row.entry_json for row in reversed(rows)]


# --------------------------------------------------------------------------- scope
def _school_id(user: User) -> int | None:
    return user.school_id


def default_policy_for(session: Session, user: User) -> str | None:
    """The policy of the user's local authority (their own, or their school's)."""
    la_id = user.la_id
    if la_id is None and user.school_id is not None:
        school = session.get(School, user.school_id)
        la_id = school.la_id if school else None
    if la_id is None:
        return None
    la = session.get(LocalAuthority, la_id)
    return la.policy_id if la else None


def _owned(session: Session, user: User, conversation_id: str, read: ConversationRecord | None = None
           ) -> ConversationRecord:
    """The user's own conversation; anyone else's is "not found" (no hint it exists). ``read``:
    the conversation as already read in this transaction (with the caller), if it was."""
    conv = read if read is not None and read.id == conversation_id else TurnStore(session).load(conversation_id)
    if conv is None or conv.user_id != user.id or not _still_where_it_began(conv, user):
        raise NotFoundError("conversation", conversation_id)
    return conv


def _still_where_it_began(conv: ConversationRecord, user: User) -> bool:
    """Whether the user is still at the school the conversation began at, or, for one begun
    outside any school (an EWO's), still in its LA: one who has moved (to another school, another
    LA, or from an LA role into a school) no longer reads the interviews begun there, which name
    its pupils. As :func:`list_for_user` selects."""
    return conv.school_id == user.school_id and (conv.school_id is not None or conv.la_id == user.la_id)


# --------------------------------------------------------------------------- transactions
def begin_reading(session: Session, *, outside_transaction: bool = False) -> None:
    """On SQLite, start the session's transaction as a read: a plain ``BEGIN`` that takes no
    write lock, so that a request computing its answer does not hold up every other writer.
    (PostgreSQL has no such lock: there the request stays one transaction.) No-op inside a
    transaction already begun.

    ``outside_transaction``: on PostgreSQL, the request's statements run outside a transaction
    until :func:`begin_writing` (see :func:`storage.db.read_outside_transaction`), which spares
    a round trip to the server at each end. Only for requests whose every write comes after
    :func:`begin_writing`: those of a conversation (an answer, a read of it)."""
    if session.in_transaction():
        return
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        session.connection(execution_options={SQLITE_READ_ONLY: True})
    elif outside_transaction:
        read_outside_transaction(session)


def begin_writing(session: Session, *, one_statement: bool = False) -> None:
    """Turn a read transaction begun by :func:`begin_reading` into a write transaction
    (``BEGIN IMMEDIATE`` on SQLite; on PostgreSQL, reads outside a transaction become one).
    Whatever was read stays usable; optimistic version checks catch anything changed in
    between. No-op otherwise (and when already writing).

    ``one_statement``: the write that follows is one statement (or begins a transaction for
    itself, as :class:`storage.turns.TurnStore`'s writes of several statements do). Where the
    reads ran outside a transaction, it then commits by itself, and no BEGIN is sent."""
    transaction = session.get_transaction()
    if transaction is None or session.info.get(_WRITING) is transaction:
        return
    connection = session.connection()
    if upgrade_to_write(connection) or (not one_statement and open_transaction(connection)):
        session.info[_WRITING] = transaction


#: ``session.info`` key: the transaction that :func:`begin_writing` has turned into a write.
_WRITING = "ptt_writing_transaction"


_LINES = ConversationLine.metadata.tables["conversation_lines"]
_SELECT_LINES = (select(_LINES.c.entry_json).where(_LINES.c.conversation_id == bindparam("conversation_id"))
                 .order_by(_LINES.c.seq.desc()).limit(bindparam("limit")))


def _audit(action: str, user: User, detail: dict[str, Any] | None) -> AuditEntry:
    return AuditEntry(action=action, actor_user_id=user.id, school_id=_school_id(user), detail=detail)


# --------------------------------------------------------------------------- use cases
def start(
    session: Session, user: User, policy_id: str | None = None, today: date | None = None, *,
    channel: Channel = "web", closures: Iterable[tuple[date, date]] = (),
) -> ConversationView:
    """Begin a new interview under ``policy_id`` (default: the user's LA's policy)."""
    policy_id = (policy_id or "").strip() or default_policy_for(session, user)
    if not policy_id:
        raise ConversationError("Say which policy to follow, e.g. {\"policy\": \"derby-city\"}; "
                                f"known policies: {', '.join(known_policy_ids())}.")
    if policy_id not in known_policy_ids():
        raise ConversationError(f"Unknown policy {policy_id!r}; known policies: {', '.join(known_policy_ids())}.")
    today = today or utcnow().date()
    closures = tuple(closures) or tuple(closures_for_school(session, user.school_id))
    turn = _engine().start_conversation(policy_id, today, closures=closures)
    now = utcnow()
    conv = ConversationRecord(id=str(uuid.uuid4()), user_id=user.id, policy_id=policy_id, channel=channel,
                              state_json={}, version=1, finished=False, plan_id=None, created_at=now, updated_at=now,
                              school_id=user.school_id, la_id=None if user.school_id is not None else user.la_id)
    decision = _store_turn(conv, turn, answer=None)
    _before, lines = _take_unwritten_lines(conv)
    begin_writing(session)
    TurnStore(session).insert_conversation(
        conv, lines=lines, audit=_audit("create", user, {"policy": policy_id, "channel": channel}))
    session.commit()
    return _view(conv, decision=decision)


def send(
    session: Session, user: User, conversation_id: str, text: str, expected_version: int | None = None,
    today: date | None = None, *, read: ConversationRecord | None = None,
) -> ConversationView:
    """Give one answer. The raw text is stored whatever becomes of it. ``read``: the conversation
    as the request has already read it in this transaction, if it has (see :func:`_owned`).

    The conversation is read and the engine run without holding a write lock; the new state,
    the answer and the audit row are then written in one short transaction, on condition that
    the version is still the one read. If another answer got in first, the turn is run again on
    the new state (up to :data:`CONFLICT_RETRIES` times) unless the caller named the version
    they answered (``expected_version``): then it is a :class:`ConflictError`.
    """
    if text is None:
        raise ConversationError("Send the answer as text, e.g. {\"text\": \"yes\"}.")
    text = str(text)
    if len(text) > MAX_ANSWER_LENGTH:
        raise ConversationError(f"That answer is too long (at most {MAX_ANSWER_LENGTH} characters).")
    today = today or utcnow().date()
    for _attempt in range(CONFLICT_RETRIES):
        view = _send_once(session, user, conversation_id, text, expected_version, today, read)
        if view is not None:
            return view
        if expected_version is not None:
            break
        read = None  # it was out of date: read it again
    raise ConflictError("conversation", CONFLICT_MESSAGE)


def _send_once(session: Session, user: User, conversation_id: str, text: str, expected_version: int | None,
               today: date, read: ConversationRecord | None) -> ConversationView | None:
    begin_reading(session)
    conv = _owned(session, user, conversation_id, read)  # outside the session: written by one conditional UPDATE
    if expected_version is not None and conv.version != expected_version:
        raise ConflictError("conversation", CONFLICT_MESSAGE)
    loaded_version = conv.version
    stored = _stored(conv)
    asked = _current_fact(stored)
    try:
        turn = _engine().respond(_load_state(stored.get("engine") or {}), text, today)
    except Exception:
        logger.exception("conversation %s: the engine failed on an answer", conv.id)
        session.rollback()
        # Kept as given, and audited like any answer; the conversation stays at its version.
        now, store = utcnow(), TurnStore(session)
        store.insert_answers(conv.id, [(text, asked, False)], now)
        store.insert_audit(conv.id, _audit("update", user, {"version": loaded_version, "fact": asked,
                                                            "engine_failed": True}), now)
        session.commit()
        raise
    log = list(_attr(turn, "answer_log") or ())
    if log:
        answers = [(str(_attr(r, "raw_text") or text), _attr(r, "fact"), bool(_attr(r, "accepted"))) for r in log]
    else:
        rejected = any(bool(_attr(r, "error")) for r in (_attr(turn, "replies") or ()))
        answers = [(text, asked, not rejected)]
    said = _as_said(stored, text)
    decision = _store_turn(conv, turn, answer=said)
    now = utcnow()
    saving = bool(conv.state_json.get("complete") and not stored.get("complete"))
    # An ordinary answer writes one statement, committed with it; the answer that saves the plan
    # writes the plan too, and a lost race must undo both.
    begin_writing(session, one_statement=not saving)
    if saving:
        _save_plan(session, user, conv, turn)
    if not _write_turn(session, user, conv, loaded_version, answers, asked, now, commit=not saving):
        session.rollback()
        return None
    conv.version, conv.updated_at = loaded_version + 1, now
    session.commit()
    view = _view(conv, decision=decision)
    view.said = said
    return view


def _write_turn(session: Session, user: User, conv: ConversationRecord, loaded_version: int,
                answers: Sequence[Answer], asked: str | None, now: datetime, *, commit: bool = False) -> bool:
    """Write the turn (the conversation's new state, the raw answers, the transcript lines, the
    audit row) if the conversation is still at ``loaded_version``; False if another answer got in
    first."""
    before, lines = _take_unwritten_lines(conv)
    detail = {"version": loaded_version + 1, "fact": asked, "finished": conv.finished, "plan_id": conv.plan_id}
    return TurnStore(session).write_turn(conv, loaded_version=loaded_version, answers=answers, lines_before=before,
                                         lines=lines, audit=_audit("update", user, detail), now=now, commit=commit)


def get(session: Session, user: User, conversation_id: str, *, with_transcript: bool = False,
        read: ConversationRecord | None = None) -> ConversationView:
    """Read a conversation (audited: it holds facts about a child); ``read`` as for :func:`send`."""
    begin_reading(session)
    conv = _owned(session, user, conversation_id, read)
    view = _view(conv, transcript=_transcript(session, conv.id) if with_transcript else None)
    begin_writing(session, one_statement=True)
    TurnStore(session).insert_audit(conv.id, _audit("read", user, None), utcnow())
    session.commit()
    return view


def list_for_user(session: Session, user: User, *, limit: int = 50) -> list[ConversationSummary]:
    rows = session.exec(
        select(Conversation).where(Conversation.user_id == user.id,
                                   col(Conversation.school_id).is_not_distinct_from(user.school_id),
                                   col(Conversation.school_id).is_not(None)
                                   | col(Conversation.la_id).is_not_distinct_from(user.la_id))
        .order_by(col(Conversation.updated_at).desc()).limit(limit)
    )
    summaries = []
    for conv in rows:
        view = _view(conv, decision=None)  # not listed: spares working out fifty decisions
        current = view.current
        summaries.append(ConversationSummary(
            id=conv.id, policy=conv.policy_id, policy_title=_policy_title(conv.policy_id),
            finished=conv.finished, complete=view.complete, phase=view.phase, plan_id=conv.plan_id,
            started=conv.created_at, updated=conv.updated_at, progress=view.progress,
            last_question=current.text if current else "",
        ))
    return summaries


def _as_said(stored: dict[str, Any], text: str) -> str:
    """The answer as the transcript shows it: a choice's label rather than its code
    (``no_concerns`` → "Done: no concerns", ``no`` → "No"), the question's skip button's label for its value
    ("Not decided yet" for ``skip``); anything else exactly as typed."""
    replies = stored.get("replies") or []
    last = replies[-1] if replies else {}
    skip = last.get("skip")
    if skip and text.strip() == skip["value"]:
        return str(skip["label"])
    choices = {c["value"]: c["label"] for c in (last.get("choices") or [])}
    if not choices and last.get("kind") == "yes_no" and text.strip() in ("yes", "no"):  # the chat's own buttons
        return text.strip().capitalize()
    if not choices:
        return text
    parts = [part.strip() for part in text.split(",")]
    if all(part in choices for part in parts):
        return ", ".join(choices[part] for part in parts)
    return text


def _current_fact(stored: dict[str, Any]) -> str | None:
    for reply in reversed(stored.get("replies", [])):
        if reply.get("fact"):
            return reply["fact"]
    return None


# --------------------------------------------------------------------------- plan hand-over
class SharedUnitOfWork(UnitOfWork):
    """A unit of work inside a transaction someone else owns: its ``commit`` only flushes and
    leaving it neither rolls back nor closes, so a service's writes and the caller's commit
    together (or not at all)."""

    def __init__(self, session: Session) -> None:
        super().__init__(lambda: session)

    def __enter__(self) -> SharedUnitOfWork:
        begin_writing(self.session_factory())
        super().__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def commit(self) -> None:
        self.session.flush()


def _written_plan(plan: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in plan.items() if k not in ("timetable",)}


def _save_plan(session: Session, user: User, conv: ConversationRecord, turn: Any) -> None:
    """Store the plan the interview has just finished writing (or, when it was stored before
    and answers have been changed since, its new timetable and the changed facts), and say so."""
    from assistant.services import plans as plan_service

    state = _attr(turn, "state")
    written = dict(_attr(state, "plan") or {})
    timetable = {"timetable": written.get("timetable"), "written": _written_plan(written)}
    answers_now = dict((conv.state_json.get("engine") or {}).get("answers") or {})  # as stored: JSON values
    from assistant.services.auth import can_change_school

    unit = SharedUnitOfWork(session)
    if conv.plan_id is not None:
        stored = session.get(plan_service.Plan, conv.plan_id)
        if stored is None or not can_change_school(user, stored.school_id):
            _add_reply(conv, ReplyView(text="The stored plan was not changed: only its school's staff can change it."))
            return
        saved_answers = conv.state_json.get("saved_answers")
        changes = {} if saved_answers is None else _engine().case_changes(
            conv.policy_id, saved_answers, answers_now, list(_attr(state, "closures") or ()))
        try:
            plan_service.update_timetable(unit, conv.plan_id, timetable, actor_user_id=user.id,
                                          case_changes=changes)
        except plan_service.PlanError as error:
            _add_reply(conv, ReplyView(text=f"The stored plan was not changed: {error}"))
            return
        conv.state_json["saved_answers"] = answers_now
        said = (f"I've updated the saved plan (plan {conv.plan_id})"
                + (f" with your changed answers ({', '.join(changes)}): its decision, consultees, reviews and "
                   "reminders follow them." if changes else "."))
        _add_reply(conv, ReplyView(text=said))
        return
    if user.school_id is None or not can_change_school(user, user.school_id):
        _add_reply(conv, ReplyView(text="Your account is not a school staff account, so the plan was not saved. "
                                        "Ask your administrator to link your account to the pupil's school, then "
                                        "save it from a school account."))
        return
    born = written.get("date_of_birth") or answers_now.get("pupil.date_of_birth")
    pupil = plan_service.PupilDetails(
        first_name=str(written.get("first_name") or "Pupil"), last_name=str(written.get("last_name") or ""),
        date_of_birth=date.fromisoformat(born) if isinstance(born, str) else born,
    )
    plan = plan_service.create_plan(
        unit, case=state.to_case(), decision=_attr(turn, "decision"), school_id=user.school_id, pupil=pupil,
        actor_user_id=user.id, timetable=timetable,
    )
    conv.plan_id = plan.id
    conv.state_json["saved_answers"] = answers_now
    _add_reply(conv, ReplyView(text=f"I've saved the plan (plan {plan.id}) for {pupil.first_name} "
                                    f"{pupil.last_name}: its documents, reviews and reminders are ready."))
