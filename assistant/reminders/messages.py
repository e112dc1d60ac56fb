"""What a reminder says. Pure: built from data the sweeper has already loaded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

ROLE_NAMES: dict[str, str] = {
    "lead": "the plan's lead",
    "dsl": "the Designated Safeguarding Lead",
    "ewo": "the Education Welfare Officer",
    "headteacher": "the headteacher",
}


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: int | None
    email: str
    display_name: str
    role: str
    slack_user_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReminderMessage:
    """One reminder ready to deliver. ``idempotency_key`` travels with it (e.g. as the
    e-mail Message-ID) so that a receiver can drop a repeat."""

    reminder_id: int
    kind: str
    subject: str
    idempotency_key: str
    escalation_level: int
    plan_id: int | None
    recipients: tuple[Recipient, ...]
    title: str
    body: str
    due_at: datetime
    link: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """Title, body and link as plain text (console, Slack)."""
        parts = [self.title, "", self.body]
        if self.link:
            parts += ["", self.link]
        return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class PlanFacts:
    """What a message may say about the plan. Only the pupil's first name and initial."""

    plan_id: int
    pupil_label: str
    school_name: str
    policy_title: str
    end_date: date | None
    latest_end_date: date | None
    escalation_advice: str = ""
    la_notification_advice: dict[str, str] = field(default_factory=dict)
    #: A closed plan's last day under the timetable (for the LA's closure notification).
    closed_on: date | None = None


def pupil_label(first_name: str, last_name: str) -> str:
    initial = f" {last_name[:1]}." if last_name else ""
    return f"{first_name}{initial}"


def _day(value: str | date | None) -> str:
    if value is None:
        return "(no date)"
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    return value.strftime("%A %-d %B %Y")


def render(
    *, kind: str, subject: str, escalation_level: int, facts: PlanFacts,
    escalated_from: str | None = None, sent_before: datetime | None = None,
) -> tuple[str, str]:
    """The title and body of a reminder."""
    who = f"{facts.pupil_label} ({facts.school_name}, plan #{facts.plan_id})"
    if kind == "review_due":
        title = f"Review due {_day(subject)}: {facts.pupil_label}"
        body = (f"The part-time timetable for {who} is due for review on {_day(subject)}. "
                f"{facts.policy_title} asks for regular reviews with the parents and the "
                "professionals involved; record the review's outcome when it has been held.")
    elif kind == "end_date_near":
        title = f"Part-time timetable ends {_day(subject)}: {facts.pupil_label}"
        body = (f"The part-time timetable for {who} ends on {_day(subject)}, in three school "
                "days. Plan the return to full time, or hold a review if it needs to change.")
    elif kind == "end_date_passed":
        title = f"End date passed, plan still open: {facts.pupil_label}"
        body = (f"The part-time timetable for {who} was due to end on {_day(subject)} but the "
                "plan is still open. Close it if the pupil is back full time, or record a "
                "review that extends it with a rationale.")
    elif kind == "over_maximum":
        title = f"Past the policy maximum: {facts.pupil_label}"
        body = (f"The part-time timetable for {who} runs past the latest end date "
                f"{facts.policy_title} allows ({_day(subject)}). "
                f"{facts.escalation_advice}").strip()
    elif kind == "la_notification_due":
        which = subject.split(":", 1)[0]
        advice = facts.la_notification_advice.get(which, "")
        title = f"Notify the local authority ({which}): {facts.pupil_label}"
        closed = f" It closed on {_day(facts.closed_on)}." if which == "closure" and facts.closed_on else ""
        body = (f"The local authority needs the {which} notification for the part-time "
                f"timetable of {who}.{closed} {advice}").strip()
    elif kind == "agreement_missing":
        role = subject.replace("_", " ")
        title = f"Agreement still missing ({role}): {facts.pupil_label}"
        body = (f"The {role}'s agreement to the part-time timetable for {who} is required by "
                f"{facts.policy_title} and has not been recorded. Chase it, or record their "
                "reply.")
    elif kind == "decision_changed":
        before, _, after = subject.partition(":")
        words = {"may_proceed": "may proceed", "not_yet": "not yet (steps outstanding)",
                 "must_not_proceed": "must not proceed"}
        title = f"Decision changed to '{words.get(after, after)}': {facts.pupil_label}"
        body = (f"A step or a professional's reply was just recorded for {who}. Under "
                f"{facts.policy_title} the timetable now {words.get(after, after)} "
                f"(it was: {words.get(before, before)}). Open the plan to see the cited reasons.")
    else:
        title = f"Reminder ({kind}): {facts.pupil_label}"
        body = f"A reminder about the part-time timetable for {who}: {subject}."
    if escalation_level > 0:
        previous = ROLE_NAMES.get(escalated_from or "", escalated_from or "someone")
        when = f" on {sent_before.strftime('%-d %B %Y')}" if sent_before else ""
        title = f"Escalated: {title}"
        body = (f"Nobody has acted on this reminder, sent to {previous}{when}. It now comes to "
                f"you.\n\n{body}")
    return title, body
