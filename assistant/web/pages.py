"""The home page: what to do next, by role."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from assistant.services import auth
from assistant.services import conversations as conversation_service
from assistant.web.chat import policy_choices
from assistant.web.plan_views import filter_plans, list_plans, school_label
from assistant.web.runtime import db, require_user, today

bp = Blueprint("pages", __name__)


@bp.get("/")
def home() -> ResponseReturnValue:
    session, user = db(), require_user()
    if auth.is_la_role(user):
        return redirect(url_for("la.index"))
    plans = list_plans(session, auth.visible_school_ids(session, user), today())
    counts = {
        "active": sum(1 for p in plans if p.status == "active"),
        "awaiting": sum(1 for p in plans if p.status == "awaiting"),
        "review_overdue": len(filter_plans(plans, today(), due="review_overdue")),
        "ending_soon": len(filter_plans(plans, today(), due="ending_soon")),
    }
    return render_template(
        "home.html", counts=counts, conversations=conversation_service.list_for_user(session, user, limit=5),
        policies=policy_choices(), default_policy=conversation_service.default_policy_for(session, user),
        school_name=school_label(session, user.school_id),
    )
