"""Template filters and globals: British dates, hours, and the labels of codes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask

from assistant.documents.data import (
    CIRCUMSTANCE_LABELS,
    OUTCOME_LABELS,
    REQUIREMENT_LABELS,
    STATUS_LABELS,
    TIMETABLE_REASON_LABELS,
)
from assistant.services.auth import ROLE_LABELS
from assistant.web.plan_views import DUE_FILTERS
from assistant.web.plan_views import STATUS_LABELS as PLAN_STATUS_LABELS
from conversations.wording import consultee_label
from rules.reminder_schedule import SCHOOL_TIMEZONE


def uk_date(value: date | datetime | str | None, fmt: str = "%-d %b %Y") -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.astimezone(SCHOOL_TIMEZONE).strftime(f"{fmt} %H:%M")
    return value.strftime(fmt)


def hours(value: float | None) -> str:
    if value is None:
        return "—"
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text} h"


def label(value: Any, kind: str) -> str:
    tables: dict[str, dict[str, str]] = {
        "outcome": OUTCOME_LABELS,
        "requirement": REQUIREMENT_LABELS,
        "consultation": STATUS_LABELS,
        "circumstance": CIRCUMSTANCE_LABELS,
        "reason": TIMETABLE_REASON_LABELS,
        "role": ROLE_LABELS,
        "status": PLAN_STATUS_LABELS,
        "due": DUE_FILTERS,
    }
    text = str(value)
    return tables.get(kind, {}).get(text, text.replace("_", " "))


def init_filters(app: Flask) -> None:
    app.jinja_env.filters["uk_date"] = uk_date
    app.jinja_env.filters["hours"] = hours
    app.jinja_env.filters["consultee"] = consultee_label
    app.jinja_env.filters["label"] = label
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
