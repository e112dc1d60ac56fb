"""Block Kit for every message the Slack app sends. Pure: data in, JSON-able blocks out.

Action ids (the listeners match on them):

* ``ptt_answer:<n>`` — a button answering the current question (value: the answer);
* ``ptt_select`` — a static select for a choice with many options;
* ``ptt_date`` — a datepicker for a date question;
* ``ptt_multi_toggle`` / ``ptt_multi_done`` — checkboxes for a multi-choice question and the
  button that sends the ticked ones;
* ``ptt_reminder_review_held`` / ``ptt_reminder_snooze`` / ``ptt_open_link`` — reminder DMs;
* ``ptt_home_start_check`` — the App Home button.

Every question's block id is ``ptt|<conversation id>|<question key>``, so an answer can be checked
against the question now waiting before it is sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from assistant.services.policy_answers import PolicyAnswer
from assistant.services.queries import HomeSummary, TimetableQueryResult, TimetableRow
from rules.models import ROLE_LABELS

Block = dict[str, Any]

MAX_BUTTONS = 5
MAX_TEXT = 2900
OUTCOME_HEADINGS: dict[str, str] = {
    "may_proceed": ":white_check_mark: *May proceed*",
    "not_yet": ":hourglass_flowing_sand: *Not yet* — permitted once the steps below are done",
    "must_not_proceed": ":no_entry: *Must not proceed* as it stands",
}
SEVERITY_ICONS: dict[str, str] = {"stop": ":no_entry:", "outstanding": ":hourglass_flowing_sand:",
                                  "info": ":information_source:"}
HELP_TEXT = (
    "*Part-time timetable assistant*\n"
    "• `/ptt check` — run a part-time timetable check with me in a DM (or DM me “start a check”)\n"
    "• `/ptt ask <question>` — what your local protocol says, quoted, e.g. `/ptt ask how long can it last?`\n"
    "• `/ptt plans` — your school's plans (only you see them)\n"
    "• `/ptt link` — link your Slack account to your staff account (by your Slack e-mail)\n"
    "• DM me a query such as “active”, “ending this week”, “reviews overdue”, “how many looked after”\n"
    "• The *Home* tab shows your plans, reviews due and agreements outstanding."
)
UNKNOWN_USER_TEXT = (
    "I don't know you yet, so I can't show you anything. Ask your school's or LA's administrator to add "
    "you (with the e-mail address your Slack account uses), then try `/ptt link`."
)


def escape(text: str) -> str:
    """Slack's three control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(text, 1900)}]}


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(text, limit), "emoji": True}


