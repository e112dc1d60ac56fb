"""The Slack app for DSLs, school staff and EWOs: checks in DMs, cited policy answers, plan
queries, the App Home tab and reminder DMs with buttons. Thin shell over the services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slack_bolt import App


def build_bolt_app(settings: Any, session_factory: Any, **options: Any) -> App:
    """See :func:`assistant.slack.app.build_bolt_app` (imported lazily: Bolt is not needed to
    import this package)."""
    from assistant.slack.app import build_bolt_app as build

    return build(settings, session_factory, **options)


__all__ = ["build_bolt_app"]
