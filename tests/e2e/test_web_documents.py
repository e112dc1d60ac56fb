"""Downloads: the plan, risk assessment and LA notification as PDF and Word, the .ics of a plan,
the register CSV, and the per-user calendar feed."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Any

import docx
import pytest
from icalendar import Calendar
from pypdf import PdfReader
from sqlmodel import select

from assistant.services import auth
from storage.models import AuditLog
from storage.repositories import DirectoryRepository

from .conftest import DERBY_EWO, OAK_STAFF, RIVERSIDE_STAFF, World, signed_in


def pdf_text(content: bytes) -> str:
    return " ".join(" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(content)).pages)


def docx_text(content: bytes) -> str:
    document = docx.Document(io.BytesIO(content))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return " ".join(" ".join(parts).split())


@pytest.mark.parametrize(("name", "heading"), [
    ("plan.pdf", "plan"), ("risk-assessment.pdf", "risk"), ("la-notification.pdf", "notification"),
])
def test_each_document_downloads_as_a_pdf_naming_the_pupil(web: World, name: str, heading: str) -> None:
    client, _ = signed_in(web.app, OAK_STAFF)
    response = client.get(f"/plans/{web.plan('Oak Primary', 'awaiting')}/documents/{name}")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    text = pdf_text(response.data)
    assert "Amelia Hart" in text and "Oak Primary" in text
    assert heading in text.lower()


@pytest.mark.parametrize("name", ["plan.docx", "risk-assessment.docx", "la-notification.docx"])
def test_each_document_downloads_as_a_word_file(web: World, name: str) -> None:
    client, _ = signed_in(web.app, OAK_STAFF)
    response = client.get(f"/plans/{web.plan('Oak Primary', 'awaiting')}/documents/{name}")
    assert response.status_code == 200
    assert response.mimetype.endswith("wordprocessingml.document")
    assert "Amelia Hart" in docx_text(response.data)


def test_a_derby_city_parents_agreement_makes_explicit_what_the_protocol_asks(web: World) -> None:
    """Derby City, General principles: the form must make explicit that they consent, take
    responsibility for the pupil out of school and guarantee supervision off site."""
    client, _ = signed_in(web.app, OAK_STAFF)
    for name, read in (("plan.pdf", pdf_text), ("plan.docx", docx_text)):
        text = read(client.get(f"/plans/{web.plan('Oak Primary', 'awaiting')}/documents/{name}").data)
        assert ("In signing I confirm (Derby City Part-Time Timetable Protocol, General principles): "
                "I consent to my child being on a part-time timetable. I take responsibility for my child when "
                "they are not in school. I guarantee that my child will be supervised off site.") in text, name


def test_the_plan_pdf_carries_the_written_targets_and_the_cited_reasons(web: World) -> None:
    client, _ = signed_in(web.app, OAK_STAFF)
    text = pdf_text(client.get(f"/plans/{web.plan('Oak Primary', 'awaiting')}/documents/plan.pdf").data)
    assert "Arrive by 8:50 each morning" in text
    assert "Virtual" in text


def test_a_plans_calendar_has_its_start_reviews_and_end(web: World) -> None:
    client, _ = signed_in(web.app, OAK_STAFF)
    response = client.get(f"/plans/{web.plan('Oak Primary', 'active')}/documents/plan.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    events = [c for c in Calendar.from_ical(response.data).walk("VEVENT")]
    summaries = [str(e["SUMMARY"]) for e in events]
    assert any("starts" in s for s in summaries) and any("ends" in s for s in summaries)
    assert any(s.startswith("Review") for s in summaries)


def test_the_sessions_csv_has_register_codes(web: World) -> None:
    client, _ = signed_in(web.app, OAK_STAFF)
    response = client.get(f"/plans/{web.plan('Oak Primary', 'active')}/documents/sessions.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows and {"date", "session", "register_code", "expected_in_school"} <= set(rows[0])
    codes = {r["register_code"] for r in rows}
    assert "C2" in codes and "" in codes
    assert all(r["register_code"] in ("C2", "B") for r in rows if r["expected_in_school"] == "N")


def test_no_register_codes_are_given_for_a_timetable_not_yet_agreed(web: World) -> None:
    client, _ = signed_in(web.app, OAK_STAFF)
    plan_id = web.plan("Oak Primary", "awaiting")
    response = client.get(f"/plans/{plan_id}/documents/sessions.csv")
    assert response.status_code == 409 and "not agreed yet" in response.get_data(as_text=True)
    page = client.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert "sessions.csv" not in page and "Sessions with register codes (CSV): once the plan is agreed" in page
    assert client.get(f"/plans/{plan_id}/documents/plan.pdf").status_code == 200  # to sign it, it must print


def test_no_register_codes_for_a_proposal_withdrawn_before_it_was_agreed(web: World, make_plan: Any) -> None:
    from assistant.services.plans import close_plan

    client, _ = signed_in(web.app, OAK_STAFF)
    assert client.get(f"/plans/{web.plan('Oak Primary', 'closed')}/documents/sessions.csv").status_code == 200  # ran
    from storage.db import make_session_factory

    withdrawn = make_plan("awaiting")
    close_plan(make_session_factory(web.app.extensions["ptt"].engine), withdrawn, route="withdrawn",
               actor_user_id=None)
    assert client.get(f"/plans/{withdrawn}/documents/sessions.csv").status_code == 409


def test_the_register_csv_leaves_out_a_closure_recorded_after_the_plan(web: World) -> None:
    from assistant.services.closures import add_closure, remove_closure

    client, _ = signed_in(web.app, RIVERSIDE_STAFF)
    url = f"/plans/{web.plan('Riverside Academy', 'active')}/documents/sessions.csv"
    days = sorted({row["date"] for row in csv.DictReader(io.StringIO(client.get(url).get_data(as_text=True)))})
    inset = date.fromisoformat(days[len(days) // 2])
    with web.session() as session:
        add_closure(session, "school", "Riverside Academy", inset, inset, "INSET day")
        session.commit()
    try:
        after = {row["date"] for row in csv.DictReader(io.StringIO(client.get(url).get_data(as_text=True)))}
    finally:
        with web.session() as session:
            remove_closure(session, "school", "Riverside Academy", inset)
            session.commit()
    assert after == set(days) - {inset.isoformat()}


def test_an_unknown_document_is_404(web: World) -> None:
    client, _ = signed_in(web.app, OAK_STAFF)
    assert client.get(f"/plans/{web.plan('Oak Primary', 'active')}/documents/secret.txt").status_code == 404


def test_another_schools_staff_cannot_download_a_plan(web: World) -> None:
    client, _ = signed_in(web.app, RIVERSIDE_STAFF)
    for name in ("plan.pdf", "plan.docx", "plan.ics", "sessions.csv"):
        assert client.get(f"/plans/{web.plan('Oak Primary', 'active')}/documents/{name}").status_code == 404


def test_the_las_ewo_may_download_the_la_notification(web: World) -> None:
    client, _ = signed_in(web.app, DERBY_EWO)
    response = client.get(f"/plans/{web.plan('Oak Primary', 'active')}/documents/la-notification.pdf")
    assert response.status_code == 200


def test_downloads_are_audited_as_exports(web: World) -> None:
    plan_id = web.plan("Oak Primary", "closed")
    client, _ = signed_in(web.app, OAK_STAFF)
    client.get(f"/plans/{plan_id}/documents/sessions.csv")
    with web.session() as session:
        rows = session.exec(select(AuditLog).where(AuditLog.entity_id == str(plan_id),
                                                   AuditLog.action == "export")).all()
    assert any(r.detail_json and r.detail_json["via"] == "web:document:sessions.csv" for r in rows)


def test_the_calendar_feed_is_reached_by_its_secret_address_and_shows_initials_only(web: World) -> None:
    client, _ = signed_in(web.app, OAK_STAFF)
    html = client.get("/plans").get_data(as_text=True)
    match = re.search(r'id="feed-url"[^>]*value="http://localhost(/calendar/\d+/[0-9a-f]+\.ics)"', html)
    assert match, "the plan list shows the feed address"
    anonymous = web.app.test_client()
    response = anonymous.get(match.group(1))
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    body = response.get_data(as_text=True)
    assert "BEGIN:VEVENT" in body
    assert "Amelia Hart" not in body and "AH" in body
    assert anonymous.get(re.sub(r"/[0-9a-f]+\.ics$", "/" + "0" * 40 + ".ics", match.group(1))).status_code == 404


def test_a_calendar_feed_stops_when_its_owner_moves_school(web: World) -> None:
    from storage.models import School

    with web.session() as session:
        oak = session.exec(select(School).where(School.name == "Oak Primary")).one()
        riverside = session.exec(select(School).where(School.name == "Riverside Academy")).one()
        mover = DirectoryRepository(session).upsert_user(f"feed-mover-{web.backend}@oak.example.org", "staff",
                                                        school_id=oak.id, la_id=oak.la_id)
        session.commit()
        secret = web.app.extensions["ptt"].settings.resolved_secret_key()
        feed = f"/calendar/{mover.id}/{auth.feed_token(secret, mover)}.ics"
        anonymous = web.app.test_client()
        assert anonymous.get(feed).status_code == 200
        mover.school_id = riverside.id
        session.add(mover)
        session.commit()
    assert anonymous.get(feed).status_code == 404
