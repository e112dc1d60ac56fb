"""``/ptt``: check, ask, plans, link, help — and any EWO query typed after it.

Slash commands may come from a channel, so everything is answered through the command's
response URL as an *ephemeral* message (only the person who typed it sees it); a check moves to
the person's DM with the app.
"""

from __future__ import annotations

from slack_bolt import Ack, App, Args

from assistant.slack import blocks as kit
from assistant.slack import handlers
from assistant.slack.runtime import guarded, is_direct_message_channel, runtime_of

COMMAND = "/ptt"


def register(app: App) -> None:
    runtime = runtime_of(app)

    def acknowledge_ptt(ack: Ack, command: dict) -> None:
        """Within 3 seconds and without touching the database: help at once, else a holding line."""
        intent, _ = handlers.read_intent(command.get("text") or "")
        if intent == "help":
            ack(text=kit.HELP_TEXT, blocks=[kit.section(kit.HELP_TEXT)], response_type="ephemeral")
        elif intent == "check":
            ack(text="Starting a check in our DM…", response_type="ephemeral")
        else:
            ack()

    @guarded("the /ptt command")
    def run_ptt(args: Args) -> None:
        command = args.command or {}
        intent, argument = handlers.read_intent(command.get("text") or "")
        if intent == "help":
            return
        slack_user_id = command.get("user_id") or ""

        def say(said: handlers.Said | None) -> None:
            if said is not None:
                args.respond(text=said.text, blocks=said.blocks, response_type="ephemeral")

        user = handlers.caller(runtime, args.client, slack_user_id, intent)
        if isinstance(user, handlers.Said):
            say(user)
            return
        say(handlers.answer(runtime, args.client, user, slack_user_id, intent, argument,
                            from_dm=is_direct_message_channel(command.get("channel_id"))))

    app.command(COMMAND)(ack=acknowledge_ptt, lazy=[run_ptt])
