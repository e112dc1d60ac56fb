"""Turning a pydantic ValidationError on a Case into one line naming the field and the problem."""

from __future__ import annotations

from pydantic import ValidationError


def _path(location: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in location if p != "[key]"]
    return ".".join(parts) or "case"


def describe(error: ValidationError) -> str:
    """The first problem, e.g. ``plan.end_date: not a date: '31/31/2026'``."""
    first = error.errors(include_url=False)[0]
    kind = first["type"]
    value = first.get("input")
    location = tuple(first["loc"])
    if kind in ("date_from_datetime_parsing", "date_parsing", "date_type", "date_from_datetime_inexact"):
        problem = f"not a date: {value!r}"
    elif kind == "literal_error":
        expected = first.get("ctx", {}).get("expected", "")
        problem = f"not one of {expected}: {value!r}"
    elif kind in ("bool_parsing", "bool_type"):
        problem = f"not true or false: {value!r}"
    elif kind in ("float_parsing", "float_type"):
        problem = f"not a number: {value!r}"
    elif kind == "missing":
        problem = "required"
    elif kind == "extra_forbidden":
        problem = "unknown field"
    elif kind == "too_short" and location and location[0] == "reasons":
        problem = "at least one reason is required"
    elif kind in ("model_type", "dict_type", "model_attributes_type"):
        problem = f"must be an object, not {value!r}"
    elif kind in ("tuple_type", "list_type"):
        problem = f"must be a list, not {value!r}"
    else:
        problem = first["msg"].removeprefix("Value error, ")
    return f"{_path(location)}: {problem}"
