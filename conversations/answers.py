"""Reading answers the way people type them (and the way machine clients send them).

Every parser takes the raw text and returns a plain JSON-ready value (dates as ISO strings) or
raises :class:`AnswerError` whose message says what is wrong in words a member of school staff
understands. Nothing here reads the clock: relative dates ("today", "next Monday") are counted
from the ``today`` the caller passes in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from dateutil import parser as _dateutil

from conversations.timetable import parse_hours as _parse_hours


class AnswerError(ValueError):
    """An answer that cannot be read; the message says what is wrong and how to answer."""


# --------------------------------------------------------------------------- plain words
_SKIP_WORDS = frozenset({
    "skip", "pass", "don't know", "dont know", "do not know", "not known", "unknown", "dunno",
    "not sure", "idk", "n/a", "na", "-", "?", "",
})
_NONE_WORDS = frozenset({
    "none", "no end date", "no end", "null", "no date", "not set", "no closures", "nothing", "nil",
})
_YES = frozenset({
    "yes", "y", "yeah", "yep", "yup", "yea", "ya", "aye", "true", "correct", "right", "ok", "okay",
    "sure", "certainly", "definitely", "done", "affirmative", "they are", "it is", "yes please",
})
_NO = frozenset({
    "no", "n", "nope", "nah", "false", "not", "negative", "no thanks", "not done", "not yet",
    "they are not", "it is not", "isn't", "not really", "none",
})


def normalise(text: str) -> str:
    """Lower case, curly quotes straightened, whitespace folded, trailing punctuation dropped."""
    cleaned = str(text).replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    cleaned = " ".join(cleaned.strip().lower().split())
    return cleaned.rstrip(".!")


def words(text: str) -> str:
    """Only the words: ``"Social, emotional and mental-health (SEMH)"`` → ``social emotional mental health semh``."""
    return " ".join(w for w in re.findall(r"[a-z0-9]+", str(text).lower().replace("_", " ")) if w != "and")


def is_skip(text: str) -> bool:
    return normalise(text) in _SKIP_WORDS


def is_none(text: str) -> bool:
    return normalise(text) in _NONE_WORDS


# --------------------------------------------------------------------------- JSON literals
_JSON_START = re.compile(r'^\s*(?:[\[{"]|true\s*$|false\s*$|null\s*$)')

_MISSING = object()


def json_literal(text: str) -> Any:
    """The value of ``text`` when it is a JSON literal a machine client would send (``true``,
    ``"agreed"``, ``["mental_health"]``, ``[{"from": ..., "to": ...}]``, ``null``), else a sentinel.

    Bare numbers are left to the ordinary parsers, which read them the same way.
    """
    if not _JSON_START.match(text):
        return _MISSING
    try:
        return json.loads(text)
    except ValueError:
        return _MISSING


def is_json_missing(value: Any) -> bool:
    return value is _MISSING


# --------------------------------------------------------------------------- yes / no
def parse_yes_no(text: str) -> bool:
    """``yes``/``y``/``yeah``/``yep``/``true`` and ``no``/``n``/``nope``/``false``, also with more words
    after them ("yes, since 2023")."""
    value = json_literal(text)
    if isinstance(value, bool):
        return value
    cleaned = normalise(text)
    if cleaned in _YES:
        return True
    if cleaned in _NO:
        return False
    first = re.split(r"[\s,;:!.]+", cleaned, maxsplit=1)[0]
    if first in _YES and first not in {"ok", "okay", "right", "sure"}:
        return True
    if first in _NO and first != "none":
        return False
    raise AnswerError(f"I couldn't tell whether {text.strip()!r} means yes or no. Please answer yes or no.")


# --------------------------------------------------------------------------- dates
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_ABBREVIATIONS = {name[:3]: index for index, name in enumerate(_WEEKDAYS)}
_WEEKDAY_ABBREVIATIONS.update({"tues": 1, "weds": 2, "thur": 3, "thurs": 3})
_RELATIVE = re.compile(r"^(?:(next|this|coming|last)\s+)?([a-z]+)$")
_IN_N = re.compile(r"^in\s+(\d+|a|one|two|three|four|five|six)\s+(day|days|week|weeks)(?:'? time)?$")
_NUMBER_WORDS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_ISO = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_HAS_YEAR = re.compile(r"\b\d{4}\b|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}\b")
_ORDINAL = re.compile(r"(\d)(st|nd|rd|th)\b")
_EXAMPLE_DATES = "e.g. 12/01/2026, 2026-01-12, 12 Jan or next Monday"


def _weekday_index(word: str) -> int | None:
    if word in _WEEKDAYS:
        return _WEEKDAYS.index(word)
    return _WEEKDAY_ABBREVIATIONS.get(word)


def _relative_date(cleaned: str, today: date) -> date | None:
    if cleaned == "today":
        return today
    if cleaned == "tomorrow":
        return today + timedelta(days=1)
    if cleaned == "yesterday":
        return today - timedelta(days=1)
    if cleaned == "next week":
        return today + timedelta(days=7 - today.weekday())
    match = _IN_N.match(cleaned)
    if match:
        count = _NUMBER_WORDS.get(match.group(1)) or int(match.group(1))
        return today + timedelta(days=count * (7 if match.group(2).startswith("week") else 1))
    match = _RELATIVE.match(cleaned)
    if match:
        weekday = _weekday_index(match.group(2))
        if weekday is None:
            return None
        qualifier = match.group(1)
        ahead = (weekday - today.weekday()) % 7
        if qualifier == "last":
            back = (today.weekday() - weekday) % 7 or 7
            return today - timedelta(days=back)
        if qualifier == "next" and ahead == 0:
            ahead = 7
        return today + timedelta(days=ahead)
    return None


def parse_date(text: str, today: date, *, prefer_future: bool = False) -> date:
    """A UK date: ``12/01/2026``, ``12-01-2026``, ``2026-01-12``, ``12 Jan``, ``12 January 2026``,
    ``12th Jan``, ``today``, ``tomorrow``, ``next Monday``, ``in 2 weeks``. Day first, always.

    A date without a year takes ``today``'s year; with ``prefer_future`` (plan dates, closures)
    one that would then be more than three months past is taken to mean next year.
    """
    raw = str(text).strip()
    value = json_literal(raw)
    if isinstance(value, str):
        raw = value.strip()
    elif not is_json_missing(value):
        raise AnswerError(f"{text.strip()!r} is not a date ({_EXAMPLE_DATES}).")
    cleaned = normalise(raw).rstrip(",")
    if not cleaned:
        raise AnswerError(f"No date given ({_EXAMPLE_DATES}).")
    relative = _relative_date(cleaned, today)
    if relative is not None:
        return relative
    if _ISO.match(cleaned):
        try:
            return date.fromisoformat("-".join(part.zfill(2) for part in cleaned.split("-")))
        except ValueError:
            raise AnswerError(f"{raw!r} is not a real date ({_EXAMPLE_DATES}).") from None
    if re.fullmatch(r"\d+", cleaned):
        raise AnswerError(f"{raw!r} is not a date: give a day, a month and ideally a year ({_EXAMPLE_DATES}).")
    candidate = _ORDINAL.sub(r"\1", cleaned).replace(" of ", " ")
    candidate = re.sub(r"^(?:mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun)[a-z]*,?\s+", "", candidate)
    try:
        first = _dateutil.parse(candidate, dayfirst=True, default=datetime(today.year, 1, 1))
        second = _dateutil.parse(candidate, dayfirst=True, default=datetime(today.year + 4, 2, 28))
    except (ValueError, OverflowError, _dateutil.ParserError):
        raise AnswerError(f"{raw!r} is not a date I can read ({_EXAMPLE_DATES}).") from None
    year_given = first.year == second.year
    if year_given != bool(_HAS_YEAR.search(candidate)):
        raise AnswerError(f"I couldn't tell which date {raw!r} means ({_EXAMPLE_DATES}).")
    if first.month != second.month:
        raise AnswerError(f"{raw!r} has no month: give a day, a month and ideally a year ({_EXAMPLE_DATES}).")
    if first.day != second.day:
        raise AnswerError(f"{raw!r} has no day of the month ({_EXAMPLE_DATES}).")
    result = first.date()
    if prefer_future and not year_given and result < today - timedelta(days=92):
        result = result.replace(year=result.year + 1)
    return result


def parse_optional_date(text: str, today: date, *, prefer_future: bool = False) -> date | None:
    """A date, or None for ``skip``/``none``/``null``/``no end date``."""
    if is_skip(text) or is_none(text) or json_literal(text) is None:
        return None
    return parse_date(text, today, prefer_future=prefer_future)


# --------------------------------------------------------------------------- closures
_RANGE_SEPARATORS = re.compile(r"\s+(?:to|until|till|through|thru)\s+|\s*[–—]\s*|\s+-\s+|-")
_ITEM_SEPARATORS = re.compile(r"\s*(?:[;,\n]|\band\b|&)\s*")


_DAY_RANGE = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?\s*(?:-|–|—|to)\s*(\d{1,2}(?:st|nd|rd|th)?\s+[a-z].*)$")


def _closure_item(item: str, today: date) -> tuple[date, date]:
    days = _DAY_RANGE.match(normalise(item))
    if days:  # "16-20 Feb": the first day borrows the month and year of the last
        last = parse_date(days.group(2), today, prefer_future=True)
        try:
            first = last.replace(day=int(days.group(1)))
        except ValueError:
            raise AnswerError(f"{item!r} has a day that is not in that month.") from None
        if last < first:
            raise AnswerError(f"In {item!r} the last day is before the first.")
        return first, last
    try:
        day = parse_date(item, today, prefer_future=True)
        return day, day
    except AnswerError:
        pass
    for match in _RANGE_SEPARATORS.finditer(item):
        left, right = item[: match.start()].strip(), item[match.end():].strip()
        if not left or not right:
            continue
        try:
            last = parse_date(right, today, prefer_future=True)
            first = parse_date(left, today, prefer_future=True)
        except AnswerError:
            continue
        if last < first:
            raise AnswerError(f"In {item!r} the last day {last:%d/%m/%Y} is before the first {first:%d/%m/%Y}.")
        return first, last
    raise AnswerError(
        f"I couldn't read {item!r} as a date or a range of dates "
        "(e.g. 16/02/2026-20/02/2026, or 2026-04-03 for one day)."
    )


def _closure_from_json(entry: Any) -> tuple[date, date]:
    if isinstance(entry, Mapping):
        first, last = entry.get("from"), entry.get("to", entry.get("from"))
    elif isinstance(entry, Sequence) and not isinstance(entry, str) and len(entry) == 2:
        first, last = entry
    elif isinstance(entry, str):
        first = last = entry
    else:
        raise AnswerError(f'{json.dumps(entry)} is not a closure: give {{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}}.')
    try:
        start, end = date.fromisoformat(str(first)), date.fromisoformat(str(last))
    except ValueError:
        raise AnswerError(f"{json.dumps(entry)} has a date that is not YYYY-MM-DD.") from None
    if end < start:
        raise AnswerError(f"In {json.dumps(entry)} 'to' is before 'from'.")
    return start, end


def parse_closures(text: str, today: date) -> list[dict[str, str]]:
    """Extra days the school is closed, as ``[{"from": ISO, "to": ISO}]``: ``none``, or dates and
    ranges separated by commas, semicolons, new lines or "and"
    (``16/02/2026-20/02/2026, 2026-04-03``, ``16 Feb to 20 Feb``), or the JSON the contract uses."""
    value = json_literal(text)
    if value is None:
        return []
    if isinstance(value, list):
        pairs = [_closure_from_json(entry) for entry in value]
    elif isinstance(value, Mapping):
        pairs = [_closure_from_json(value)]
    else:
        if is_none(text) or is_skip(text) or normalise(text) in {"no", "n", "nope"}:
            return []
        items = [item for item in _ITEM_SEPARATORS.split(str(text).strip()) if item.strip()]
        if not items:
            return []
        pairs = [_closure_item(item.strip(), today) for item in items]
    return [{"from": first.isoformat(), "to": last.isoformat()} for first, last in pairs]


# --------------------------------------------------------------------------- hours
def parse_hours(text: str, *, maximum: float = 40.0) -> float:
    """Hours a week: ``12.5``, ``12h30``, ``12:30``, ``12 hours 30 minutes``."""
    value = json_literal(text)
    if isinstance(value, int | float) and not isinstance(value, bool):
        hours = float(value)
    elif isinstance(value, str):
        return parse_hours(value, maximum=maximum)
    else:
        try:
            hours = _parse_hours(text)
        except ValueError as error:
            raise AnswerError(str(error)[:1].upper() + str(error)[1:] + ".") from None
    if hours < 0:
        raise AnswerError("Hours cannot be negative.")
    if hours > maximum:
        raise AnswerError(f"{hours:g} hours a week is more than {maximum:g}; give the hours in school each week.")
    return round(hours, 4)


# --------------------------------------------------------------------------- choices
@dataclass(frozen=True)
class Option:
    """One choice: its contract value, its label, and other words people use for it."""

    value: str
    label: str
    aliases: tuple[str, ...] = ()
    keys: frozenset[str] = field(default=frozenset(), compare=False)

    def __post_init__(self) -> None:
        label_words = words(self.label)
        without_brackets = words(re.sub(r"\([^)]*\)", "", self.label))
        keys = {words(self.value), label_words, without_brackets, *(words(a) for a in self.aliases)}
        object.__setattr__(self, "keys", frozenset(k for k in keys if k))


def _choices_text(options: Sequence[Option]) -> str:
    return ", ".join(f"{n}. {o.label}" for n, o in enumerate(options, 1))


def parse_choice(text: str, options: Sequence[Option], *, numbered: bool = True) -> str:
    """One option by its value, its label (any case), a known alias or its 1-based number."""
    value = json_literal(text)
    if isinstance(value, str):
        text = value
    elif value is not _MISSING:
        raise AnswerError(f"{text.strip()!r} is not one of: {_choices_text(options)}.")
    found = _match_option(text, options, numbered=numbered)
    if found is None:
        raise AnswerError(f"{text.strip()!r} is not one of the choices. Reply with one of: {_choices_text(options)}.")
    return found


def _match_option(text: str, options: Sequence[Option], *, numbered: bool) -> str | None:
    cleaned = normalise(text)
    if numbered and re.fullmatch(r"\d{1,2}", cleaned):
        index = int(cleaned)
        return options[index - 1].value if 1 <= index <= len(options) else None
    for option in options:
        if cleaned == option.value.lower():
            return option.value
    key = words(cleaned)
    if not key:
        return None
    for option in options:
        if key in option.keys:
            return option.value
    if len(key) >= 4:  # words from inside one label only: "concerns not yet mitigated"
        padded = f" {key} "
        inside = {o.value for o in options for k in o.keys if padded in f" {k} "}
        if len(inside) == 1:
            return inside.pop()
    return None


def parse_multi_choice(text: str, options: Sequence[Option]) -> list[str]:
    """Several options separated by commas, semicolons, "and", "&" or "+": values, labels (even
    labels that contain commas or "and") or numbers. Order kept, repeats dropped."""
    value = json_literal(text)
    if isinstance(value, list):
        picked = []
        for entry in value:
            if not isinstance(entry, str):
                raise AnswerError(f"{json.dumps(entry)} is not one of: {_choices_text(options)}.")
            picked.append(parse_choice(entry, options))
        if not picked:
            raise AnswerError(f"Give at least one: {_choices_text(options)}.")
        return list(dict.fromkeys(picked))
    if isinstance(value, str):
        text = value
    elif value is not _MISSING:
        raise AnswerError(f"{text.strip()!r} is not a list of choices: {_choices_text(options)}.")
    whole = _match_option(text, options, numbered=True)
    if whole is not None:
        return [whole]
    pieces = [p for p in re.split(r"\s*(?:[,;/+&\n]|\band\b)\s*", normalise(text)) if p.strip()]
    if not pieces:
        raise AnswerError(f"Give at least one: {_choices_text(options)}.")
    result = _segment(pieces, options)
    if result is None:
        unknown = [p for p in pieces if _match_option(p, options, numbered=True) is None]
        named = ", ".join(repr(p) for p in unknown) or repr(text.strip())
        raise AnswerError(f"I didn't recognise {named}. Choose from: {_choices_text(options)}.")
    return list(dict.fromkeys(result))


def _segment(pieces: list[str], options: Sequence[Option]) -> list[str] | None:
    """Split ``pieces`` into runs that each name one option (a label may span several pieces)."""
    best: list[list[str] | None] = [None] * (len(pieces) + 1)
    best[0] = []
    for end in range(1, len(pieces) + 1):
        for start in range(end - 1, -1, -1):
            if best[start] is None:
                continue
            joined = " ".join(pieces[start:end])
            match = _match_option(joined, options, numbered=end - start == 1)
            if match is not None:
                best[end] = [*best[start], match]
                break
    return best[len(pieces)]


# --------------------------------------------------------------------------- year groups
_YEAR = re.compile(r"^(?:y|yr|year|year group)?\s*(\d{1,2})$")


def parse_year_group(text: str) -> str | None:
    """``Y5``, ``year 5``, ``5``, ``R``, ``reception``, ``FS2``; None for skip / don't know."""
    value = json_literal(text)
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif value is not _MISSING:
        raise AnswerError(f"{text.strip()!r} is not a year group: reply R (Reception) or Y1 to Y11, or 'skip'.")
    if is_skip(text):
        return None
    cleaned = normalise(text).replace("-", " ")
    if cleaned in {"r", "rec", "reception", "fs2", "f2", "foundation", "foundation stage 2", "eyfs", "yr r", "year r"}:
        return "R"
    match = _YEAR.match(cleaned)
    if match:
        number = int(match.group(1))
        if 1 <= number <= 11:
            return f"Y{number}"
        if number == 0:
            return "R"
    raise AnswerError(
        f"{text.strip()!r} is not a year group I know: reply R (Reception) or Y1 to Y11 "
        "(or 'skip' and I'll ask the date of birth)."
    )


def parse_text(text: str, *, minimum: int = 2) -> str:
    """Free text: trimmed; it must say something."""
    value = json_literal(text)
    if isinstance(value, str):
        text = value
    cleaned = str(text).strip()
    if len(cleaned) < minimum:
        raise AnswerError("Please write a few words.")
    return cleaned
