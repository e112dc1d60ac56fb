"""Questions an EWO or a school asks about timetables, in plain words, read into a query.

Shared by the Slack app and the web chat: "active", "active at Oak Primary", "ending this week",
"reviews overdue", "over six weeks", "looked after", "EHCP", "how many …". Pure: no I/O and no
clock (``today`` is passed in); which plans a person may see is decided where the query runs.

:func:`parse_timetable_query` returns a :class:`TimetableQuery` or, when nothing in the text is
understood, a :class:`QueryNotUnderstood` holding example queries that come closest.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict
from rapidfuzz import fuzz, process

from rules.models import Circumstance, ReasonForTimetable

StatusFilter = Literal["open", "active", "awaiting", "draft", "closed", "any"]
CircumstanceFilter = Circumstance
ReasonFilter = ReasonForTimetable

_FROZEN = ConfigDict(frozen=True, extra="forbid")

EXAMPLE_QUERIES: tuple[str, ...] = (
    "active",
    "active at Oak Primary",
    "ending this week",
    "ending next week",
    "reviews overdue",
    "reviews due this week",
    "over six weeks",
    "looked after",
    "EHCP",
    "how many active",
    "how many looked after",
    "how many looked after at Oak Primary",
    "awaiting agreement",
    "ending in the next 14 days",
    "past end date",
)


class DateWindow(BaseModel):
    """Inclusive dates, with the words the person used ("this week")."""

    model_config = _FROZEN

    start: date
    end: date
    label: str

    def contains(self, day: date | None) -> bool:
        return day is not None and self.start <= day <= self.end


class TimetableQuery(BaseModel):
    """What to list (or count). Every filter present must hold; an absent one always holds."""

    model_config = _FROZEN

    status: StatusFilter = "open"
    school_name: str | None = None
    ending_within: DateWindow | None = None
    review_due_within: DateWindow | None = None
    review_overdue: bool = False
    over_maximum: bool = False
    #: "past end date": open after the end date (to be closed, or extended).
    past_end_date: bool = False
    #: "over six weeks": longer than this many weeks from start to end (or to today when open);
    #: None with ``over_maximum`` means past the policy's own maximum.
    over_weeks: int | None = None
    circumstance: CircumstanceFilter | None = None
    reason: ReasonFilter | None = None
    year_group: str | None = None
    count_only: bool = False
    today: date

    def describe(self) -> str:
        """The query back in words, for a table's heading."""
        parts: list[str] = []
        if self.status not in ("open", "any"):
            parts.append(self.status)
        elif self.status == "any":
            parts.append("all")
        parts.append("plans")
        if self.circumstance:
            parts.append(f"for {CIRCUMSTANCE_LABELS[self.circumstance]}")
        if self.reason:
            parts.append(f"for {self.reason.replace('_', ' ')}")
        if self.year_group:
            parts.append(f"in {self.year_group}")
        if self.school_name:
            parts.append(f"at {self.school_name}")
        if self.ending_within:
            parts.append(f"ending {self.ending_within.label}")
        if self.review_due_within:
            parts.append(f"with a review due {self.review_due_within.label}")
        if self.review_overdue:
            parts.append("with a review overdue")
        if self.over_maximum:
            parts.append(f"over {self.over_weeks} weeks" if self.over_weeks else "past the policy maximum")
        if self.past_end_date:
            parts.append("still open after their end date")
        text = " ".join(parts)
        return ("How many " + text if self.count_only else text[0].upper() + text[1:])


class QueryNotUnderstood(BaseModel):
    model_config = _FROZEN

    text: str
    suggestions: tuple[str, ...]