def _day(value: date | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    return value.strftime("%a %-d %b %Y")


def _quote(quote: str, section_name: str, title: str) -> str:
    return f"> {escape(quote)}\n_{escape(title)}, section “{escape(section_name)}”_"


# --------------------------------------------------------------------------- the check
def question_key(reply: Any, index: int = 0) -> str:
    return str(_get(reply, "question_id") or _get(reply, "fact") or f"q{index}")


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def block_id_for(conversation_id: str, key: str) -> str:
    return f"ptt|{conversation_id}|{key}"[:255]


def parse_block_id(block_id: str) -> tuple[str, str] | None:
    parts = block_id.split("|", 2)
    if len(parts) != 3 or parts[0] != "ptt":
        return None
    return parts[1], parts[2]


def reply_blocks(reply: Any, conversation_id: str, *, index: int = 0, policy_title: str = "") -> list[Block]:
    """One assistant reply: its text, why it is asked (quoted), and the input its kind needs."""
    text = escape(str(_get(reply, "text") or ""))
    if _get(reply, "error"):
        text = f":warning: {text}"
    blocks: list[Block] = [section(text or "…")]
    why = _get(reply, "why")
    if why:
        title = _get(why, "policy_title") or policy_title
        blocks.append(context(f"_Why I ask:_ “{escape(str(_get(why, 'quote')))}” — {escape(title)}, "
                              f"section “{escape(str(_get(why, 'section')))}”"))
    kind = str(_get(reply, "kind") or "text")
    choices = [(str(_get(c, "value")), str(_get(c, "label"))) for c in (_get(reply, "choices") or ())]
    if kind == "yes_no" and not choices:
        choices = [("yes", "Yes"), ("no", "No")]
    # The question's own answer for "not decided yet" / "don't know", which a datepicker or
    # yes/no buttons cannot give: one more choice, or a button beside the picker.
    skip = _get(reply, "skip")
    skip_button = None
    if skip is not None:
        if kind in ("yes_no", "choice") and choices:
            choices.append((str(_get(skip, "value")), str(_get(skip, "label"))))
        else:
            skip_button = {"type": "button", "action_id": "ptt_answer:0", "text": _plain(str(_get(skip, "label"))),
                           "value": str(_get(skip, "value"))[:2000]}
    block_id = block_id_for(conversation_id, question_key(reply, index))
    if kind in ("yes_no", "choice") and choices:
        if len(choices) <= MAX_BUTTONS:
            elements = [{"type": "button", "action_id": f"ptt_answer:{n}", "text": _plain(label),
                         "value": value[:2000]} for n, (value, label) in enumerate(choices)]
            blocks.append({"type": "actions", "block_id": block_id, "elements": elements})
        else:
            blocks.append({"type": "actions", "block_id": block_id, "elements": [{
                "type": "static_select", "action_id": "ptt_select", "placeholder": _plain("Choose…"),
                "options": [{"text": _plain(label), "value": value[:150]} for value, label in choices[:100]],
            }]})
    elif kind == "multi_choice" and choices:
        options = [{"text": _plain(label), "value": value[:150]} for value, label in choices[:100]]
        toggle = ({"type": "checkboxes", "action_id": "ptt_multi_toggle", "options": options}
                  if len(options) <= 10 else
                  {"type": "multi_static_select", "action_id": "ptt_multi_toggle", "options": options,
                   "placeholder": _plain("Choose all that apply…")})
        blocks.append({"type": "actions", "block_id": block_id, "elements": [
            toggle, {"type": "button", "action_id": "ptt_multi_done", "text": _plain("Done"), "style": "primary",
                     "value": "done"}]})
        blocks.append(context("Tick all that apply, then press *Done* (or reply in this thread with them, "
                              "separated by commas)."))
    elif kind == "date":
        picker = {"type": "datepicker", "action_id": "ptt_date", "placeholder": _plain("Pick a date")}
        blocks.append({"type": "actions", "block_id": block_id, "elements": [picker, *filter(None, [skip_button])]})
        blocks.append(context("Pick a date, or reply in this thread (e.g. `12/01/2026`)."))
    elif kind == "number" or _get(reply, "fact") or _get(reply, "question_id"):
        if skip_button is not None:
            blocks.append({"type": "actions", "block_id": block_id, "elements": [skip_button]})
        blocks.append(context("Reply in this thread with a number." if kind == "number" else "Reply in this thread."))
    return blocks


def answered_blocks(question_text: str, answer_label: str) -> list[Block]:
    """A question once answered: the buttons go, the answer stays."""
    return [section(escape(question_text)), context(f":white_check_mark: You answered: *{escape(answer_label)}*")]


def reply_fallback_text(reply: Any) -> str:
    return _clip(str(_get(reply, "text") or "Part-time timetable check"), 3000)


def decision_blocks(decision: Mapping[str, Any], *, policy_title: str, link: str | None,
                    link_label: str = "Open the plan") -> list[Block]:
    """The final message of a check: the outcome, each reason with its quoted clause, the dates."""
    outcome = str(decision.get("outcome", ""))
    blocks: list[Block] = [section(OUTCOME_HEADINGS.get(outcome, f"*{escape(outcome)}*") +
                                   f"\n_{escape(policy_title)}_")]
    for reason in list(decision.get("reasons") or [])[:12]:
        icon = SEVERITY_ICONS.get(str(reason.get("severity")), "•")
        text = f"{icon} {escape(str(reason.get('message', '')))}"
        citation = reason.get("citation")
        if citation:
            text += "\n" + _quote(str(citation.get("quote", "")), str(citation.get("section", "")), policy_title)
        blocks.append(section(text))
    consultees = list(decision.get("consultees") or [])
    if consultees:
        lines = [f"• {escape(ROLE_LABELS.get(c.get('role', ''), str(c.get('role'))))}: "
                 f"{escape(str(c.get('requirement')))} ({escape(str(c.get('status', '')).replace('_', ' '))})"
                 for c in consultees]
        blocks.append(section("*Who is involved*\n" + "\n".join(lines)))
    facts = []
    if decision.get("latest_end_date"):
        facts.append(f"Latest end date the policy allows: *{_day(decision['latest_end_date'])}*")
    if decision.get("review_dates"):
        facts.append("Reviews: " + ", ".join(_day(d) for d in decision["review_dates"][:8]))
    if decision.get("full_time_hours"):
        facts.append(f"Full time for this pupil: {decision['full_time_hours']:g} hours a week")
    if facts:
        blocks.append(context(" · ".join(facts)))
    if link:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "action_id": "ptt_open_link", "text": _plain(link_label), "url": link,
            "style": "primary"}]})
    return blocks[:50]


