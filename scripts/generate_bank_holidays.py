"""Regenerate rules/data/bank_holidays_england.json from the ``holidays`` package.

The rules core reads this file instead of importing ``holidays`` on every ``ptt check`` (importing
it loads every country and costs ~150 ms); a unit test keeps the file equal to the package's
answer, and years outside the file fall back to the package itself.
"""

from __future__ import annotations

import json
from pathlib import Path

from holidays.countries.united_kingdom import UnitedKingdom

FIRST_YEAR, LAST_YEAR = 2000, 2060
TARGET = Path(__file__).resolve().parents[1] / "rules" / "data" / "bank_holidays_england.json"


def bank_holidays_by_year() -> dict[str, list[str]]:
    return {
        str(year): sorted(day.isoformat() for day in UnitedKingdom(subdiv="ENG", years=year))
        for year in range(FIRST_YEAR, LAST_YEAR + 1)
    }


if __name__ == "__main__":
    TARGET.write_text(json.dumps(bank_holidays_by_year(), indent=0) + "\n", encoding="utf-8")
    print(f"wrote {TARGET}")