CIRCUMSTANCE_LABELS: dict[str, str] = {
    "looked_after": "looked-after pupils",
    "previously_looked_after": "previously looked-after pupils",
    "child_protection_plan": "pupils on a child protection plan",
    "child_in_need_plan": "pupils on a child in need plan",
    "ehcp": "pupils with an EHCP",
    "medical_needs": "pupils with medical needs",
    "too_unwell_for_school": "pupils too unwell for school",
    "early_help": "pupils with Early Help involved",
    "youth_justice": "pupils known to youth justice",
}

# Order matters: longer, more specific phrases first ("previously looked after" before "looked after").
_CIRCUMSTANCE_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"previously[\s-]+looked[\s-]+after|previously in care|\bplac\b|post[\s-]+lac", "previously_looked_after"),
    (r"looked[\s-]+after|\bcla\b|\blac\b|in care\b|children in care|\bcic\b", "looked_after"),
    (r"child[\s-]+protection|\bcp\b(?:\s+plans?)?|\bcpp\b", "child_protection_plan"),
    (r"child(?:ren)?[\s-]+in[\s-]+need|\bcin\b", "child_in_need_plan"),
    (r"\behcps?\b|education,? health and care", "ehcp"),
    (r"too unwell|unwell", "too_unwell_for_school"),
    (r"medical(?:\s+needs?)?|health needs", "medical_needs"),
    (r"early[\s-]+help|family support", "early_help"),
    (r"youth[\s-]+justice|\byot\b|\byjs\b", "youth_justice"),
)
_REASON_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"\bbehaviou?r(?:al)?\b", "behaviour"),
    (r"mental[\s-]+health", "mental_health"),
    (r"\bsemh\b", "semh"),
    (r"physical[\s-]+health", "physical_health"),
    (r"reintegrat\w*", "reintegration"),
    (r"\btransition\w*", "transition"),
)
_STATUS_PATTERNS: tuple[tuple[str, StatusFilter], ...] = (
    (r"\bactive\b|\brunning\b|\bcurrent\b|\bin place\b|\blive\b", "active"),
    (r"\bawaiting\b|\bwaiting\b|\bpending\b|agreements? (?:outstanding|missing)|\bnot yet\b", "awaiting"),
    (r"\bdrafts?\b|\bstopped\b|must not proceed", "draft"),
    (r"\bclosed\b|\bended\b|\bfinished\b", "closed"),
    (r"\bopen\b", "open"),
    (r"\ball\b|\bevery\b|\bany status\b", "any"),
)
_NUMBERS: dict[str, int] = {
    "one": 1, "a": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fortnight": 2,
}
_NUMBER = r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|a)"
_YEAR_GROUP = re.compile(r"\b(?:year\s*(\d{1,2})|y(\d{1,2})|(reception))\b")
# Words that carry no filter: "show me the plans please".
_FILLER = re.compile(
    r"\b(?:show|list|give|get|find|me|us|my|our|the|a|an|any|which|what|who|whose|are|is|there|"
    r"please|plans?|timetables?|part[\s-]*time|reduced|pupils?|children|child|kids?|students?|cases?|"
    r"with|that|have|has|on|of|and|for|in|at|to|do|we|i|currently|now|right|all)\b"
)
_QUESTION = re.compile(
    r"^(?!(?:are|is) there\b|do (?:we|i|you) have\b|have (?:we|i) got\b)"
    r"(?:who|whom|whose|why|can|could|should|must|may|might|does|do|is|are|what|when|where|if|will|would|"
    r"how (?:long|often|much|do|does|should|can|must))\b")
# Where a school's name ends: at the next filter ("at Oak Primary for LAC", "… in year 6",
# "… on a CP plan", "… today").
_SCHOOL_CUT = re.compile(
    r"\s+(?:ending|that|which|who|with|where|whose|and|over|past|reviews?|due|this|next|in the|for\s*$|"
    r"for (?:a |an |the )?(?:year|y\d{1,2}|reception|pupils?|children|behaviou?r|mental|physical|semh|"
    r"reintegration|transition)|in (?:year|y\d{1,2}|reception)|year\s*\d{1,2}|y\d{1,2}|reception|today|"
    r"tomorrow|soon|within|overdue|late|on (?:a|an|the)|on cp|on child)\b.*$"
)
# A question put as a question ("what's overdue?", "who has a review overdue?") is a query when
# what follows the opener is one, wholly.
_QUESTION_OPENER = re.compile(
    r"^(?:what's|whats|what is|what are|which|who has|who have|who is|who's|are there any|is there any|"
    r"are any|is any|any)\s+")
