"""The plan, risk assessment and LA notification read back with what was put in them."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import docx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar
from pydantic import ValidationError
from pypdf import PdfReader

from assistant.documents import (
    SESSION_COLUMNS,
    CitedReason,
    ConsulteeLine,
    IdentifiedRisk,
    Person,
    PlanDocumentData,
    cited_reasons,
    consultee_lines,
    feed_ics,
    la_notification_docx,
    la_notification_pdf,
    plan_docx,
    plan_ics,
    plan_pdf,
    risk_assessment_docx,
    risk_assessment_pdf,
    sessions_csv,
)
from conversations.timetable import build_graduated_timetable, mark_off_site
from rules.models import Citation, Consultee, Reason

START = date(2026, 1, 12)
END = date(2026, 2, 13)
INSET_DAY = date(2026, 1, 30)
QUOTE = (
    "For Children in Care the Virtual Headteacher must be consulted and agree to the "
    "arrangements."
)
TARGETS = (
    "Arrive by 8:50 each morning",
    "Stay for the whole morning session",
    "Join the Thursday lunchtime club",
)


def school_day(day: date) -> bool:
    return day.weekday() < 5 and day != INSET_DAY


def plan_data(**changes: object) -> PlanDocumentData:
    timetable = build_graduated_timetable(START, END, 12.5, 32.5, school_day)
    timetable = mark_off_site(timetable, 2, "pm", "Riverside Tuition Centre", "Tutor")
    data = PlanDocumentData(
        plan_id="plan-42",
        pupil_name="Zoë O’Connor",
        date_of_birth=date(2016, 5, 1),
        upn="A123456789012",
        year_group="Y5",
        school_name="St Mary’s C of E Primary",
        prepared_on=date(2026, 1, 8),
        meeting_date=date(2026, 1, 8),
        policy_id="derby-city",
        policy_title="Derby City – part-time timetables",
        outcome="not_yet",
        reasons=(CitedReason(
            message="The Virtual School must agree before the timetable starts.",
            document="derby-city", section="Vulnerable groups", quote=QUOTE,
            severity="outstanding", code="consultee_agreement_missing",
        ),),
        consultees=(ConsulteeLine(role="virtual_school", label="the Virtual School",
                                  requirement="agree", status="consulted"),),
        timetable_reasons=("mental_health", "reintegration"),
        circumstances=("looked_after",),
        timetable=timetable,
        full_time_hours=32.5,
        end_date=END,
        review_dates=(date(2026, 1, 23), date(2026, 2, 6)),
        where_when_not_in_school="At home",
        with_whom_when_not_in_school="Foster carer",
        work_set="Maths and English packs — about an hour a day; a “reading challenge”",
        work_marking="The class teacher marks work every Friday and gives written feedback.",
        long_term_outcome="Zoë attends full time and feels safe in class.",
        short_term_targets=TARGETS,
        success_criteria=("No missed mornings for two weeks",),
        named_lead="Dev Patel",
        named_lead_role="Attendance lead",
        headteacher_name="Jane Rowe",
        parents=("Ann Smith",),
        professionals=(Person(name="Sam Lee", role="Social worker",
                              organisation="Derby City Council"),),
        risk_assessment_date=date(2026, 1, 9),
        risk_factors_identified=("self_harm",),
        risks=(IdentifiedRisk(risk="Self-harm when alone at home",
                              mitigation="A carer is at home at all times",
                              by_whom="Foster carer and DSL", satisfies_requirements=True),),
        welfare_monitoring="A daily phone call from her key adult",
    )
    return data.model_copy(update=changes) if changes else data


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def docx_text(content: bytes) -> str:
    document = docx.Document(io.BytesIO(content))
    parts = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return " ".join(" ".join(parts).split())


def ics_events(content: bytes) -> list[dict[str, object]]:
    calendar = Calendar.from_ical(content)
    return [
        {
            "uid": str(event["UID"]),
            "summary": str(event["SUMMARY"]),
            "start": event.decoded("DTSTART"),
            "alarms": len(event.subcomponents),
        }
        for event in calendar.walk("VEVENT")
    ]


def csv_rows(data: PlanDocumentData) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(sessions_csv(data))))


def test_the_plan_pdf_names_the_pupil_the_targets_and_the_signatories() -> None:
    text = pdf_text(plan_pdf(plan_data()))

    assert "Zoë O'Connor" in text
    for target in TARGETS:
        assert target in text
    for words in ("Headteacher", "Jane Rowe", "Parent/carer", "Ann Smith", "Signature:",
                  "Date:", "Social worker (Derby City Council)", "Sam Lee",
                  "Professional: The Virtual School"):
        assert words in text


def test_the_plan_pdf_quotes_the_policy_passage_the_decision_rests_on() -> None:
    text = pdf_text(plan_pdf(plan_data()))

    assert QUOTE in text
    assert "Not yet: steps outstanding" in text
    assert "Vulnerable groups" in text


def test_the_plan_pdf_shows_the_timetable_with_its_register_codes_and_dates() -> None:
    text = pdf_text(plan_pdf(plan_data()))

    for expected in ("12/01/2026", "09/02/2026", "C2", "B", "Closed", "32.5", "100%",
                     "Riverside Tuition Centre", "Friday 13 February 2026",
                     "Friday 23 January 2026"):
        assert expected in text


def test_the_plan_pdf_says_where_the_pupil_is_and_what_work_is_set() -> None:
    text = pdf_text(plan_pdf(plan_data()))

    for expected in ("At home", "Foster carer", "Maths and English packs - about an hour a day",
                     '"reading challenge"', "marks work every Friday", "Dev Patel",
                     "No missed mornings for two weeks", "feels safe in class"):
        assert expected in text


def test_characters_the_pdf_fonts_lack_are_transliterated_not_fatal() -> None:
    data = plan_data(
        pupil_name="Łukasz Wójcik‐Nowak",
        long_term_outcome="Back to full time… costs £0 — “no” fees ✓ €5 → 日本",
    )

    text = pdf_text(plan_pdf(data))

    assert "Lukasz Wójcik-Nowak" in text
    assert "Back to full time... costs £0 - \"no\" fees v EUR5 -> ??" in text


def test_the_plan_docx_reads_back_with_the_pupil_targets_and_signature_table() -> None:
    text = docx_text(plan_docx(plan_data()))

    assert "Zoë O’Connor" in text
    for target in TARGETS:
        assert target in text
    for words in ("Role Name Signature Date", "Headteacher Jane Rowe", "Parent/carer Ann Smith",
                  QUOTE, "C2", "Riverside Tuition Centre"):
        assert words in text


def test_the_risk_assessment_records_the_risks_and_who_signs_it() -> None:
    for text in (pdf_text(risk_assessment_pdf(plan_data())),
                 docx_text(risk_assessment_docx(plan_data()))):
        assert "Risk assessment for a reduced or part-time timetable" in text
        assert "Self-harm when alone at home" in text
        assert "A carer is at home at all times" in text
        assert "A daily phone call from her key adult" in text
        assert "09/01/2026" in text
        for signatory in ("Headteacher", "Designated safeguarding lead", "Parent/carer"):
            assert signatory in text


def test_a_risk_assessment_not_yet_held_leaves_the_factors_to_be_ticked() -> None:
    data = plan_data(risk_assessment_date=None, risk_factors_identified=(), risks=())

    text = docx_text(risk_assessment_docx(data))

    assert "Radicalisation Yes / No" in text
    assert "Radicalisation No" not in text


def test_the_la_notification_gives_the_dates_hours_and_circumstances() -> None:
    for text in (pdf_text(la_notification_pdf(plan_data())),
                 docx_text(la_notification_docx(plan_data()))):
        assert "Notification of a temporary reduced timetable" in text
        assert "Child in care Yes" in text
        assert "Child protection plan No" in text
        assert "12/01/2026" in text and "23/01/2026" in text and "13/02/2026" in text
        assert "12.5 h (38.5% of full time)" in text
        assert "Supervised off-site education (first week) 3.25 h" in text
        assert "Headteacher" in text and "Parent/carer" in text


def test_a_start_mid_week_gives_the_weekly_hours_and_the_first_weeks_short_count_apart() -> None:
    wednesday = START + timedelta(days=2)
    data = plan_data(timetable=build_graduated_timetable(wednesday, END, 12.5, 32.5, school_day))
    assert (data.starting_hours, data.first_week_hours) == (12.5, 6)
    for text in (pdf_text(la_notification_pdf(data)), docx_text(la_notification_docx(data)),
                 pdf_text(plan_pdf(data))):
        assert "12.5 h (38.5% of full time); 6 h in the first, shorter week" in text
    assert "a part-time timetable of 12.5 h a week" in " ".join(plan_ics(data).decode().replace("\r\n ", "").split())


def test_every_pdf_is_a_valid_document_with_a_title() -> None:
    for render in (plan_pdf, risk_assessment_pdf, la_notification_pdf):
        reader = PdfReader(io.BytesIO(render(plan_data())))
        assert len(reader.pages) >= 1
        assert reader.metadata is not None and reader.metadata.title


def test_the_plan_calendar_has_each_review_and_the_end_date() -> None:
    events = ics_events(plan_ics(plan_data()))

    starts = [event["start"] for event in events]
    assert date(2026, 1, 23) in starts and date(2026, 2, 6) in starts and END in starts
    assert len({event["uid"] for event in events}) == len(events)
    reviews = [event for event in events if str(event["summary"]).startswith("Review")]
    assert len(reviews) == 2 and all(event["alarms"] == 1 for event in reviews)
    assert any("back to full time" in str(event["summary"]) for event in events)


def test_a_closure_recorded_after_the_plan_was_written_has_no_rows_for_the_register() -> None:
    """A school closed for an INSET day marks nobody: a C2 row then would record absence."""
    written = {row["date"] for row in csv_rows(plan_data())}
    assert {"2026-01-20", "2026-01-21"} <= written
    later = {row["date"] for row in csv_rows(plan_data(school_closures=((date(2026, 1, 20), date(2026, 1, 21)),)))}
    assert later == written - {"2026-01-20", "2026-01-21"}


def test_a_review_held_early_shows_on_the_day_it_was_held_with_no_alarm_under_the_same_uid() -> None:
    planned = {e["uid"]: e for e in ics_events(plan_ics(plan_data()))
               if str(e["summary"]).startswith("Review 1")}
    held = [e for e in ics_events(plan_ics(plan_data(reviews_held=((date(2026, 1, 23), date(2026, 1, 16)),))))
            if str(e["summary"]).startswith("Review 1")]
    assert [(e["uid"] in planned, e["start"], e["alarms"]) for e in held] == [(True, date(2026, 1, 16), 0)]
    assert "held" in str(held[0]["summary"])


def test_a_feed_holds_every_plans_dates_without_clashing_ids() -> None:
    other = plan_data(plan_id="plan-43", pupil_name="Sam Jones",
                      review_dates=(date(2026, 1, 26),))

    events = ics_events(feed_ics([plan_data(), other]))

    assert len(events) == 2 * 2 + 3  # start and end each, plus three reviews
    assert len({event["uid"] for event in events}) == len(events)
    assert any("Sam Jones" in str(event["summary"]) for event in events)


def test_a_redacted_calendar_shows_initials_instead_of_the_name() -> None:
    content = plan_ics(plan_data(), redact=True)

    summaries = " ".join(str(event["summary"]) for event in ics_events(content))
    assert "ZO" in summaries
    assert "Zoë" not in content.decode()


def test_the_sessions_csv_has_a_row_for_each_open_session_with_its_register_code() -> None:
    data = plan_data()
    rows = csv_rows(data)

    assert tuple(rows[0]) == SESSION_COLUMNS
    assert len(rows) == 2 * sum(len(week.days) for week in data.timetable.weeks)
    assert INSET_DAY.isoformat() not in {row["date"] for row in rows}
    for row in rows:
        assert row["session"] in {"AM", "PM"}
        if row["expected_in_school"] == "Y":
            assert row["register_code"] == ""
        else:
            assert row["register_code"] in {"C2", "B"}
    wednesday_pm = [row for row in rows if row["date"] == "2026-01-14" and row["session"] == "PM"]
    assert wednesday_pm[0]["register_code"] == "B"
    assert wednesday_pm[0]["location"] == "Riverside Tuition Centre"
    assert {row["register_code"] for row in rows if row["date"] >= "2026-02-09"} == {""}


def test_the_la_notification_of_a_closed_plan_says_when_and_how_it_ended() -> None:
    closed = plan_data(closed_on=date(2026, 1, 28), closure="Moved to alternative provision")

    text = pdf_text(la_notification_pdf(closed))

    assert "Closure" in text and "Date the part-time timetable ended 28/01/2026" in text
    assert "How it ended Moved to alternative provision" in text
    assert "Ended before the planned end date Yes" in text
    assert "Date the part-time timetable ended" not in pdf_text(la_notification_pdf(plan_data()))


def test_the_plan_of_a_closed_plan_keeps_the_timetable_as_agreed_and_says_when_it_ended() -> None:
    closed = plan_data(closed_on=date(2026, 1, 28), closure="Moved to alternative provision")

    text = pdf_text(plan_pdf(closed))

    assert "Date the part-time timetable ended 28/01/2026" in text
    assert "09/02/2026" in text  # the agreed weeks after it stay
    assert "Date the part-time timetable ended" not in pdf_text(plan_pdf(plan_data()))
    assert "Date the part-time timetable ended 28/01/2026" in docx_text(plan_docx(closed))


def test_the_la_notification_of_a_plan_closed_early_gives_the_weeks_as_they_ran() -> None:
    text = pdf_text(la_notification_pdf(plan_data(closed_on=date(2026, 1, 21), closure="Left the school")))
    planned = pdf_text(la_notification_pdf(plan_data()))

    assert "19/01/2026" in text and "26/01/2026" not in text and "26/01/2026" in planned
    withdrawn = pdf_text(la_notification_pdf(plan_data(closed_on=START - timedelta(days=3),
                                                       closure="Proposal withdrawn")))
    assert "The plan closed before its first session." in withdrawn
    assert docx_text(la_notification_docx(plan_data(closed_on=START - timedelta(days=3))))


def test_a_plan_that_ran_its_course_and_ended_another_way_says_so_in_the_calendar() -> None:
    events = ics_events(plan_ics(plan_data(closed_on=END, closure="Moved to alternative provision",
                                           closure_route="alternative_provision")))

    end = next(event for event in events if event["start"] == END)
    assert end["summary"] == "Part-time timetable ended: Zoë O’Connor" and end["alarms"] == 0


def test_a_closed_plans_sessions_csv_stops_on_the_day_it_closed() -> None:
    data = plan_data(closed_on=date(2026, 1, 21), closure="Returned to full-time education")
    dates = [row["date"] for row in csv_rows(data)]

    assert dates[-1] == "2026-01-21"
    assert dates == [row["date"] for row in csv_rows(plan_data()) if row["date"] <= "2026-01-21"]


def test_a_closed_plans_calendar_ends_on_the_day_it_closed_with_no_reminder_and_no_later_review() -> None:
    events = ics_events(plan_ics(plan_data(closed_on=date(2026, 1, 28), closure="Left the school")))

    assert [event["start"] for event in events] == [START, date(2026, 1, 23), date(2026, 1, 28)]
    end = events[-1]
    assert end["summary"] == "Part-time timetable closed: Zoë O’Connor" and end["alarms"] == 0
    assert end["uid"] == next(e["uid"] for e in ics_events(plan_ics(plan_data())) if e["start"] == END)


def test_a_plan_closed_after_its_end_date_keeps_its_planned_end_in_the_calendar() -> None:
    closed_late = plan_data(closed_on=END + timedelta(days=3), closure="Returned to full-time education")

    assert ics_events(plan_ics(closed_late)) == ics_events(plan_ics(plan_data()))
    assert csv_rows(closed_late) == csv_rows(plan_data())


def test_a_plan_withdrawn_before_it_started_has_only_its_closure_in_the_calendar() -> None:
    events = ics_events(plan_ics(plan_data(closed_on=START - timedelta(days=3), closure="Proposal withdrawn")))

    assert [(event["start"], event["summary"]) for event in events] == [
        (START - timedelta(days=3), "Part-time timetable closed: Zoë O’Connor")]
    assert csv_rows(plan_data(closed_on=START - timedelta(days=3))) == []


def test_csv_cells_that_look_like_formulas_are_neutralised() -> None:
    rows = csv_rows(plan_data(pupil_name="=HYPERLINK(\"x\")"))

    assert rows[0]["pupil_name"].startswith("'=")


def test_a_plan_needs_at_least_three_short_term_targets() -> None:
    with pytest.raises(ValidationError, match="short_term_targets"):
        PlanDocumentData.model_validate(
            {**plan_data().model_dump(), "short_term_targets": ["One", "Two"]}
        )


def test_full_time_hours_must_match_the_timetable() -> None:
    with pytest.raises(ValidationError, match="differs from the timetable"):
        PlanDocumentData.model_validate({**plan_data().model_dump(), "full_time_hours": 25})


def test_an_end_date_before_the_start_is_refused() -> None:
    with pytest.raises(ValidationError, match="before the timetable starts"):
        PlanDocumentData.model_validate(
            {**plan_data().model_dump(), "end_date": START - timedelta(days=1)}
        )


def test_the_decisions_reasons_and_consultees_convert_for_the_documents() -> None:
    citation = Citation(document="derby-city", section="Vulnerable groups", quote=QUOTE)
    reasons = cited_reasons([Reason(code="consultee_agreement_missing", severity="outstanding",
                                    message="The Virtual School must agree.",
                                    citation=citation)])
    consultees = consultee_lines([Consultee(role="virtual_school", requirement="agree",
                                            status="consulted", citation=citation,
                                            label="the Virtual School")])

    assert reasons[0].quote == QUOTE and reasons[0].section == "Vulnerable groups"
    assert consultees[0].display_name == "The Virtual School"
    assert consultees[0].requirement == "agree"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=60).filter(lambda text: text.strip() != ""))
def test_any_text_a_school_types_renders_in_every_format(typed: str) -> None:
    data = plan_data(pupil_name=typed, work_set=typed, long_term_outcome=typed,
                     short_term_targets=(typed.strip() or "x", "Two", "Three"))

    for render in (plan_pdf, risk_assessment_pdf, la_notification_pdf):
        assert render(data).startswith(b"%PDF")
    for render in (plan_docx, risk_assessment_docx, la_notification_docx):
        assert render(data).startswith(b"PK")
    assert Calendar.from_ical(plan_ics(data))
    assert len(csv_rows(data)) > 0


def test_the_slug_is_safe_for_file_names() -> None:
    data = plan_data(plan_id="")

    assert re.fullmatch(r"[a-z0-9-]+", data.slug)
