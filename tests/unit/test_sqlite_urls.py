"""Which file an SQLite database URL names: one answer for the settings, the engine and the
WAL checkpointer."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.db import sqlite_file


@pytest.mark.parametrize(("url", "expected"), [
    ("sqlite:///ptt.db", Path("ptt.db")),
    ("sqlite:////var/lib/ptt/ptt.db", Path("/var/lib/ptt/ptt.db")),
    ("sqlite:///file:data/p%20t.db?mode=rwc&uri=true", Path("data/p t.db")),
    ("sqlite://", None),
    ("sqlite:///:memory:", None),
    ("sqlite:///file::memory:?cache=shared&uri=true", None),
    ("sqlite:///file:shared?mode=memory&cache=shared&uri=true", None),
    ("postgresql+psycopg://postgres@127.0.0.1/test", None),
])
def test_the_file_an_sqlite_url_names(url: str, expected: Path | None) -> None:
    assert sqlite_file(url) == expected


def test_the_settings_find_the_database_file_of_a_file_uri(tmp_path: Path) -> None:
    from assistant.config import Settings

    settings = Settings(database_url=f"sqlite:///file:{tmp_path}/ptt.db?mode=rwc&uri=true")
    assert settings.sqlite_path() == tmp_path / "ptt.db"
