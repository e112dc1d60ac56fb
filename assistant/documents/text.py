"""Formatting shared by every generated document."""

from __future__ import annotations

import unicodedata
from datetime import date

# Typography that schools paste in from word processors, mapped to what the PDF core fonts
# (Latin-1) can show. Anything else outside Latin-1 is decomposed (Ł -> L, ő -> o) or becomes "?".
_TRANSLITERATIONS: dict[str, str] = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u2026": "...", "\u2022": "-", "\u25cf": "-", "\u25aa": "-", "\u00b7": "-",
    "\u2192": "->", "\u2190": "<-", "\u2264": "<=", "\u2265": ">=", "\u2260": "!=",
    "\u20ac": "EUR", "\u2122": "(TM)", "\u2713": "v", "\u2714": "v", "\u2717": "x", "\u2718": "x",
    "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2009": " ", "\u202f": " ", "\u200b": "",
    "\ufeff": "", "\u0141": "L", "\u0142": "l", "\u0110": "D", "\u0111": "d", "\u0131": "i",
    "\u0152": "OE", "\u0153": "oe", "\u00df": "ss",
}


def to_latin1(text: str) -> str:
    """``text`` with every character the PDF core fonts can show (Latin-1)."""
    out: list[str] = []
    for char in text:
        if char in _TRANSLITERATIONS:
            out.append(_TRANSLITERATIONS[char])
            continue
        if ord(char) < 256:
            out.append(char)
            continue
        decomposed = unicodedata.normalize("NFKD", char)
        kept = "".join(c for c in decomposed if ord(c) < 256 and not unicodedata.combining(c))
        out.append(kept or "?")
    return "".join(out)


def fmt_date(day: date | None, blank: str = "") -> str:
    """``12/01/2026``, the DD/MM/YYYY the LA forms ask for."""
    return day.strftime("%d/%m/%Y") if day else blank


def fmt_long_date(day: date | None, blank: str = "") -> str:
    """``Monday 12 January 2026``."""
    return f"{day.strftime('%A')} {day.day} {day.strftime('%B %Y')}" if day else blank


def fmt_hours(hours: float) -> str:
    """``12.5 h``, ``32.5 h``, ``2.75 h``."""
    return f"{round(hours, 2):g} h"


def yes_no(value: bool | None) -> str:
    if value is None:
        return "Yes / No"
    return "Yes" if value else "No"
