"""Plan pages: my school's plans, one plan in full, recording what happens later (a consultee's
reply, a step done, a review, closing), the documents, and the calendar feed.

Thin: reading goes through :mod:`assistant.web.plan_views`, every change through
:mod:`assistant.services.plans`, and every page or file showing a pupil writes an audit row.
Another school's plan is "not found" (404); LA users may read but not change (403).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from assistant import documents
from assistant.services import auth
from assistant.services import plans as plan_service
from assistant.services.closures import closures_for_school
from assistant.services.conversations import SharedUnitOfWork
from assistant.web.audit import record_plan_access
from assistant.web.charts import weekly_hours_svg
from assistant.web.plan_documents import document_data
from assistant.web.plan_views import (
    DUE_FILTERS,
    STATUSES,
    PlanDetail,
    filter_plans,
    list_plans,
    load_detail,
    school_label,
    timetable_grid,
)
from assistant.web.runtime import db, require_user, runtime, today
from conversations.timetable import hours_in_force, parse_hours, timetable_until
from rules.models import BOOLEAN_STEPS
from storage.errors import ConflictError, NotFoundError
from storage.models import PlanStatus, User

bp = Blueprint("plans", __name__)

CONSULTATION_STATUSES = ("not_contacted", "consulted", "agreed", "declined")
REVIEW_OUTCOMES = {
    "continue": "Continue as planned",
    "increase_hours": "Increase the hours",
    "extend": "Extend the end date",
    "increase_and_extend": "Increase the hours and extend the end date",
    "end": "End: back to full time (closes the plan)",
}
CLOSURE_ROUTES = plan_service.CLOSURE_ROUTES
STEP_CHOICES: dict[str, tuple[str, Any, str]] = {
    "parent_consent=given": ("parent_consent", "given", "Parent/carer consent given"),
    "parent_consent=refused": ("parent_consent", "refused", "Parent/carer consent refused"),
    "risk_assessment=no_concerns": ("risk_assessment", "no_concerns", "Risk assessment: no concerns"),
    "risk_assessment=concerns_mitigated": ("risk_assessment", "concerns_mitigated",
                                           "Risk assessment: concerns mitigated"),
    "risk_assessment=concerns_unmitigated": ("risk_assessment", "concerns_unmitigated",
                                             "Risk assessment: concerns not mitigated"),
    **{f"{step}=true": (step, True, step.replace("_", " ").capitalize() + ": done") for step in BOOLEAN_STEPS},
}
DOCUMENTS: dict[str, tuple[Callable[[Any], bytes], str, str]] = {
    "plan.pdf": (documents.plan_pdf, "application/pdf", "reintegration-plan"),
    "plan.docx": (documents.plan_docx, "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                  "reintegration-plan"),
    "risk-assessment.pdf": (documents.risk_assessment_pdf, "application/pdf", "risk-assessment"),
    "risk-assessment.docx": (documents.risk_assessment_docx,
                             "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                             "risk-assessment"),
    "la-notification.pdf": (documents.la_notification_pdf, "application/pdf", "la-notification"),
    "la-notification.docx": (documents.la_notification_docx,
                             "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                             "la-notification"),
}


def _unit_of_work() -> SharedUnitOfWork:
    """The plan services run in this request's transaction (one write lock, one commit)."""
    return SharedUnitOfWork(db())


def _visible_detail(plan_id: int, user: User) -> PlanDetail:
    session = db()
    try:
        detail = load_detail(session, plan_id, today())
    except NotFoundError:
        abort(404, description="No such plan that you can see.")
    if not auth.can_see_school(session, user, detail.plan.school_id):
        abort(404, description="No such plan that you can see.")
    return detail


def _changeable(plan_id: int) -> tuple[User, PlanDetail]:
    user = require_user()
    detail = _visible_detail(plan_id, user)
    if not auth.can_change_school(user, detail.plan.school_id):
        abort(403, description="Only the school's own staff can change its plans.")
    return user, detail


@bp.get("/plans")
def index() -> ResponseReturnValue:
    session, user = db(), require_user()
    if auth.is_la_role(user):
        return redirect(url_for("la.index", **request.args))
    status = request.args.get("status") or None
    due = request.args.get("due") or None
    status = status if status in STATUSES else None
    due = due if due in DUE_FILTERS else None
    plans = list_plans(session, auth.visible_school_ids(session, user), today(), status=status)
    plans = filter_plans(plans, today(), due=due)
    record_plan_access(session, user, plans, via="web:plans")
    feed_url = url_for("plans.calendar_feed", user_id=user.id,
                       token=auth.feed_token(runtime().settings.resolved_secret_key(), user), _external=True)
    session.commit()
    return render_template("plans.html", plans=plans, status=status, due=due, statuses=STATUSES,
                           due_filters=DUE_FILTERS, school_name=school_label(session, user.school_id),
                           feed_url=feed_url)


