"""The reminder sweeper delivers by Slack DM when the install has a bot token."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.reminders import configured_deliverers
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade


def test_a_bot_token_adds_slack_direct_messages_to_the_sweepers_channels(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'ptt.db'}"
    upgrade(url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("SLACK_API_BASE_URL", "http://127.0.0.1:9/api/")
    monkeypatch.delenv("SMTP_HOST", raising=False)
    deliverers = configured_deliverers(make_session_factory(make_engine(url)))
    assert "slack" in deliverers
    assert len(deliverers) >= 2  # and the console (or e-mail) for staff without Slack


def test_without_a_bot_token_reminders_are_not_sent_to_slack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    assert "slack" not in configured_deliverers(session_factory=None)
