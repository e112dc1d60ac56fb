"""The JSON API (contract §2): conversations and timetables, authenticated by
``Authorization: Bearer TOKEN`` (or, for the web page's own calls, the session cookie plus the
CSRF header). Clear errors: 400 for a bad body, 401 without a valid token, 404 for what the
caller may not see, 409 when an answer is based on an outdated version."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from assistant.services import auth
from assistant.services import conversations as conversation_service
from assistant.services.conversations import ConversationError, begin_writing
from assistant.web.audit import record_plan_access
from assistant.web.openapi import openapi_document
from assistant.web.plan_views import DUE_FILTERS, STATUSES, filter_plans, list_plans
from assistant.web.runtime import db, read_with_caller, require_user, today
from assistant.web.security import json_error
from storage.errors import ConflictError, NotFoundError
from storage.repositories import AuditRepository

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True, force=True) if request.get_data(cache=True) else {}
    if not isinstance(data, dict):
        raise ConversationError("Send a JSON object as the request body, e.g. {\"text\": \"yes\"}.")
    return data


def _expected_version(body: dict[str, Any]) -> int | None:
    raw = body.get("version", request.headers.get("If-Match"))
    if raw is None or raw == "":
        return None
    try:
        return int(str(raw).strip('"W/ '))
    except ValueError:
        raise ConversationError("\"version\" must be a whole number (the version you last saw).") from None


@bp.errorhandler(ConversationError)
def _bad_request(error: ConversationError) -> ResponseReturnValue:
    return json_error(400, str(error))


@bp.errorhandler(NotFoundError)
def _not_found(error: NotFoundError) -> ResponseReturnValue:
    return json_error(404, f"No {error.entity} {error.key} that you can see.")


@bp.errorhandler(ConflictError)
def _conflict(error: ConflictError) -> ResponseReturnValue:
    return json_error(409, str(error))


@bp.post("/conversations")
def start_conversation() -> ResponseReturnValue:
    body = _body()
    policy = body.get("policy")
    if policy is not None and not isinstance(policy, str):
        raise ConversationError("\"policy\" must be a policy id such as \"derby-city\".")
    view = conversation_service.start(db(), require_user(), policy, today(), channel="api")
    response = jsonify(view.public())
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_conversation", conversation_id=view.id)
    return response


@bp.post("/conversations/<conversation_id>/messages")
def send_message(conversation_id: str) -> ResponseReturnValue:
    body = _body()
    text = body.get("text")
    if not isinstance(text, str | int | float) or isinstance(text, bool):
        raise ConversationError("Send the answer as {\"text\": \"...\"}: yes/no, a date, a choice or a number.")
    view = conversation_service.send(db(), require_user(), conversation_id, str(text),
                                     expected_version=_expected_version(body), today=today(),
                                     read=read_with_caller())
    return jsonify(view.public())


@bp.get("/conversations/<conversation_id>")
def get_conversation(conversation_id: str) -> ResponseReturnValue:
    transcript = request.args.get("transcript") in ("1", "true", "yes")
    view = conversation_service.get(db(), require_user(), conversation_id, with_transcript=transcript,
                                    read=read_with_caller())
    return jsonify(view.public())


@bp.get("/conversations")
def list_conversations() -> ResponseReturnValue:
    rows = conversation_service.list_for_user(db(), require_user())
    return jsonify([r.model_dump(mode="json") for r in rows])


@bp.get("/timetables")
def timetables() -> ResponseReturnValue:
    status = request.args.get("status") or None
    due = request.args.get("due") or None
    if status is not None and status not in STATUSES:
        raise ConversationError(f"Unknown status {status!r}; use one of {', '.join(STATUSES)}.")
    if due is not None and due not in DUE_FILTERS:
        raise ConversationError(f"Unknown filter due={due!r}; use one of {', '.join(DUE_FILTERS)}.")
    session, user = db(), require_user()
    plans = list_plans(session, auth.visible_school_ids(session, user), today(), status=status)
    plans = filter_plans(plans, today(), due=due, circumstance=request.args.get("circumstance") or None)
    record_plan_access(session, user, plans, via="api:timetables")
    session.commit()
    return jsonify([p.as_json() for p in plans])


@bp.get("/ping")
def ping() -> ResponseReturnValue:
    """The smallest authenticated call that writes (an audit row): the benchmark's floor."""
    session, user = db(), require_user()
    begin_writing(session)
    AuditRepository(session).record("read", "ping", None, actor_user_id=user.id, school_id=user.school_id)
    session.commit()
    return jsonify({"ok": True, "user": user.email})


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return jsonify(openapi_document())
