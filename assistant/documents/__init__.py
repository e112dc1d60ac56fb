"""Documents for a part-time timetable: the plan, risk assessment and LA notification (PDF and
DOCX), a calendar of its dates (.ics) and its sessions with register codes (CSV)."""

from __future__ import annotations

from .data import (
    CitedReason,
    ConsulteeLine,
    IdentifiedRisk,
    Person,
    PlanDocumentData,
    cited_reasons,
    consultee_lines,
)
from .ics import feed_ics, plan_events, plan_ics
from .layout import (
    RISK_FACTORS,
    la_notification_document,
    plan_document,
    risk_assessment_document,
)
from .mis import SESSION_COLUMNS, sessions_csv
from .pdf import render_pdf
from .word import render_docx

__all__ = [
    "RISK_FACTORS",
    "SESSION_COLUMNS",
    "CitedReason",
    "ConsulteeLine",
    "IdentifiedRisk",
    "Person",
    "PlanDocumentData",
    "cited_reasons",
    "consultee_lines",
    "feed_ics",
    "la_notification_docx",
    "la_notification_pdf",
    "plan_docx",
    "plan_events",
    "plan_ics",
    "plan_pdf",
    "risk_assessment_docx",
    "risk_assessment_pdf",
    "sessions_csv",
]


def plan_pdf(data: PlanDocumentData) -> bytes:
    """The reintegration plan with its graduated timetable, as PDF."""
    return render_pdf(plan_document(data))


def plan_docx(data: PlanDocumentData) -> bytes:
    """The reintegration plan with its graduated timetable, as a Word document."""
    return render_docx(plan_document(data))


def risk_assessment_pdf(data: PlanDocumentData) -> bytes:
    """The risk assessment for the reduced timetable, as PDF."""
    return render_pdf(risk_assessment_document(data))


def risk_assessment_docx(data: PlanDocumentData) -> bytes:
    """The risk assessment for the reduced timetable, as a Word document."""
    return render_docx(risk_assessment_document(data))


def la_notification_pdf(data: PlanDocumentData) -> bytes:
    """The notification of a temporary reduced timetable for the LA, as PDF."""
    return render_pdf(la_notification_document(data))


def la_notification_docx(data: PlanDocumentData) -> bytes:
    """The notification of a temporary reduced timetable for the LA, as a Word document."""
    return render_docx(la_notification_document(data))
