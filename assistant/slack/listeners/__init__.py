"""The Slack listeners, one module per area, each with ``register(app)`` (as in Slack's Bolt
starter template). Every listener acks at once and does the work in a lazy listener."""

from __future__ import annotations

from slack_bolt import App

from assistant.slack.listeners import actions, commands, events, messages


def register_listeners(app: App) -> None:
    commands.register(app)
    messages.register(app)
    actions.register(app)
    events.register(app)