@bp.get("/plans/<int:plan_id>")
def show(plan_id: int) -> ResponseReturnValue:
    user = require_user()
    return _plan_page(_visible_detail(plan_id, user), user)


class FormError(ValueError):
    """A field of a plan-page form that cannot be read; the message says which and why."""


def _plan_page(detail: PlanDetail, user: User, *, refused: tuple[str, str] | None = None,
               status: int = 200) -> ResponseReturnValue:
    """The plan's page. ``refused``: the form whose change was refused and why, shown beside
    that form with what was typed into it, so that nothing typed is lost."""
    session = db()
    record_plan_access(session, user, [detail.plan], via="web:plan")
    session.commit()
    # A plan closed early is shown as it ran: its weeks after the closure no longer apply.
    ran = (timetable_until(detail.timetable, detail.summary.closed_on)
           if detail.timetable and detail.summary.closed_on else detail.timetable)
    chart = weekly_hours_svg(ran) if ran else None
    # What a review held today that raises the hours must go above, and from when.
    restart = plan_service.review_restart(detail.case, today()) if detail.case else None
    hours_now = (plan_service.hours_to_raise_from(detail.timetable, detail.case, restart)
                 if detail.case and restart else None)
    # The plan's header shows this week's hours (a graduated timetable rises week by week), or
    # the hours a week a closed plan had when it closed (its pattern, not a part-week's hours).
    closed = detail.plan.status == PlanStatus.CLOSED
    this_week = ran.week_of(today()) if ran and not closed else None
    hours_when_closed = (hours_in_force(ran, ran.end) if ran and closed else None)
    return render_template(
        "plan.html", d=detail, s=detail.summary, chart=chart, today=today(), hours_now=hours_now, restart=restart,
        this_week=this_week, hours_when_closed=hours_when_closed,
        grid=timetable_grid(ran) if ran else [], ran=ran,
        can_change=auth.can_change_school(user, detail.plan.school_id) and not closed,
        consultation_statuses=CONSULTATION_STATUSES, review_outcomes=REVIEW_OUTCOMES,
        closure_routes=CLOSURE_ROUTES, step_choices=STEP_CHOICES, documents=DOCUMENTS,
        refused=refused, typed=request.form if refused else {},
    ), status


def _after_change(plan_id: int, form: str, action: Callable[[], Any], done: str) -> ResponseReturnValue:
    """Run ``action`` (from the plan page's ``form``) and go back to the plan; if it is refused,
    show the plan again with the reason and the form as it was filled in."""
    session = db()
    try:
        action()
        session.commit()
    except (ConflictError, plan_service.PlanError, FormError) as error:
        session.rollback()
        user = require_user()
        return _plan_page(_visible_detail(plan_id, user), user, refused=(form, str(error)),
                          status=409 if isinstance(error, ConflictError) else 422)
    flash(done)
    return redirect(url_for("plans.show", plan_id=plan_id))


def _version() -> int | None:
    return request.form.get("version", type=int)


def _form_date(name: str) -> date | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise FormError(f"{name.replace('_', ' ').capitalize()}: “{raw}” is not a date.") from None


@bp.post("/plans/<int:plan_id>/consultations")
def record_consultation(plan_id: int) -> ResponseReturnValue:
    user, detail = _changeable(plan_id)
    role = request.form.get("role", "")
    status = request.form.get("status", "")
    if role not in {c.role for c in detail.consultations} or status not in CONSULTATION_STATUSES:
        abort(400, description="Choose one of the plan's consultees and what they said.")
    note = (request.form.get("note") or "").strip() or None
    return _after_change(plan_id, "consultation", lambda: plan_service.record_consultee_reply(
        _unit_of_work(), plan_id, role, status, actor_user_id=user.id, note=note, expected_version=_version(),
    ), "Reply recorded.")


@bp.post("/plans/<int:plan_id>/steps")
def record_step(plan_id: int) -> ResponseReturnValue:
    user, _detail = _changeable(plan_id)
    choice = STEP_CHOICES.get(request.form.get("step", ""))
    if choice is None:
        abort(400, description="Choose the step that was done.")
    step, value, label = choice
    return _after_change(plan_id, "step", lambda: plan_service.record_step(
        _unit_of_work(), plan_id, step, value, actor_user_id=user.id, expected_version=_version(),
    ), f"Recorded: {label}.")


