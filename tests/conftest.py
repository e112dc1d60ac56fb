"""Shared test helpers: where the policy documents and the example cases live."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT.parent / "shared"
POLICY_DOCUMENTS = SHARED / "policies"
EXAMPLES = SHARED / "examples"


@pytest.fixture(scope="session")
def policy_texts() -> dict[str, str]:
    if not POLICY_DOCUMENTS.is_dir():
        pytest.fail(f"the policy documents are missing: {POLICY_DOCUMENTS}")
    return {path.stem: path.read_text(encoding="utf-8") for path in POLICY_DOCUMENTS.glob("*.txt")}
