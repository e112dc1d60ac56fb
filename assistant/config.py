"""Settings, read from the environment (and a ``.env`` file, if present).

Only ``DATABASE_URL`` is needed in production besides ``SECRET_KEY``; everything else has a
safe default. For local development the secret key is generated once and kept in a file next to
the SQLite database, so sessions survive a restart and every worker process signs cookies alike.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.db import DEFAULT_DATABASE_URL, is_sqlite, normalise_database_url, sqlite_file

SECRET_KEY_FILE_NAME = ".ptt-secret-key"


class Settings(BaseSettings):
    """Everything the web app, the Slack app and the reminder sweeper are configured by."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str | None = Field(default=None, repr=False)

    slack_signing_secret: str | None = Field(default=None, repr=False)
    slack_bot_token: str | None = Field(default=None, repr=False)
    slack_api_base_url: str = "https://slack.com/api/"
    slack_client_id: str | None = None
    slack_client_secret: str | None = Field(default=None, repr=False)
    # Comma-separated Slack workspace (team) or Enterprise Grid ids the app serves; empty: any.
    slack_allowed_team_ids: str = ""

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "ptt@localhost"

    ptt_base_url: str = "http://127.0.0.1:8000"

    # Single sign-on (OpenID Connect: Microsoft Entra ID, Google). Off unless configured.
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = Field(default=None, repr=False)
    oidc_metadata_url: str | None = None
    oidc_provider_name: str = "your organisation's account"
    oidc_scopes: str = "openid email profile"

    cookie_secure: bool = True
    ptt_sweeper: bool | None = None
    # Failed password sign-ins allowed per client address, and per account from anywhere
    # (counted in the database, so across every worker).
    login_rate_limit: str = "10 per minute"
    login_account_rate_limit: str = "30 per hour"
    # How many reverse proxies (TLS terminator, load balancer) stand in front of the app. Their
    # X-Forwarded-For/-Proto/-Host are trusted only when this is set, so that the login rate
    # limit and audit see the real client, and links are built with https.
    trusted_proxies: int = 0

    @field_validator("database_url")
    @classmethod
    def _normalise(cls, value: str) -> str:
        return normalise_database_url(value or DEFAULT_DATABASE_URL)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.database_url)

    @property
    def sweeper_enabled(self) -> bool:
        """The background reminder sweeper runs in-process by default on SQLite only;
        with PostgreSQL, run ``ptt reminders run`` from cron or set ``PTT_SWEEPER=1``."""
        return self.is_sqlite if self.ptt_sweeper is None else self.ptt_sweeper

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_client_id and self.oidc_metadata_url)

    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None for PostgreSQL or an in-memory database."""
        return sqlite_file(self.database_url) if self.is_sqlite else None

    def resolved_secret_key(self) -> str:
        """``SECRET_KEY``, else a key generated once and kept next to the SQLite database
        (or in the working directory), readable by its owner only."""
        if self.secret_key:
            return self.secret_key
        database = self.sqlite_path()
        directory = database.resolve().parent if database else Path.cwd()
        path = directory / SECRET_KEY_FILE_NAME
        try:
            existing = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            existing = ""
        if existing:
            return existing
        key = secrets.token_urlsafe(48)
        directory.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker process is writing it right now
            for _ in range(100):
                written = path.read_text(encoding="utf-8").strip()
                if written:
                    return written
                time.sleep(0.01)
            raise
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key)
        return key


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with ``overrides`` (field names) on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