# Negations the filters cannot express: "not active", "no end date", "without a review".
_NEGATION = re.compile(r"\b(?:not|no|without|isn't|aren't|haven't|hasn't|never)\b(?! yet\b| held\b)")
#: Words a filter is read from: a leftover word close to one of them is a typo, not filler.
_KEYWORDS: tuple[str, ...] = ("active", "awaiting", "closed", "ending", "overdue", "reviews", "review",
                              "looked", "maximum")


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS[word]


def _week_of(day: date) -> tuple[date, date]:
    """Monday to Sunday of the school week ``day`` is in: at a weekend, the coming one (asked
    on a Sunday evening, "ending this week" means the week ahead, not the one just gone)."""
    monday = day - timedelta(days=day.weekday()) if day.weekday() < 5 else day + timedelta(days=7 - day.weekday())
    return monday, monday + timedelta(days=6)


def _window(text: str, today: date) -> tuple[DateWindow | None, str]:
    """A window of dates the text names, and the text with those words taken out."""
    patterns: list[tuple[str, object]] = [
        (r"\btoday\b", lambda m: DateWindow(start=today, end=today, label="today")),
        (r"\btomorrow\b", lambda m: DateWindow(start=today + timedelta(days=1), end=today + timedelta(days=1),
                                                label="tomorrow")),
        (r"\bthis week\b", lambda m: DateWindow(start=_week_of(today)[0], end=_week_of(today)[1], label="this week")),
        (r"\bnext week\b", lambda m: DateWindow(start=_week_of(today)[0] + timedelta(days=7),
                                                 end=_week_of(today)[1] + timedelta(days=7), label="next week")),
        (r"\bthis month\b", lambda m: DateWindow(
            start=today,
            end=(today.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1),
            label="this month")),
        (rf"\b(?:in|within) (?:the )?(?:next )?{_NUMBER} (days?|weeks?|fortnights?)\b", None),
        (rf"\b(?:next|coming) {_NUMBER} (days?|weeks?)\b", None),
        (r"\b(?:in|within) (?:the )?(?:next )?(?:a )?fortnight\b",
         lambda m: DateWindow(start=today, end=today + timedelta(days=14), label="in the next fortnight")),
        (r"\bsoon\b", lambda m: DateWindow(start=today, end=today + timedelta(days=14), label="in the next 14 days")),
    ]
    for pattern, make in patterns:
        match = re.search(pattern, text)
        if match is None:
            continue
        if make is None:
            count, unit = _number(match.group(1)), match.group(2)
            days = count * (14 if unit.startswith("fortnight") else 7 if unit.startswith("week") else 1)
            window = DateWindow(start=today, end=today + timedelta(days=days),
                                label=f"in the next {count} {unit.rstrip('s')}{'s' if count != 1 else ''}")
        else:
            window = make(match)  # type: ignore[operator]
        return window, text[: match.start()] + " " + text[match.end():]
    return None, text


