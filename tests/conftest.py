"""Shared test helpers: where the policy documents and the example cases live; waiting for
what a background thread does."""

from __future__ import annotations

import time
from collections.abc import Callable
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


def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Whether ``condition`` holds within ``seconds`` (asked every 10 ms): for what a background
    thread does in its own time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()
