"""Comparing a citation's quote with its document, as contract v1 says: after folding
whitespace, case, curly quotes and ``*`` (the documents' bold markers)."""

from __future__ import annotations

import re

_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "′": "'", "“": '"', "”": '"', "„": '"', "*": None})
_SPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    return _SPACE.sub(" ", text.translate(_QUOTES)).strip().casefold()


def quote_is_in(quote: str, document_text: str) -> bool:
    return fold(quote) in fold(document_text)
