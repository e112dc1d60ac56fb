"""The chat page. It works as plain HTML forms (every answer is a POST, then the page again);
``static/chat.js`` upgrades it to answer in place: the same POST is sent with ``fetch`` and the
server returns the new lines of the log and the next question as an HTML fragment."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from assistant.services import conversations as conversation_service
from assistant.services.conversations import ConversationError, TranscriptEntry
from assistant.web.runtime import db, read_with_caller, require_user, today
from rules import known_policy_ids, load_pack
from storage.errors import ConflictError, NotFoundError

bp = Blueprint("chat", __name__, url_prefix="/chat")

FRAGMENT_HEADER = "X-Requested-With"


def policy_choices() -> list[tuple[str, str]]:
    return [(policy_id, load_pack(policy_id).title) for policy_id in known_policy_ids()]


def _is_fragment_request() -> bool:
    return request.headers.get(FRAGMENT_HEADER) == "fetch"


@bp.get("")
def index() -> ResponseReturnValue:
    session, user = db(), require_user()
    return render_template(
        "chat_list.html", conversations=conversation_service.list_for_user(session, user),
        policies=policy_choices(), default_policy=conversation_service.default_policy_for(session, user),
    )


@bp.post("")
def start() -> ResponseReturnValue:
    try:
        view = conversation_service.start(db(), require_user(), request.form.get("policy"), today(), channel="web")
    except ConversationError as error:
        flash(str(error))
        return redirect(url_for("chat.index"))
    return redirect(url_for("chat.show", conversation_id=view.id))


@bp.get("/<conversation_id>")
def show(conversation_id: str) -> ResponseReturnValue:
    try:
        view = conversation_service.get(db(), require_user(), conversation_id, with_transcript=True,
                                        read=read_with_caller())
    except NotFoundError:
        abort(404, description="No such conversation of yours.")
    return render_template("chat.html", view=view, policy_title=load_pack(view.policy).title)


@bp.post("/<conversation_id>")
def answer(conversation_id: str) -> ResponseReturnValue:
    choices = [c for c in request.form.getlist("choice") if c.strip()]
    text = ", ".join(choices) if choices else (request.form.get("quick") or request.form.get("answer") or "")
    version = request.form.get("version", type=int)
    session, user = db(), require_user()
    try:
        view = conversation_service.send(session, user, conversation_id, text, expected_version=version,
                                         today=today(), read=read_with_caller())
    except NotFoundError:
        abort(404, description="No such conversation of yours.")
    except ConflictError as error:
        if _is_fragment_request():
            return {"error": {"status": 409, "message": str(error)}}, 409
        flash(str(error))
        return redirect(url_for("chat.show", conversation_id=conversation_id))
    except ConversationError as error:
        if _is_fragment_request():
            return {"error": {"status": 400, "message": str(error)}}, 400
        flash(str(error))
        return redirect(url_for("chat.show", conversation_id=conversation_id))
    if _is_fragment_request():
        said = [TranscriptEntry(speaker="user", text=view.said or text)] + [
            TranscriptEntry(speaker="assistant", text=r.text, fact=r.fact, kind=r.kind, error=r.error, why=r.why)
            for r in view.replies
        ]
        return render_template("chat_fragment.html", view=view, entries=said)
    return redirect(url_for("chat.show", conversation_id=conversation_id, _anchor="composer"))
