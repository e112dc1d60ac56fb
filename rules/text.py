"""Decisions as plain text: a summary a DSL can paste into case notes, and a side-by-side view."""

from __future__ import annotations

import textwrap

from rules.models import Decision

OUTCOME_WORDS = {
    "may_proceed": "MAY PROCEED",
    "not_yet": "NOT YET — steps outstanding",
    "must_not_proceed": "MUST NOT PROCEED",
}
REQUIREMENT_WORDS = {"agree": "must agree", "consult": "must be consulted", "inform": "must be told"}


def _wrap(text: str, indent: str = "    ") -> str:
    hanging = indent + "  " if text.startswith("- ") else indent
    return textwrap.fill(text, width=92, initial_indent=indent, subsequent_indent=hanging)


def decision_as_text(decision: Decision) -> str:
    lines = [
        f"Part-time timetable check — {decision.policy_title or decision.policy}",
        f"Outcome: {OUTCOME_WORDS[decision.outcome]}",
    ]
    facts = []
    if decision.pupil_year_group:
        facts.append(f"year group {decision.pupil_year_group}")
    if decision.full_time_hours is not None:
        facts.append(f"full time {decision.full_time_hours:g} h/week")
    if decision.percent_of_full_time is not None:
        facts.append(f"proposed {decision.percent_of_full_time:g}% of full time")
    if decision.latest_end_date:
        facts.append(f"latest end date {decision.latest_end_date.isoformat()}")
    if facts:
        lines.append("Facts: " + "; ".join(facts))
    if decision.review_dates:
        lines.append("Reviews: " + ", ".join(d.isoformat() for d in decision.review_dates))
    for heading, severity in (("Stops", "stop"), ("Outstanding", "outstanding"), ("Notes", "info")):
        chosen = [r for r in decision.reasons if r.severity == severity]
        if not chosen:
            continue
        lines.append("")
        lines.append(f"{heading}:")
        for reason in chosen:
            lines.append(_wrap(f"- {reason.message}", "  "))
            cite = reason.citation
            lines.append(_wrap(f'[{cite.document}, {cite.section}: "{cite.quote}"]'))
    if decision.consultees:
        lines.append("")
        lines.append("Professionals:")
        for consultee in decision.consultees:
            done = "done" if consultee.satisfied else consultee.status.replace("_", " ")
            lines.append(f"  - {consultee.label} {REQUIREMENT_WORDS[consultee.requirement]} ({done})")
    if decision.next_steps:
        lines.append("")
        lines.append("Once agreed:")
        for step in decision.next_steps:
            lines.append(_wrap(f"- {step.message}", "  "))
    for note in decision.notes:
        lines.append("")
        lines.append(_wrap(f"Note: {note.message} ({note.source})", ""))
    return "\n".join(lines)


def decisions_side_by_side(decisions: list[Decision]) -> str:
    width = 26
    header = "".ljust(22) + "".join(d.policy.ljust(width) for d in decisions)
    rows = [header, "-" * len(header)]

    def row(label: str, values: list[str]) -> None:
        rows.append(label.ljust(22) + "".join(v[: width - 2].ljust(width) for v in values))

    row("outcome", [d.outcome for d in decisions])
    row("full-time hours", [f"{d.full_time_hours:g}" if d.full_time_hours else "-" for d in decisions])
    row("latest end date", [d.latest_end_date.isoformat() if d.latest_end_date else "none set" for d in decisions])
    row("stops", [str(len(d.stops())) for d in decisions])
    row("outstanding", [str(len(d.outstanding())) for d in decisions])
    row("must agree", [",".join(c.role for c in d.consultees if c.requirement == "agree") or "-" for d in decisions])
    rows.append("")
    for decision in decisions:
        problems = [r for r in decision.reasons if r.severity != "info"]
        if problems:
            rows.append(f"{decision.policy}:")
            rows.extend(_wrap(f"- [{r.severity}] {r.message}", "  ") for r in problems)
    return "\n".join(rows)
