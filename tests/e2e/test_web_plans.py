"""Plan pages: the list, one plan in full, recording replies, steps, reviews and closing, and who
may see or change what."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import select

from conversations.timetable import GraduatedTimetable, hours_in_force
from rules import Case
from rules.calendar import calendar_for
from storage.models import AuditLog, Plan, PlanVersion

from .conftest import (
    ADMIN,
    DERBY_EWO,
    DERBYSHIRE_EWO,
    OAK_DSL,
    OAK_STAFF,
    RIVERSIDE_STAFF,
    World,
    school_today,
    signed_in,
)

MakePlan = Callable[..., int]


def detail(web: World, plan_id: int, email: str = OAK_STAFF) -> str:
    client, _ = signed_in(web.app, email)
    response = client.get(f"/plans/{plan_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def stored(web: World, plan_id: int) -> Plan:
    with web.session() as session:
        plan = session.get(Plan, plan_id)
        assert plan is not None
        return plan


def test_the_plan_list_shows_my_schools_plans_only(web: World) -> None:
    client, _ = signed_in(web.app, OAK_STAFF)
    html = client.get("/plans").get_data(as_text=True)
    assert "Plans at Oak Primary" in html
    assert "Amelia Hart" in html
    assert "Riverside Academy" not in html and "Oscar Mensah" not in html


def test_the_plan_list_filters_by_status_and_by_what_is_due(web: World) -> None:
    client, _ = signed_in(web.app, OAK_STAFF)
    awaiting = client.get("/plans?status=awaiting").get_data(as_text=True)
    assert "Amelia Hart" in awaiting and "Leo Kowalski" not in awaiting
    closed = client.get("/plans?status=closed").get_data(as_text=True)
    assert "Leo Kowalski" in closed and "Amelia Hart" not in closed
    overdue = client.get("/plans?due=review_overdue").get_data(as_text=True)
    assert "Isla Byrne" in overdue and "Overdue since" in overdue
    assert "Amelia Hart" not in overdue
    agreement = client.get("/plans?due=agreement_missing").get_data(as_text=True)
    assert "Amelia Hart" in agreement and "Agreement needed: The Virtual School" in agreement


def test_a_plan_shows_its_decision_with_cited_reasons_and_its_consultees(web: World) -> None:
    html = detail(web, web.plan("Oak Primary", "awaiting"))
    assert "Decision: Not yet: steps outstanding" in html
    assert '<figure class="citation">' in html and "<blockquote>" in html
    assert "Derby City Part-Time Timetable Protocol" in html
    assert "The Virtual School" in html and "Must agree" in html and "Consulted" in html
    assert "A consultee&#39;s reply" in html or "A consultee's reply" in html


def test_a_plan_names_the_lead_its_documents_name_and_says_whom_reminders_go_to(web: World) -> None:
    plan_id = web.plan("Oak Primary", "active")
    with web.session() as session:
        plan = session.get(Plan, plan_id)
        assert plan is not None and plan.lead_user_id is not None
        named = plan.timetable_json["written"]["named_lead"]
    client, _csrf = signed_in(web.app, OAK_STAFF)
    html = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert f"<dt>Named lead</dt><dd>{named}</dd>" in html
    assert "<dt>Reminders go to</dt>" in html


def test_a_plan_shows_the_timetable_grid_the_hours_and_the_chart(web: World) -> None:
    html = detail(web, web.plan("Oak Primary", "active"))
    assert '<table class="grid" aria-describedby="grid-legend">' in html and 'id="grid-legend"' in html
    assert re.search(r"<th scope=\"colgroup\" colspan=\"2\">Mon</th>", html)
    assert html.count('<th scope="col">am</th>') == 5
    assert "% of full time" in html and "C2" in html and 'class="cell-in"' in html
    svg = re.search(r"<svg[^>]*role=\"img\".*?</svg>", html, re.S)
    assert svg and "<title id=\"hours-chart-title\">Hours in school each week" in svg.group(0)
    assert "<rect" in svg.group(0) and re.search(r"Full time [\d.]+ h", svg.group(0))


def test_a_plan_s_header_gives_this_week_s_hours_from_its_graduated_timetable(web: World) -> None:
    plan_id = web.plan("Oak Primary", "active")
    timetable = timetable_of(stored(web, plan_id))
    monday = date.today() - timedelta(days=date.today().weekday())
    week = next((w for w in timetable.weeks if w.week_beginning == monday), None)
    html = detail(web, plan_id)
    if week is None:  # a week the school is closed: the plan's hours as agreed
        assert "<dt>Hours a week</dt>" in html
        return
    hours = f"{week.hours:.2f}".rstrip("0").rstrip(".")
    assert (f"<dt>Hours this week</dt><dd>{hours} h of {timetable.full_time_hours:g} h "
            f"({week.percent_of_full_time}% of full time), rising to full time by") in html


def test_a_plan_shows_reviews_and_history(web: World) -> None:
    html = detail(web, web.plan("Oak Primary", "active"))
    assert 'id="reviews-heading"' in html and 'id="history-heading"' in html
    assert "Plan created" in html


def test_overdue_reviews_are_marked_on_the_plan(web: World) -> None:
    plan_id = next(p for p in web.plans[("Oak Primary", "active")]
                   if "Review overdue since" in detail(web, p))
    assert plan_id


def test_staff_of_another_school_get_404_for_a_plan(web: World) -> None:
    plan_id = web.plan("Oak Primary", "active")
    client, csrf = signed_in(web.app, RIVERSIDE_STAFF)
    assert client.get(f"/plans/{plan_id}").status_code == 404
    assert client.get(f"/plans/{plan_id}/documents/plan.pdf").status_code == 404
    assert client.post(f"/plans/{plan_id}/close", data={"csrf_token": csrf, "route": "withdrawn"}).status_code == 404
    assert client.get("/plans/999999").status_code == 404


def test_an_ewo_of_another_la_gets_404_and_an_ewo_of_this_la_may_read_but_not_change(web: World) -> None:
    plan_id = web.plan("Oak Primary", "awaiting")
    other, _ = signed_in(web.app, DERBYSHIRE_EWO)
    assert other.get(f"/plans/{plan_id}").status_code == 404
    ewo, csrf = signed_in(web.app, DERBY_EWO)
    html = ewo.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert "Amelia Hart" in html and "Record what has happened" not in html
    response = ewo.post(f"/plans/{plan_id}/consultations",
                        data={"csrf_token": csrf, "role": "virtual_school", "status": "agreed"})
    assert response.status_code == 403
    assert stored(web, plan_id).status == "awaiting"


def test_recording_the_virtual_schools_agreement_lets_the_timetable_proceed(web: World, make_plan: MakePlan) -> None:
    plan_id = make_plan("awaiting")
    client, csrf = signed_in(web.app, OAK_DSL)
    version = stored(web, plan_id).version
    response = client.post(f"/plans/{plan_id}/consultations", data={
        "csrf_token": csrf, "role": "virtual_school", "status": "agreed", "note": "Email from the VSH",
        "version": version})
    assert response.status_code == 302
    plan = stored(web, plan_id)
    assert plan.status == "active" and plan.version == version + 1
    html = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert "Reply recorded." in html and "Decision: May proceed" in html
    assert "The Virtual School: agreed" in html


def test_a_change_based_on_an_old_version_is_refused(web: World, make_plan: MakePlan) -> None:
    plan_id = make_plan("awaiting")
    client, csrf = signed_in(web.app, OAK_DSL)
    old = stored(web, plan_id).version
    client.post(f"/plans/{plan_id}/steps", data={"csrf_token": csrf, "step": "written_plan=true", "version": old})
    response = client.post(f"/plans/{plan_id}/consultations", data={
        "csrf_token": csrf, "role": "virtual_school", "status": "agreed", "version": old})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert 'id="consultation-refused"' in html and "changed by someone else" in html
    assert '<option value="virtual_school" selected>' in html
    assert stored(web, plan_id).status == "awaiting"


def test_recording_a_step_re_evaluates_the_plan(web: World, make_plan: MakePlan) -> None:
    plan_id = make_plan("active")
    client, csrf = signed_in(web.app, OAK_STAFF)
    response = client.post(f"/plans/{plan_id}/steps", data={"csrf_token": csrf, "step": "parent_consent=refused"})
    assert response.status_code == 302
    assert stored(web, plan_id).status == "draft"
    assert "Recorded: Parent/carer consent refused." in client.get(f"/plans/{plan_id}").get_data(as_text=True)


def test_an_unknown_step_or_consultee_is_a_400(web: World, make_plan: MakePlan) -> None:
    plan_id = make_plan("awaiting")
    client, csrf = signed_in(web.app, OAK_STAFF)
    assert client.post(f"/plans/{plan_id}/steps", data={"csrf_token": csrf, "step": "magic=true"}).status_code == 400
    assert client.post(f"/plans/{plan_id}/consultations", data={
        "csrf_token": csrf, "role": "police", "status": "agreed"}).status_code == 400


def timetable_of(plan: Plan) -> GraduatedTimetable:
    return GraduatedTimetable.model_validate((plan.timetable_json or {})["timetable"])


def restart_after(plan: Plan, held_on: date) -> date:
    """The first school day after a review held on ``held_on``: when its changes start."""
    return calendar_for(Case.model_validate(plan.case_json)).next_school_day_on_or_after(held_on + timedelta(days=1))


def sessions_rows(client: Any, plan_id: int) -> list[dict[str, str]]:
    response = client.get(f"/plans/{plan_id}/documents/sessions.csv")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_a_review_that_raises_the_hours_re_plans_the_timetable_from_the_next_day(
        web: World, make_plan: MakePlan) -> None:
    plan_id = make_plan("review_overdue")
    before = timetable_of(stored(web, plan_id))
    held_on = date.today()
    restart = restart_after(stored(web, plan_id), held_on)
    raised = hours_in_force(before, restart) + 2
    client, csrf = signed_in(web.app, OAK_DSL)
    response = client.post(f"/plans/{plan_id}/reviews", data={
        "csrf_token": csrf, "held_on": held_on.isoformat(), "outcome": "increase_hours",
        "hours_per_week": f"{raised:g}", "notes": "Coping well with mornings"})
    assert response.status_code == 302
    plan = stored(web, plan_id)
    assert plan.case_json["plan"]["hours_per_week"] == raised
    after = timetable_of(plan)
    past = [s for s in before.all_sessions() if s.day < restart]
    assert [s for s in after.all_sessions() if s.day < restart] == past
    assert hours_in_force(after, restart) >= raised > hours_in_force(before, restart)
    assert after.final_week.full_time
    html = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert "Review recorded." in html and "Coping well with mornings" in html
    assert f"Timetable re-planned from {restart.day} {restart:%b %Y}" in html


def test_one_review_on_the_page_raises_the_hours_and_extends_the_plan(web: World, make_plan: MakePlan) -> None:
    plan_id = make_plan("active")
    plan = stored(web, plan_id)
    assert plan.end_date is not None and plan.latest_end_date is not None
    calendar = calendar_for(Case.model_validate(plan.case_json))
    new_end = calendar.last_school_day_on_or_before(min(plan.end_date + timedelta(days=14), plan.latest_end_date))
    restart = restart_after(plan, date.today())
    raised = hours_in_force(timetable_of(plan), restart) + 2
    client, csrf = signed_in(web.app, OAK_DSL)
    html = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert '<option value="increase_and_extend">Increase the hours and extend the end date</option>' in html
    response = client.post(f"/plans/{plan_id}/reviews", data={
        "csrf_token": csrf, "held_on": date.today().isoformat(), "outcome": "increase_and_extend",
        "hours_per_week": f"{raised:g}", "new_end_date": new_end.isoformat(),
        "rationale": "Ready for afternoons, not yet for full days", "parent_agreed": "yes"})
    assert response.status_code == 302
    plan = stored(web, plan_id)
    after = timetable_of(plan)
    assert (plan.end_date, after.end) == (new_end, new_end)
    assert hours_in_force(after, restart) >= raised and after.final_week.full_time
    html = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert "increase and extend" in html and f"ends {new_end.strftime('%-d %b %Y')}" in html


def test_raising_the_hours_to_fewer_than_the_timetable_has_now_is_refused(web: World, make_plan: MakePlan) -> None:
    plan_id = make_plan("review_overdue")
    before = stored(web, plan_id)
    now_hours = hours_in_force(timetable_of(before), restart_after(before, date.today()))
    client, csrf = signed_in(web.app, OAK_DSL)
    response = client.post(f"/plans/{plan_id}/reviews", data={
        "csrf_token": csrf, "held_on": date.today().isoformat(), "outcome": "increase_hours",
        "hours_per_week": f"{now_hours:g}"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(rf"{now_hours:g} hours a week the timetable has from \d+ \w{{3}} \d{{4}}", html)
    restart = restart_after(before, date.today()).strftime("%-d %b %Y")
    assert re.search(rf"The timetable has [\d.]+ h a week from {restart}\.", html)
    assert stored(web, plan_id).version == before.version


def test_an_extension_carries_the_sessions_for_the_mis_and_the_calendar_to_the_new_end_date(
        web: World, make_plan: MakePlan) -> None:
    plan_id = make_plan("active")
    plan = stored(web, plan_id)
    assert plan.end_date is not None and plan.latest_end_date is not None
    calendar = calendar_for(Case.model_validate(plan.case_json))
    new_end = calendar.last_school_day_on_or_before(min(plan.end_date + timedelta(days=14), plan.latest_end_date))
    assert new_end > plan.end_date, "the demo plan leaves room for an extension within the policy"
    client, csrf = signed_in(web.app, OAK_DSL)
    old_rows = sessions_rows(client, plan_id)
    response = client.post(f"/plans/{plan_id}/reviews", data={
        "csrf_token": csrf, "held_on": date.today().isoformat(), "outcome": "extend",
        "new_end_date": new_end.isoformat(), "rationale": "Anxiety about the new class",
        "parent_agreed": "yes"})
    assert response.status_code == 302
    rows = sessions_rows(client, plan_id)
    assert max(row["date"] for row in rows) == new_end.isoformat()
    assert len(rows) > len(old_rows)
    today = date.today().isoformat()
    assert [r for r in rows if r["date"] <= today] == [r for r in old_rows if r["date"] <= today]
    # The return to full time is spread over the longer plan: before the old end date the pupil
    # now spends more sessions out of school (C2) than the old timetable had.
    old_end = plan.end_date.isoformat()

    def away_until_old_end(table: list[dict[str, str]]) -> int:
        return sum(1 for r in table if today < r["date"] <= old_end and r["register_code"] == "C2")

    assert away_until_old_end(rows) > away_until_old_end(old_rows)
    ics = client.get(f"/plans/{plan_id}/documents/plan.ics").get_data(as_text=True)
    assert f"DTSTART;VALUE=DATE:{new_end.strftime('%Y%m%d')}" in ics


def test_a_review_the_policy_does_not_allow_is_explained(web: World, make_plan: MakePlan) -> None:
    plan_id = make_plan("active")
    client, csrf = signed_in(web.app, OAK_DSL)
    response = client.post(f"/plans/{plan_id}/reviews", data={
        "csrf_token": csrf, "outcome": "extend",
        "new_end_date": (date.today() + timedelta(days=60)).isoformat()})
    html = response.get_data(as_text=True)
    assert "Record why the timetable is being extended" in html


def test_a_refused_review_keeps_what_was_typed_and_says_why_beside_the_form(web: World, make_plan: MakePlan) -> None:
    plan_id = make_plan("active")
    version = stored(web, plan_id).version
    client, csrf = signed_in(web.app, OAK_DSL)
    new_end = (date.today() + timedelta(days=60)).isoformat()
    response = client.post(f"/plans/{plan_id}/reviews", data={
        "csrf_token": csrf, "held_on": date.today().isoformat(), "outcome": "extend",
        "new_end_date": new_end, "notes": "Mum worried about mornings; <b>CAMHS</b> referral made"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    form = html[html.index('id="review-form"'):]
    form = form[:form.index("</form>")]
    assert 'id="review-refused"' in form and "Record why the timetable is being extended" in form
    assert "Mum worried about mornings; &lt;b&gt;CAMHS&lt;/b&gt; referral made</textarea>" in form
    assert f'value="{new_end}"' in form and '<option value="extend" selected>' in form
    assert stored(web, plan_id).version == version


def test_hours_written_as_people_write_them_are_read_and_bad_ones_explained(web: World, make_plan: MakePlan) -> None:
    plan_id = make_plan("active")
    client, csrf = signed_in(web.app, OAK_DSL)
    response = client.post(f"/plans/{plan_id}/reviews", data={
        "csrf_token": csrf, "held_on": date.today().isoformat(), "outcome": "increase_hours",
        "hours_per_week": "lots", "notes": "Keep me"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "New hours a week: not a number of hours: &#39;lots&#39;" in html and "Keep me</textarea>" in html
    plan = stored(web, plan_id)
    raised = hours_in_force(timetable_of(plan), restart_after(plan, date.today())) + 1.5
    whole, minutes = int(raised), round((raised - int(raised)) * 60)
    response = client.post(f"/plans/{plan_id}/reviews", data={
        "csrf_token": csrf, "held_on": date.today().isoformat(), "outcome": "increase_hours",
        "hours_per_week": f"{whole}h{minutes:02d}"})
    assert response.status_code == 302
    assert stored(web, plan_id).case_json["plan"]["hours_per_week"] == pytest.approx(raised)


def test_a_change_made_meanwhile_by_someone_else_keeps_the_closing_form_filled_in(
        web: World, make_plan: MakePlan) -> None:
    plan_id = make_plan("active")
    version = stored(web, plan_id).version
    client, csrf = signed_in(web.app, OAK_DSL)
    client.post(f"/plans/{plan_id}/steps", data={"csrf_token": csrf, "step": "written_plan=true",
                                                 "version": str(version)})
    response = client.post(f"/plans/{plan_id}/close", data={
        "csrf_token": csrf, "route": "left_school", "version": str(version), "note": "Moved to Leeds"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert 'id="close-refused"' in html and 'value="Moved to Leeds"' in html
    assert '<option value="left_school" selected>' in html
    assert f'name="version" value="{version + 1}"' in html  # sending it again now works


def test_closing_a_plan(web: World, make_plan: MakePlan) -> None:
    plan_id = make_plan("active")
    client, csrf = signed_in(web.app, OAK_STAFF)
    response = client.post(f"/plans/{plan_id}/close", data={
        "csrf_token": csrf, "route": "returned_full_time", "closed_on": date.today().isoformat()})
    assert response.status_code == 302
    plan = stored(web, plan_id)
    assert plan.status == "closed" and plan.closure_route == "returned_full_time"
    html = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert "Plan closed." in html and "Close the plan" not in html
    with web.session() as session:
        history = session.exec(select(PlanVersion).where(PlanVersion.plan_id == plan_id)).all()
    assert history[-1].change_summary == (f"Plan closed on {date.today().day} {date.today():%b %Y}: "
                                          "returned to full-time education.")


def test_a_plan_closed_part_way_stops_its_sessions_on_the_day_it_closed(web: World, make_plan: MakePlan) -> None:
    plan_id = make_plan("active")
    client, csrf = signed_in(web.app, OAK_DSL)
    sessions_url = f"/plans/{plan_id}/documents/sessions.csv"
    planned = [row["date"] for row in csv.DictReader(io.StringIO(client.get(sessions_url).get_data(as_text=True)))]
    # The last school day so far (or today, in a holiday before the plan's first): closures are
    # not recorded ahead, and today is the schools' today.
    today = school_today()
    closed_on = max((date.fromisoformat(day) for day in planned if day <= today.isoformat()), default=today)
    assert planned[-1] > closed_on.isoformat()
    started = planned[0] <= closed_on.isoformat()
    response = client.post(f"/plans/{plan_id}/close", data={
        "csrf_token": csrf, "route": "alternative_provision", "closed_on": closed_on.isoformat()})
    assert response.status_code == 302

    left = [row["date"] for row in csv.DictReader(io.StringIO(client.get(sessions_url).get_data(as_text=True)))]
    assert left == [day for day in planned if day <= closed_on.isoformat()]
    html = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert re.search(r"<dt>Closed</dt><dd>[^<]+: moved to alternative provision</dd>", html)
    as_run = "the timetable is shown as it ran to that day" if started else "before its first session"
    assert f"The plan closed on {closed_on.day} {closed_on:%b %Y}{':' if started else ','} {as_run}." in html
    monday_after = closed_on + timedelta(days=7 - closed_on.weekday())
    assert f"<th scope=\"row\">{monday_after.day} {monday_after:%b %Y}</th>" not in html  # no weeks after it
    assert ("<dt>Hours a week when it closed</dt>" in html) == started
    closed = web.app.test_client().get("/api/v1/timetables?status=closed", headers=web.auth(OAK_DSL)).get_json()
    listed = next(p for p in closed if p["id"] == plan_id)
    assert (listed["closed_on"], listed["closure_route"]) == (closed_on.isoformat(), "alternative_provision")


def test_a_plan_cannot_be_closed_ahead_of_the_day(web: World, make_plan: MakePlan) -> None:
    plan_id = make_plan("active")
    client, csrf = signed_in(web.app, OAK_DSL)
    response = client.post(f"/plans/{plan_id}/close", data={
        "csrf_token": csrf, "route": "returned_full_time", "closed_on": (date.today() + timedelta(days=7)).isoformat(),
        "version": str(stored(web, plan_id).version)})
    assert response.status_code == 422
    assert "is after today" in response.get_data(as_text=True)
    assert stored(web, plan_id).status == "active"


def test_viewing_a_plan_is_audited(web: World) -> None:
    plan_id = web.plan("Oak Primary", "closed")
    detail(web, plan_id, ADMIN)
    with web.session() as session:
        rows = session.exec(select(AuditLog).where(AuditLog.entity == "plan", AuditLog.entity_id == str(plan_id),
                                                   AuditLog.action == "read")).all()
    assert any(r.detail_json and r.detail_json["via"] == "web:plan" for r in rows)


@pytest.mark.parametrize("email", [OAK_STAFF, ADMIN])
def test_the_home_page_counts_what_needs_attention(web: World, email: str) -> None:
    client, _ = signed_in(web.app, email)
    html = client.get("/").get_data(as_text=True)
    assert "awaiting agreement" in html and "review overdue" in html
