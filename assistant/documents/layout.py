"""What each document says, as a list of blocks that the PDF and DOCX renderers both draw.

The wording follows the forms that schools and LAs exchange: the reintegration plan
(Bath & Wells MAT Appendix 1; Achieving for Children Appendix 2), the risk assessment
(Achieving for Children Appendix 1, with the HSE's five steps) and the notification of a
temporary reduced timetable (Achieving for Children Appendix 3).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from conversations.timetable import (
    HALVES,
    WEEKDAY_NAMES,
    GraduatedTimetable,
    Session,
    TimetableWeek,
)

from .data import (
    CIRCUMSTANCE_LABELS,
    REQUIREMENT_LABELS,
    STATUS_LABELS,
    TIMETABLE_REASON_LABELS,
    PlanDocumentData,
)
from .text import fmt_date, fmt_hours, fmt_long_date, yes_no

ParagraphStyle = Literal["normal", "quote", "note", "strong"]


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str
    style: ParagraphStyle = "normal"


@dataclass(frozen=True)
class Fields:
    """Label and value pairs, drawn as a two-column form."""

    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...] = ()  # relative; empty means equal
    compact: bool = False  # small type, for the session grid


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]
    numbered: bool = False


@dataclass(frozen=True)
class Signatory:
    role: str
    name: str = ""


@dataclass(frozen=True)
class Signatures:
    statement: str
    signatories: tuple[Signatory, ...]


Block = Heading | Paragraph | Fields | Table | Bullets | Signatures


@dataclass(frozen=True)
class Document:
    title: str
    subtitle: str
    running_head: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)


REGISTER_LEGEND = (
    "School = in school for the session (hours shown when the session is shortened). "
    "C2 = authorised absence agreed as part of the part-time timetable. "
    "B = approved, supervised education off site. Closed = the school is closed. "
    "- = outside the plan."
)

RISK_FACTORS: dict[str, str] = {
    "parental_mental_health": "Parental mental health problems",
    "parental_substance_misuse": "Parental substance misuse: alcohol or drugs",
    "domestic_abuse": "Domestic abuse",
    "young_carer": "The child is a young carer",
    "single_carer": "Parent is a single carer with limited family support",
    "debt_homelessness": "Significant debts which could lead to homelessness",
    "open_to_social_care": "Child open to children's social care (s17 or s47)",
    "family_support_worker": "Family supported by a family support worker",
    "behaviour_at_home": "Parents struggling to manage the child's behaviour at home",
    "social_emotional_development": "Social and emotional development during the timetable",
    "sexual_exploitation": "Child sexual exploitation",
    "criminal_exploitation": "Criminal exploitation",
    "substance_misuse": "Young person's substance misuse",
    "gang_youth_violence": "Gang and youth violence",
    "self_harm": "Self-harm",
    "radicalisation": "Radicalisation",
    "other_abuse": "Other potential abuse or criminal activity",
}

HSE_FIVE_STEPS = (
    "Identify possible hazards.",
    "Decide who may be harmed and how.",
    "Evaluate the risks and decide on precautions.",
    "Record the findings and implement them.",
    "Review the assessment regularly and update it if necessary.",
)


def plan_document(data: PlanDocumentData) -> Document:
    """The reintegration plan including the reduced (part-time) timetable."""
    blocks: list[Block] = [
        Fields((
            *_identity_rows(data),
            ("Date of planning meeting", fmt_date(data.meeting_date)),
            ("Named lead for the plan", _with_role(data.named_lead, data.named_lead_role)),
            ("Headteacher", data.headteacher_name),
        )),
        Heading("Circumstances"),
        Fields(_circumstance_rows(data)),
        Heading("Reasons for the plan"),
        Bullets(_reason_labels(data) or ("Not recorded",)),
        *_decision_blocks(data),
        *_consultee_blocks(data),
        Heading("Dates and hours"),
        Fields((
            ("Start date", fmt_long_date(data.start_date)),
            ("End date (back to full time)", fmt_long_date(data.end_date)),
            ("Hours a week at the start", _starting_hours(data)),
            ("Full-time hours", fmt_hours(data.full_time_hours)),
            ("Review meetings", _date_list(data.review_dates) or "To be arranged"),
        )),
        # The plan as agreed stays whole below; a closed plan says when and how it ended.
        *_closure_blocks(data),
        Heading("Graduated timetable"),
        *_timetable_blocks(data.timetable),
        Heading("Where the pupil will be when not in school, and with whom"),
        Fields((
            ("Where", data.where_when_not_in_school),
            ("With whom", data.with_whom_when_not_in_school),
            ("Arrival and departure", data.arrival_and_departure),
        )),
        *_away_blocks(data.timetable),
        Heading("Education during the plan"),
        Fields((
            ("Educational focus in school", data.educational_focus_in_school),
            ("Work set for time out of school", data.work_set),
            ("How work is marked and returned", data.work_marking),
        )),
        Heading("Outcomes"),
        Paragraph("Long-term outcome", "strong"),
        Paragraph(data.long_term_outcome),
        Paragraph("Short-term targets", "strong"),
        Bullets(data.short_term_targets, numbered=True),
        Paragraph("Success criteria: how everyone will know the plan is working", "strong"),
        Bullets(data.success_criteria),
    ]
    extras = (
        ("Support in school", data.support_in_school),
        ("Support for parents and carers", data.support_for_parents),
        ("Exit strategy", data.exit_strategy),
    )
    if any(value for _, value in extras):
        blocks.append(Fields(tuple((label, value) for label, value in extras if value)))
    blocks += [
        Heading("Reviews"),
        Paragraph(
            f"{data.named_lead} reviews the plan on the dates below with the pupil, "
            "parents/carers and the professionals involved, checking progress against the "
            "targets and agreeing the next increase in hours. A review may be called sooner "
            "by anyone who is worried the plan is not working."
        ),
        Bullets(tuple(fmt_long_date(day) for day in data.review_dates) or ("To be arranged",)),
        Heading("During the plan the school will"),
        Bullets((
            "Monitor how well the part-time timetable is working.",
            "Hold each review on the agreed date.",
            "Provide work for the pupil to do when not in school, and mark all completed work.",
            "Record sessions out of school with the register codes shown in the timetable.",
        )),
        Heading("Agreement"),
        Signatures(
            "The undersigned confirm that this is an accurate record of the plan agreed. The "
            "school confirms that a part-time timetable for a limited period has been judged "
            "appropriate, review arrangements are agreed, a risk assessment has been completed "
            "and safeguarding has been fully taken into consideration.",
            _school_signatories(data) + _professional_signatories(data),
        ),
        Heading("Parents and carers"),
        Paragraph(
            "A reduced timetable can only go ahead with the signed consent of the parents or "
            "carers. It cannot be enforced or insisted upon by the school. Please delete as "
            f"applicable: (1) I agree with this reintegration plan.{_agreement_statements(data)} (2) I do not "
            "agree with this plan for the following reasons: ........................................"
        ),
        Signatures("", _parent_signatories(data)),
        Heading("Pupil (voluntary)"),
        Paragraph(
            "Please delete as applicable: I am happy with this plan. / I am not happy with this "
            "plan because: ........................................"
        ),
        Signatures("", (Signatory("Pupil", data.pupil_name),)),
    ]
    return Document(
        title="Reintegration plan including reduced timetable",
        subtitle=data.policy_title,
        running_head=f"{data.pupil_name} - {data.school_name} - confidential",
        blocks=tuple(blocks),
    )


def risk_assessment_document(data: PlanDocumentData) -> Document:
    """The risk assessment for a reduced or part-time timetable."""
    assessed = data.risk_assessment_date is not None
    people = data.professionals
    factor_rows: list[tuple[str, str]] = []
    identified = set(data.risk_factors_identified)
    for key, label in RISK_FACTORS.items():
        present = key in identified or label in identified
        factor_rows.append((label, "Yes" if present else ("No" if assessed else "Yes / No")))
    known_labels = set(RISK_FACTORS) | set(RISK_FACTORS.values())
    factor_rows += [(other, "Yes") for other in data.risk_factors_identified
                    if other not in known_labels]
    risk_rows = tuple(
        (risk.risk, risk.mitigation, risk.by_whom, yes_no(risk.satisfies_requirements))
        for risk in data.risks
    ) or tuple(("", "", "", "Yes / No") for _ in range(3))
    blocks: list[Block] = [
        Fields((
            *_identity_rows(data),
            ("Date of risk assessment meeting", fmt_date(data.risk_assessment_date)),
            ("People involved", "; ".join(
                _with_role(person.name, person.role) for person in people
            )),
            ("Hours in and out of school", _hours_summary(data)),
        )),
        Paragraph(
            "Consider any social care, medical or Virtual School plans which indicate "
            "safeguarding concerns, any concerns from other professionals, and how time out of "
            "school will be supervised and monitored.",
            "note",
        ),
        Heading("Steps of the assessment"),
        Bullets(HSE_FIVE_STEPS, numbered=True),
        Heading("Risk factors considered"),
        Table(("Factor", "Identified?"), tuple(factor_rows), (4, 1)),
        Paragraph(
            "Where any of these factors is identified, the school must consider whether an "
            "Early Help or children's social care referral is needed, and the designated "
            "safeguarding lead and a senior leader must consider seriously whether a reduced "
            "timetable will increase the risk.",
            "note",
        ),
        Heading("Identified risks and how they will be managed"),
        Table(
            ("Identified risk", "How it will be mitigated", "By whom",
             "Satisfies safeguarding and education law?"),
            risk_rows,
            (3, 4, 2, 2),
        ),
        Heading("Welfare, education and inclusion"),
        Fields((
            ("Where the pupil will be when not in school", data.where_when_not_in_school),
            ("With whom", data.with_whom_when_not_in_school),
            ("How welfare and safety will be monitored and supervised when not in school",
             data.welfare_monitoring),
            ("How the school will ensure continuity of education",
             f"{data.work_set} {data.work_marking}".strip()),
            ("How the pupil will feel included and cared for", data.inclusion_and_belonging),
            ("How social and emotional development will be promoted",
             data.social_emotional_development),
            ("Review dates", _date_list(data.review_dates)),
        )),
        Heading("Signatures"),
        Signatures(
            "This risk assessment is signed and dated by everyone involved and kept on the "
            "pupil's file. It is reviewed at every review of the plan.",
            (
                Signatory("Headteacher", data.headteacher_name),
                Signatory("Designated safeguarding lead"),
                *_parent_signatories(data),
                *_professional_signatories(data),
            ),
        ),
    ]
    return Document(
        title="Risk assessment for a reduced or part-time timetable",
        subtitle=data.policy_title,
        running_head=f"{data.pupil_name} - {data.school_name} - confidential",
        blocks=tuple(blocks),
    )


def la_notification_document(data: PlanDocumentData) -> Document:
    """The notification of a temporary reduced timetable sent to the local authority. A plan
    closed early gives its weeks as they ran."""
    timetable = data.timetable
    lengths = _slot_lengths(timetable)
    ran = data.timetable_as_run()
    weeks = ran.weeks if ran is not None else ()
    off_site = [_off_site_hours(week, lengths) for week in timetable.weeks]
    header: tuple[str, ...] = ("Week", "Week beginning", "Hours in school", "% of full time")
    week_rows: tuple[tuple[str, ...], ...] = tuple(
        (str(number), fmt_date(week.week_beginning), fmt_hours(week.hours),
         f"{week.percent_of_full_time:g}%")
        for number, week in enumerate(weeks, start=1)
    )
    if any(off_site):
        header = (*header, "Supervised off site (B)")
        week_rows = tuple((*row, fmt_hours(_off_site_hours(week, lengths)))
                          for row, week in zip(week_rows, weeks, strict=True))
    blocks: list[Block] = [
        Fields((
            ("Pupil name", data.pupil_name),
            ("National curriculum year", data.year_group),
            ("School name", data.school_name),
            ("Date of birth", fmt_date(data.date_of_birth)),
            ("UPN", data.upn),
            ("SEN status", "EHCP" if data.has("ehcp") else "No EHCP recorded"),
            ("Child in care", data.circumstance("looked_after")),
            ("Previously looked after", data.circumstance("previously_looked_after")),
            ("Child protection plan", data.circumstance("child_protection_plan")),
            ("Child in need plan", data.circumstance("child_in_need_plan")),
            ("Early Help involved", data.circumstance("early_help")),
            ("Risk assessment completion date", fmt_date(data.risk_assessment_date)),
            ("Where education is taking place", _education_places(data)),
            ("Reasons for the reduced timetable", "; ".join(_reason_labels(data))),
            ("Hours per week in school (at the start)", _starting_hours(data)),
            ("Supervised off-site education (first week)",
             fmt_hours(off_site[0]) if off_site[0] else "None"),
            ("Full-time hours for this pupil", fmt_hours(data.full_time_hours)),
            ("Planned start date", fmt_date(data.start_date)),
            ("Planned first review date",
             fmt_date(data.review_dates[0]) if data.review_dates else ""),
            ("Planned end date (return to full-time provision)", fmt_date(data.end_date)),
            ("Named lead", _with_role(data.named_lead, data.named_lead_role)),
            ("Decision under the policy", data.outcome_label),
        )),
        *_closure_blocks(data),
        Heading("Hours week by week"),
        Table(header, week_rows) if week_rows else Paragraph("The plan closed before its first session."),
        *_consultee_blocks(data),
        *_decision_blocks(data),
        Heading("Agreement"),
        Paragraph(
            "A reduced timetable can only proceed with the parents' or carers' signed consent "
            "to the plan, and cannot be enforced by a school or insisted upon under threat of "
            "exclusion. The school keeps the original signed agreement."
        ),
        Signatures(
            "By submitting this form the school confirms that a part-time timetable for a "
            "limited period has been judged appropriate, review arrangements have been agreed "
            "and safeguarding has been fully taken into consideration.",
            (*_parent_signatories(data), Signatory("Headteacher", data.headteacher_name)),
        ),
    ]
    return Document(
        title="Notification of a temporary reduced timetable",
        subtitle=f"To the local authority - {data.policy_title}",
        running_head=f"{data.pupil_name} - {data.school_name} - confidential",
        blocks=tuple(blocks),
    )


def _closure_blocks(data: PlanDocumentData) -> list[Block]:
    """A closed plan's end: in the plan's record, and in the LA's closure notification
    (Derbyshire's form 3, Achieving for Children, Bath & Wells MAT ask for one)."""
    if data.closed_on is None:
        return []
    return [
        Heading("Closure"),
        Fields((
            ("Date the part-time timetable ended", fmt_date(data.closed_on)),
            ("How it ended", data.closure or "Not recorded"),
            ("Ended before the planned end date", yes_no(data.closed_on < data.end_date)),
        )),
    ]


def session_cell(session: Session | None, closed: bool, full_length: float) -> str:
    """What one am/pm cell of the timetable grid shows."""
    if session is None:
        return "Closed" if closed else "-"
    if session.in_school:
        if session.hours >= full_length - 1e-9:
            return "School"
        return f"School {round(session.hours, 2):g}h"
    return session.register_code or ""


def timetable_grid(timetable: GraduatedTimetable) -> Table:
    header = (
        "Week beginning",
        *(f"{name[:3]} {half}" for name in WEEKDAY_NAMES for half in HALVES),
        "Hours",
        "% FT",
    )
    full = _slot_lengths(timetable)
    rows: list[tuple[str, ...]] = []
    for week in timetable.weeks:
        cells = [fmt_date(week.week_beginning)]
        closed = set(week.closed_days)
        for offset in range(len(WEEKDAY_NAMES)):
            day = week.week_beginning + timedelta(days=offset)
            for half in HALVES:
                cells.append(session_cell(week.session(day, half), day in closed,
                                          full[(offset, half)]))
        cells += [f"{round(week.hours, 2):g}", f"{week.percent_of_full_time:g}%"]
        rows.append(tuple(cells))
    return Table(header, tuple(rows), (2.2, *([1.0] * 10), 1.1, 1.1), compact=True)


def _slot_lengths(timetable: GraduatedTimetable) -> dict[tuple[int, str], float]:
    """Each session's full length, read from the final (full-time) week where it is open."""
    lengths: dict[tuple[int, str], float] = {}
    am, pm = timetable.session_hours
    for offset in range(len(WEEKDAY_NAMES)):
        lengths[(offset, "am")], lengths[(offset, "pm")] = am, pm
    for week in timetable.weeks:
        if week.planned_hours >= timetable.full_time_hours - 1e-9:
            for session in week.sessions:
                lengths[(session.weekday, session.half)] = session.hours
    return lengths


def _off_site_hours(week: TimetableWeek, lengths: dict[tuple[int, str], float]) -> float:
    """Hours of approved off-site education (B sessions) in the week."""
    return sum(
        lengths[(session.weekday, session.half)]
        for session in week.sessions
        if session.register_code == "B"
    )


def _timetable_blocks(timetable: GraduatedTimetable) -> list[Block]:
    blocks: list[Block] = [timetable_grid(timetable), Paragraph(REGISTER_LEGEND, "note")]
    if timetable.closed_weeks:
        blocks.append(Paragraph(
            "School closed all week (no sessions): week beginning "
            + ", ".join(fmt_date(day) for day in timetable.closed_weeks) + ".",
            "note",
        ))
    return blocks


def _away_blocks(timetable: GraduatedTimetable) -> list[Block]:
    weeks_by_arrangement: dict[tuple[int, str, str, str, str], list[int]] = defaultdict(list)
    for number, week in enumerate(timetable.weeks, start=1):
        for session in week.sessions:
            if session.in_school:
                continue
            key = (session.weekday, session.half, session.location or "",
                   session.with_whom or "", session.register_code or "")
            if number not in weeks_by_arrangement[key]:
                weeks_by_arrangement[key].append(number)
    if not weeks_by_arrangement:
        return [Paragraph("The pupil is in school for every session of the plan.", "note")]
    rows = tuple(
        (f"{WEEKDAY_NAMES[weekday]} {half}", _week_ranges(weeks), location, with_whom, code)
        for (weekday, half, location, with_whom, code), weeks in sorted(
            weeks_by_arrangement.items(), key=lambda item: (item[0][0], item[0][1], item[1][0])
        )
    )
    return [Table(("Session", "Weeks", "Where", "With whom", "Register code"), rows,
                  (2, 1.3, 2.5, 2.5, 1.2))]


def _week_ranges(numbers: list[int]) -> str:
    ranges: list[str] = []
    first = previous = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        ranges.append(str(first) if first == previous else f"{first}-{previous}")
        if number is not None:
            first = previous = number
    return ", ".join(ranges)


def _decision_blocks(data: PlanDocumentData) -> list[Block]:
    blocks: list[Block] = [
        Heading("What the policy says"),
        Paragraph(f"Policy: {data.policy_title}. Decision: {data.outcome_label}.", "strong"),
    ]
    for reason in data.reasons:
        blocks.append(Paragraph(reason.message))
        blocks.append(Paragraph(
            f'"{reason.quote}" ({_source(reason.document, data)}, {reason.section})', "quote"
        ))
    if not data.reasons:
        blocks.append(Paragraph("No outstanding points were found.", "note"))
    return blocks


def _consultee_blocks(data: PlanDocumentData) -> list[Block]:
    if not data.consultees:
        return []
    rows = tuple(
        (c.display_name, REQUIREMENT_LABELS[c.requirement], STATUS_LABELS[c.status])
        for c in data.consultees
    )
    return [
        Heading("Who must agree, be consulted or be informed"),
        Table(("Who", "Requirement", "Status"), rows, (4, 2, 2)),
    ]


def _identity_rows(data: PlanDocumentData) -> tuple[tuple[str, str], ...]:
    rows = [
        ("Pupil name", data.pupil_name),
        ("Date of birth", fmt_date(data.date_of_birth)),
        ("Year group", data.year_group),
        ("School", data.school_name),
    ]
    if data.upn:
        rows.append(("UPN", data.upn))
    if data.prepared_on:
        rows.append(("Prepared on", fmt_date(data.prepared_on)))
    return tuple(rows)


def _circumstance_rows(data: PlanDocumentData) -> tuple[tuple[str, str], ...]:
    shown = ("looked_after", "previously_looked_after", "child_protection_plan",
             "child_in_need_plan", "ehcp", "early_help")
    rows = [(CIRCUMSTANCE_LABELS[key], data.circumstance(key)) for key in shown]
    rows += [
        (CIRCUMSTANCE_LABELS.get(key, key.replace("_", " ").capitalize()), "Yes")
        for key in data.circumstances if key not in shown
    ]
    return tuple(rows)


def _reason_labels(data: PlanDocumentData) -> tuple[str, ...]:
    labels = [TIMETABLE_REASON_LABELS.get(reason, reason) for reason in data.timetable_reasons]
    if data.other_reason:
        labels.append(f"Other: {data.other_reason}")
    return tuple(labels)


def _agreement_statements(data: PlanDocumentData) -> str:
    """What the policy says the parent's form must state, after "I agree with this plan"."""
    if not data.parent_agreement:
        return ""
    source = f" ({data.parent_agreement_source})" if data.parent_agreement_source else ""
    return f" In signing I confirm{source}: " + " ".join(data.parent_agreement)


def _school_signatories(data: PlanDocumentData) -> tuple[Signatory, ...]:
    signatories = [Signatory("Headteacher", data.headteacher_name)]
    if data.named_lead and data.named_lead != data.headteacher_name:
        signatories.append(
            Signatory(f"School representative ({data.named_lead_role or 'named lead'})",
                      data.named_lead)
        )
    return tuple(signatories)


def _parent_signatories(data: PlanDocumentData) -> tuple[Signatory, ...]:
    return tuple(Signatory("Parent/carer", name) for name in data.parents) or (
        Signatory("Parent/carer"),
    )


def _professional_signatories(data: PlanDocumentData) -> tuple[Signatory, ...]:
    named = [
        Signatory(_with_role(person.role, person.organisation), person.name)
        for person in data.professionals
    ]
    named_roles = {person.role.lower() for person in data.professionals}
    for consultee in data.consultees:
        if consultee.requirement == "inform":
            continue
        label = consultee.display_name
        if label.lower() not in named_roles and consultee.role.lower() not in named_roles:
            named.append(Signatory(f"Professional: {label}", consultee.name))
    return tuple(named)


def _education_places(data: PlanDocumentData) -> str:
    places = [f"School ({data.school_name})"]
    off_site = sorted({
        session.location for session in data.timetable.away_sessions()
        if session.register_code == "B" and session.location
    })
    places += [f"Off site: {place}" for place in off_site]
    places.append(f"When not in school: {data.where_when_not_in_school}, "
                  f"with {data.with_whom_when_not_in_school}")
    return "; ".join(places)


def _hours_summary(data: PlanDocumentData) -> str:
    timetable = data.timetable
    first, last = timetable.first_week, timetable.final_week
    return (
        f"Week 1 (from {fmt_date(first.week_beginning)}): {fmt_hours(first.hours)} in school "
        f"({first.percent_of_full_time:g}% of full time), rising over {len(timetable.weeks)} "
        f"week(s) to full time ({fmt_hours(data.full_time_hours)}) in the week beginning "
        f"{fmt_date(last.week_beginning)}. Out of school: {data.where_when_not_in_school}, "
        f"with {data.with_whom_when_not_in_school}."
    )


def _starting_hours(data: PlanDocumentData) -> str:
    """The week's hours the timetable starts at, and, when the first week is cut short (a start
    mid-week, a bank holiday), what that week holds."""
    text = _hours_and_percent(data.starting_hours, data)
    if data.first_week_hours < data.starting_hours:
        text += f"; {fmt_hours(data.first_week_hours)} in the first, shorter week"
    return text


def _hours_and_percent(hours: float, data: PlanDocumentData) -> str:
    return f"{fmt_hours(hours)} ({round(hours / data.full_time_hours * 100, 1):g}% of full time)"


def _date_list(days: tuple[date, ...]) -> str:
    return ", ".join(fmt_date(day) for day in days)


def _with_role(name: str, role: str) -> str:
    if name and role:
        return f"{name} ({role})"
    return name or role


def _source(document: str, data: PlanDocumentData) -> str:
    if document == data.policy_id and data.policy_title:
        return data.policy_title
    return document