def decision_fallback_text(decision: Mapping[str, Any]) -> str:
    outcome = str(decision.get("outcome", "")).replace("_", " ")
    return f"Decision: {outcome}"


# --------------------------------------------------------------------------- policy answers
def policy_answer_blocks(answer: PolicyAnswer) -> list[Block]:
    if not answer.answered:
        text = f"I couldn't find that in the _{escape(answer.policy_title)}_, so I won't guess."
        if answer.suggestions:
            text += "\nYou could ask: " + "; ".join(f"“{escape(s)}”" for s in answer.suggestions)
        return [section(text)]
    blocks = [section(f"*{escape(answer.question)}*")]
    if answer.verdict:
        blocks.append(section(answer.verdict))
    for passage in answer.passages:
        blocks.append(section(_quote(passage.quote, passage.section, answer.policy_title)))
    blocks.append(context("Quoted verbatim from the protocol. Check the full document before you act."))
    return blocks


# --------------------------------------------------------------------------- tables of plans
STATUS_ICONS = {"active": ":large_green_circle:", "awaiting": ":large_yellow_circle:", "draft": ":red_circle:",
                "closed": ":white_circle:"}


def row_line(row: TimetableRow, *, show_school: bool = True) -> str:
    parts = [f"{STATUS_ICONS.get(row.status, '')} <{row.url}|{escape(row.pupil)}>"]
    if show_school and row.school:
        parts.append(escape(row.school))
    parts.append(row.status)
    if row.past_end_date:
        parts.append(f"ended {_day(row.end_date)} :warning: still open: close it or record an extension")
    else:
        parts.append(f"ends {_day(row.end_date)}")
    if row.next_review:
        parts.append(f"review {_day(row.next_review)}" + (" :warning: overdue" if row.review_overdue else ""))
    return " · ".join(parts)