@bp.post("/plans/<int:plan_id>/reviews")
def record_review(plan_id: int) -> ResponseReturnValue:
    user, _detail = _changeable(plan_id)
    outcome = request.form.get("outcome", "")
    if outcome not in REVIEW_OUTCOMES:
        abort(400, description="Choose what the review decided.")

    def record() -> None:
        hours_text = (request.form.get("hours_per_week") or "").strip()
        try:
            hours = parse_hours(hours_text) if hours_text else None
        except ValueError as error:
            raise FormError(f"New hours a week: {error}.") from None
        plan_service.record_review(
            _unit_of_work(), plan_id, outcome=outcome, held_on=_form_date("held_on") or today(),  # type: ignore[arg-type]
            actor_user_id=user.id, hours_per_week=hours, new_end_date=_form_date("new_end_date"),
            rationale=(request.form.get("rationale") or "").strip() or None,
            parent_agreed=True if request.form.get("parent_agreed") else None,
            notes=(request.form.get("notes") or "").strip() or None, expected_version=_version(),
        )

    return _after_change(plan_id, "review", record, "Review recorded.")


@bp.post("/plans/<int:plan_id>/close")
def close(plan_id: int) -> ResponseReturnValue:
    user, _detail = _changeable(plan_id)
    route = request.form.get("route", "")
    if route not in CLOSURE_ROUTES:
        abort(400, description="Choose how the plan ended.")
    return _after_change(plan_id, "close", lambda: plan_service.close_plan(
        _unit_of_work(), plan_id, route=route, actor_user_id=user.id, closed_on=_form_date("closed_on"),
        note=(request.form.get("note") or "").strip() or None, expected_version=_version(),
    ), "Plan closed.")


def _lead_name(detail: PlanDetail) -> str:
    return detail.authors.get(detail.plan.lead_user_id or 0, "")


def _attachment(content: bytes | str, mimetype: str, filename: str) -> Response:
    response = Response(content, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/plans/<int:plan_id>/documents/<name>")
def download(plan_id: int, name: str) -> ResponseReturnValue:
    user = require_user()
    detail = _visible_detail(plan_id, user)
    session = db()
    data = document_data(detail, lead_name=_lead_name(detail), prepared_on=today(),
                         school_closures=closures_for_school(session, detail.school.id))
    if data is None:
        abort(409, description="This plan has no start and end dates yet, so there is no timetable to print.")
    if name in DOCUMENTS:
        render, mimetype, stem = DOCUMENTS[name]
        content: bytes | str = render(data)
        filename = f"{stem}-{data.slug}.{name.rsplit('.', 1)[1]}"
    elif name == "plan.ics":
        content, mimetype, filename = documents.plan_ics(data), "text/calendar", f"{data.slug}.ics"
    elif name == "sessions.csv":
        if not detail.in_force_at_some_time:
            # Imported, these rows would authorise absence (C2) for a timetable nobody has agreed.
            abort(409, description="The register codes are for a timetable in force: this plan is not agreed "
                                   "yet, so there is nothing to mark in the register.")
        content, mimetype, filename = documents.sessions_csv(data), "text/csv", f"sessions-{data.slug}.csv"
    else:
        abort(404)
    record_plan_access(session, user, [detail.plan], action="export", via=f"web:document:{name}")
    session.commit()
    return _attachment(content, mimetype, filename)


@bp.get("/calendar/<int:user_id>/<token>.ics")
def calendar_feed(user_id: int, token: str) -> ResponseReturnValue:
    """A subscription feed of the user's open plans (start, reviews, end). The token in the
    URL is the credential; pupils are shown by initials only, as the feed leaves the system."""
    session = db()
    user = session.get(User, user_id)
    if user is None or not user.is_active or not auth.check_feed_token(
            runtime().settings.resolved_secret_key(), user, token):
        abort(404)
    items = []
    exported = []
    for summary in list_plans(session, auth.visible_school_ids(session, user), today()):
        if summary.status not in (PlanStatus.ACTIVE, PlanStatus.AWAITING):
            continue
        detail = load_detail(session, summary.id, today())
        data = document_data(detail, lead_name=_lead_name(detail), prepared_on=today())
        if data is not None:
            items.append(data)
            exported.append(detail.plan)
    record_plan_access(session, user, exported, action="export", via="calendar-feed")
    session.commit()
    body = documents.feed_ics(items, name="Part-time timetables", redact=True)
    return Response(body, mimetype="text/calendar", headers={"Cache-Control": "no-store"})
