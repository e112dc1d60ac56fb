"""The LA view for education welfare officers and LA officers: timetables across the LA's
schools, filtered, and the same list as CSV."""

from __future__ import annotations

import csv
from io import StringIO

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue

from assistant.documents.data import CIRCUMSTANCE_LABELS, TIMETABLE_REASON_LABELS
from assistant.services import auth
from assistant.services.plans import CLOSURE_ROUTES
from assistant.web.audit import record_plan_access
from assistant.web.plan_views import STATUSES, PlanSummary, filter_plans, la_for, list_plans
from assistant.web.runtime import db, require_user, today
from assistant.web.security import roles_required
from conversations.wording import consultee_label

bp = Blueprint("la", __name__, url_prefix="/la")

CSV_COLUMNS = (
    "plan_id", "school", "pupil", "upn", "year_group", "status", "outcome", "start_date", "end_date",
    "latest_end_date", "hours_per_week", "full_time_hours", "percent_of_full_time", "over_maximum",
    "next_review", "review_overdue", "circumstances", "reasons", "agreements_missing", "closed_on", "how_it_ended",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _filtered(user_plans_scope: list[int] | None) -> tuple[list[PlanSummary], dict[str, str | None]]:
    args = request.args
    school = args.get("school", type=int)
    status = args.get("status") or None
    status = status if status in STATUSES else None
    if status is None and "status" not in args:
        status = "active"
    circumstance = args.get("vulnerability") or None
    circumstance = circumstance if circumstance in CIRCUMSTANCE_LABELS else None
    over_max = args.get("over_maximum") == "1"
    overdue = args.get("review_overdue") == "1"
    plans = list_plans(db(), user_plans_scope, today(), status=status, school_id=school)
    plans = filter_plans(plans, today(), circumstance=circumstance)
    if over_max:
        plans = [p for p in plans if p.over_maximum]
    if overdue:
        plans = [p for p in plans if p.review_overdue]
    chosen = {"school": str(school) if school else None, "status": status, "vulnerability": circumstance,
              "over_maximum": "1" if over_max else None, "review_overdue": "1" if overdue else None}
    return plans, chosen


@bp.get("")
@roles_required("ewo", "la_officer", "admin")
def index() -> ResponseReturnValue:
    session, user = db(), require_user()
    scope = auth.visible_school_ids(session, user)
    plans, chosen = _filtered(scope)
    record_plan_access(session, user, plans, via="web:la")
    session.commit()
    la = la_for(session, user)
    return render_template("la.html", plans=plans, chosen=chosen, la=la, statuses=STATUSES,
                           schools=auth.schools_for(session, scope), circumstances=CIRCUMSTANCE_LABELS,
                           export_query=request.query_string.decode())


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


@bp.get("/export.csv")
@roles_required("ewo", "la_officer", "admin")
def export() -> ResponseReturnValue:
    session, user = db(), require_user()
    plans, _chosen = _filtered(auth.visible_school_ids(session, user))
    out = StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for p in plans:
        writer.writerow(_cell(v) for v in (
            p.id, p.school_name, p.pupil_name, p.upn, p.year_group, p.status, p.outcome, p.start_date, p.end_date,
            p.latest_end_date, p.hours_per_week, p.full_time_hours, p.percent_of_full_time,
            "yes" if p.over_maximum else "no", p.next_review, "yes" if p.review_overdue else "no",
            # The lists in words, as the LA view shows them: a cell of codes means nothing in a spreadsheet.
            "; ".join(CIRCUMSTANCE_LABELS.get(c, c) for c in p.circumstances),
            "; ".join(TIMETABLE_REASON_LABELS.get(r, r) for r in p.reasons),
            "; ".join(consultee_label(role) for role in p.agreements_missing),
            p.closed_on, CLOSURE_ROUTES.get(p.closure_route or "", p.closure_route or ""),
        ))
    record_plan_access(session, user, plans, action="export", via="web:la-csv")
    session.commit()
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="part-time-timetables-{today().isoformat()}.csv"',
        "Cache-Control": "no-store",
    })