def _chunked_lines(lines: Sequence[str], heading: str) -> list[Block]:
    blocks: list[Block] = []
    chunk: list[str] = [heading] if heading else []
    size = len(heading)
    for line in lines:
        if size + len(line) + 1 > MAX_TEXT and chunk:
            blocks.append(section("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        blocks.append(section("\n".join(chunk)))
    return blocks


def query_result_blocks(result: TimetableQueryResult) -> list[Block]:
    if result.school_ambiguous:
        return [section(f"“{escape(result.school_not_found or '')}” could be "
                        + " or ".join(f"“{escape(s)}”" for s in result.school_suggestions)
                        + ": which school do you mean? Ask again with its full name.")]
    if result.school_not_found:
        text = f"I can't find a school called “{escape(result.school_not_found)}” among the schools you can see."
        if result.school_suggestions:
            text += " Did you mean " + " or ".join(f"“{escape(s)}”" for s in result.school_suggestions) + "?"
        return [section(text)]
    heading = escape(result.heading)
    if result.query.count_only:
        return [section(f"{heading}: *{result.count}*")]
    if not result.rows:
        return [section(f"*{heading}*: none.")]
    schools = {row.school for row in result.rows}
    lines = [row_line(row, show_school=len(schools) > 1) for row in result.rows]
    blocks = _chunked_lines(lines, f"*{heading}* ({result.count})")
    if result.truncated:
        blocks.append(context(f"Showing the first {len(result.rows)} of {result.count}; ask a narrower question "
                              "or open the web app for the full list."))
    return blocks[:50]


def not_understood_blocks(text: str, suggestions: Iterable[str]) -> list[Block]:
    tries = ", ".join(f"`{escape(s)}`" for s in suggestions)
    return [section(f"Sorry, I didn't understand “{escape(text)}”. Try {tries}, ask a question about your "
                    "protocol (e.g. “how long can it last?”), or say “start a check”.")]


# --------------------------------------------------------------------------- App Home
def home_view(summary: HomeSummary | None, *, name: str = "", base_url: str = "") -> dict[str, Any]:
    blocks: list[Block] = [{"type": "header", "text": _plain("Part-time timetables", 150)}]
    if summary is None:
        blocks.append(section(UNKNOWN_USER_TEXT))
        return {"type": "home", "blocks": blocks}
    buttons: list[dict[str, Any]] = [{"type": "button", "action_id": "ptt_home_start_check",
                                      "text": _plain("Start a check"), "style": "primary", "value": "start"}]
    if base_url:
        buttons.append({"type": "button", "action_id": "ptt_open_link", "text": _plain("Open the web app"),
                        "url": base_url})
    blocks.append({"type": "actions", "elements": buttons})
    blocks.append({"type": "divider"})
    plan_lines = [row_line(row) for row in summary.plans] or ["No open plans."]
    blocks += _chunked_lines(plan_lines, "*Your plans*")
    review_lines = [
        f"{':warning: ' if r.overdue else ''}{_day(r.due_on)} — <{r.row.url}|{escape(r.row.pupil)}>, "
        f"{escape(r.row.school)}" for r in summary.reviews_due
    ] or ["None in the next two weeks."]
    blocks += _chunked_lines(review_lines, "*Reviews due*")
    agreement_lines = [
        f"<{a.row.url}|{escape(a.row.pupil)}> — {escape(a.role_label)} ({a.status.replace('_', ' ')})"
        for a in summary.agreements_outstanding
    ] or ["None outstanding."]
    blocks += _chunked_lines(agreement_lines, "*Agreements outstanding*")
    blocks.append(context("Only you see this tab. Pupils are shown by first name and initial."))
    return {"type": "home", "blocks": blocks[:100]}


# --------------------------------------------------------------------------- reminders
def reminder_blocks(*, title: str, body: str, reminder_id: int | None, plan_id: int | None, kind: str,
                    link: str | None) -> list[Block]:
    blocks: list[Block] = [section(f"*{escape(title)}*\n{escape(body)}")]
    value = json.dumps({"r": reminder_id, "p": plan_id})
    elements: list[dict[str, Any]] = []
    if kind == "review_due" and reminder_id is not None and plan_id is not None:
        elements.append({"type": "button", "action_id": "ptt_reminder_review_held", "style": "primary",
                         "text": _plain("Review held today"), "value": value})
    if reminder_id is not None:
        elements.append({"type": "button", "action_id": "ptt_reminder_snooze", "text": _plain("Snooze a day"),
                         "value": value})
    if link:
        elements.append({"type": "button", "action_id": "ptt_open_link", "text": _plain("Open the plan"),
                         "url": link})
    if elements:
        blocks.append({"type": "actions", "block_id": f"ptt_reminder|{reminder_id}", "elements": elements})
    return blocks


def reminder_done_blocks(original: Sequence[Block], note: str) -> list[Block]:
    """The reminder as it was, its buttons replaced by what was done."""
    kept = [b for b in original if b.get("type") != "actions"]
    return [*kept, context(note)]