def _normalise(text: str) -> str:
    text = text.casefold().replace("’", "'").replace("‘", "'")
    text = re.sub(r"[?!.,;:]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def parse_timetable_query(text: str, *, today: date) -> TimetableQuery | QueryNotUnderstood:
    """Read a question such as "how many looked after at Oak Primary ending this week"."""
    original = text.strip()
    rest = _normalise(original)
    opener = _QUESTION_OPENER.match(rest)
    if opener is not None:
        asked, leftover = _read(original, rest[opener.end():], today)
        if isinstance(asked, TimetableQuery) and not leftover and _asks_for_plans(asked):
            return asked
    if _QUESTION.match(rest):
        # "Who needs to agree for a looked-after child?" is about the protocol, not a list of plans.
        return QueryNotUnderstood(text=original, suggestions=suggest_queries(original))
    return _read(original, rest, today)[0]


def _read(original: str, rest: str, today: date) -> tuple[TimetableQuery | QueryNotUnderstood, str]:
    """The query in ``rest`` (``original`` normalised, or part of it), and the words it left."""
    if _NEGATION.search(rest):
        # Read without its "not", "not active" would list the active plans: better to say so.
        return QueryNotUnderstood(text=original, suggestions=suggest_queries(original)), rest
    understood = False
    fields: dict[str, object] = {"today": today}

    for pattern in (r"^how many\b", r"^count\b", r"\bhow many\b", r"\bnumber of\b"):
        if re.search(pattern, rest):
            fields["count_only"] = True
            rest = re.sub(pattern, " ", rest)
            understood = True
            break

    for pattern, circumstance in _CIRCUMSTANCE_PATTERNS:
        match = re.search(pattern, rest)
        if match:
            fields["circumstance"] = circumstance
            rest = rest[: match.start()] + " " + rest[match.end():]
            understood = True
            break

    # A school: everything after "at" up to the next filter word, or "in/for <name> Primary".
    school = re.search(r"\bat\s+(?!(?:the\s+)?(?:moment|maximum|minute|present)\b)(.+)$", rest) or re.search(
        r"\b(?:in|for|from)\s+(.+?\b(?:school|primary|academy|infants?|juniors?|college|high|secondary|"
        r"federation)\b)", rest)
    if school is not None:
        name = _SCHOOL_CUT.sub("", school.group(1).strip()).strip(" -")
        if name:
            fields["school_name"] = _title(original, name)
            rest = rest[: school.start()] + " " + rest[school.start(1) + len(name):]
            understood = True

    over = re.search(rf"\b(?:over|more than|longer than|past|beyond|exceed\w*)\s+(?:the\s+)?"
                     rf"(?:{_NUMBER}[\s-]+weeks?|(?:policy\s+)?max(?:imum)?|limit|time limit|six[\s-]week limit)"
                     rf"(?:\s+max(?:imum)?)?", rest)
    if over:
        fields["over_maximum"] = True
        if over.group(1):
            fields["over_weeks"] = _number(over.group(1))
        rest = rest[: over.start()] + " " + rest[over.end():]
        understood = True

    reviews = re.search(r"\breviews?\b", rest)
    if reviews:
        overdue = re.search(r"\b(?:overdue|late|missed|behind|not held|outstanding|past due)\b", rest)
        if overdue:
            fields["review_overdue"] = True
            rest = re.sub(r"\b(?:overdue|late|missed|behind|not held|outstanding|past due)\b", " ", rest)
        else:
            window, rest = _window(rest, today)
            fields["review_due_within"] = window or DateWindow(
                start=_week_of(today)[0], end=_week_of(today)[1], label="this week")
        rest = re.sub(r"\breviews?\b|\bdue\b", " ", rest)
        understood = True
    elif re.search(r"\boverdue\b", rest):
        fields["review_overdue"] = True
        rest = re.sub(r"\boverdue\b", " ", rest)
        understood = True

    past_end = re.search(r"\b(?:still open )?(?:past|after|beyond|over(?:due)?)\s+(?:the |their |its )?"
                         r"end(?:\s+dates?)?\b|\bended but (?:are |is )?(?:still )?open\b", rest)
    if past_end:
        fields["past_end_date"] = True
        rest = rest[: past_end.start()] + " " + rest[past_end.end():]
        understood = True

    ending = re.search(r"\b(?:ending|end|ends|finishing|finish|finishes|expiring|due to end|coming to an end)\b",
                       rest)
    if ending:
        window, rest = _window(rest, today)
        fields["ending_within"] = window or DateWindow(
            start=_week_of(today)[0], end=_week_of(today)[1], label="this week")
        rest = re.sub(r"\b(?:ending|end|ends|finishing|finish|finishes|expiring|due to|coming to an)\b", " ", rest)
        understood = True

    for pattern, reason in _REASON_PATTERNS:
        match = re.search(pattern, rest)
        if match:
            fields["reason"] = reason
            rest = rest[: match.start()] + " " + rest[match.end():]
            understood = True
            break

    year = _YEAR_GROUP.search(rest)
    if year:
        number = year.group(1) or year.group(2)
        if year.group(3):
            fields["year_group"] = "R"
        elif number and 1 <= int(number) <= 11:
            fields["year_group"] = f"Y{int(number)}"
        if "year_group" in fields:
            rest = rest[: year.start()] + " " + rest[year.end():]
            understood = True

    for pattern, status in _STATUS_PATTERNS:
        match = re.search(pattern, rest)
        if match:
            fields["status"] = status
            rest = rest[: match.start()] + " " + rest[match.end():]
            understood = True
            break
    if fields.get("status") == "closed" and "ending_within" not in fields:
        # "closed this week" is about when it closed, not a filter we keep; the status is enough.
        _, rest = _window(rest, today)
    if re.fullmatch(r"\s*(?:plans?|timetables?|list|show(?: me)?(?: the)? plans?|my plans)\s*", rest):
        understood = True
        rest = ""

    leftover = _FILLER.sub(" ", rest).strip()
    if not understood or (leftover and len(leftover.split()) > 2) or _looks_mistyped(leftover):
        return QueryNotUnderstood(text=original, suggestions=suggest_queries(original)), leftover
    return TimetableQuery.model_validate(fields), leftover


def _asks_for_plans(query: TimetableQuery) -> bool:
    """Whether a query asked as a question is about plans: "what is an EHCP?" names only a
    circumstance, and is about the protocol; "what's overdue?" is about plans."""
    return bool(query.status != "open" or query.school_name or query.ending_within or query.review_due_within
                or query.review_overdue or query.over_maximum or query.past_end_date or query.count_only)


def _looks_mistyped(leftover: str) -> bool:
    """Whether a word left over is a filter's word mistyped ("overdu", "acitve"): ignored, it
    would widen the list without a word said."""
    return any(process.extractOne(word, _KEYWORDS, scorer=fuzz.ratio, score_cutoff=75) is not None
               for word in leftover.split() if len(word) >= 4)


def _title(original: str, lowered: str) -> str:
    """The school name as the person typed it (their capitals), else in title case."""
    index = original.casefold().find(lowered)
    if index >= 0:
        typed = original[index: index + len(lowered)]
        return typed if typed != typed.lower() else _capitalised(typed)
    return _capitalised(lowered)


def _capitalised(name: str) -> str:
    """Each word with a capital ("St Mary's", not str.title's "St Mary'S")."""
    return " ".join(word[:1].upper() + word[1:] for word in name.split())


def suggest_queries(text: str, limit: int = 4) -> tuple[str, ...]:
    """The example queries closest to what was typed (always some, even for nonsense)."""
    ranked = process.extract(_normalise(text), EXAMPLE_QUERIES, scorer=fuzz.WRatio, limit=len(EXAMPLE_QUERIES))
    chosen = [example for example, score, _ in ranked if score >= 50][:limit]
    for fallback in ("active", "ending this week", "reviews overdue", "how many looked after"):
        if len(chosen) >= limit:
            break
        if fallback not in chosen:
            chosen.append(fallback)
    return tuple(chosen)


def looks_like_timetable_query(text: str, *, today: date) -> bool:
    return isinstance(parse_timetable_query(text, today=today), TimetableQuery)
