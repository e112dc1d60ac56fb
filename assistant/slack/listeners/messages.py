"""Direct messages to the app: answers in a check's thread; otherwise a command ("start a check",
"help", "link"), an EWO query ("active at Oak Primary") or a question about the protocol.

Only DMs are read (``message.im``); a mention in a channel gets a pointer to the DM and no data.
"""

from __future__ import annotations

from slack_bolt import Ack, App, Args

from assistant.slack import handlers
from assistant.slack.checks import answer_check, check_for_thread
from assistant.slack.runtime import guarded, is_direct_message_channel, runtime_of

IGNORED_SUBTYPES = {"message_changed", "message_deleted", "bot_message", "channel_join", "channel_leave",
                    "thread_broadcast", "message_replied"}
MENTION_REPLY = ("I don't discuss pupils in channels. Send me a direct message, or use `/ptt` "
                 "(only you will see the answer).")


def register(app: App) -> None:
    runtime = runtime_of(app)

    def acknowledge(ack: Ack) -> None:
        ack()

    @guarded("your message", once_per_event=runtime.session_factory)
    def handle_direct_message(args: Args) -> None:
        event = args.event or {}
        channel = event.get("channel")
        if (event.get("channel_type") != "im" or not is_direct_message_channel(channel) or event.get("bot_id")
                or event.get("subtype") in IGNORED_SUBTYPES or not event.get("user")):
            return
        slack_user_id = event["user"]
        text = (event.get("text") or "").strip()

        def say(said: handlers.Said | None) -> None:
            if said is not None:
                args.client.chat_postMessage(channel=channel, text=said.text, blocks=said.blocks,
                                             thread_ts=event.get("thread_ts"))

        intent, argument = handlers.read_intent(text)
        user = handlers.caller(runtime, args.client, slack_user_id, intent)
        if isinstance(user, handlers.Said):
            say(user)
            return
        thread_ts = event.get("thread_ts")
        if thread_ts:
            thread = check_for_thread(runtime, channel, thread_ts)
            if thread is not None:
                outcome = answer_check(runtime, args.client, user, thread.conversation_id, text)
                if outcome == "unknown":
                    say(handlers.Said("I can't find that check."))
                return
        if intent == "help":
            say(handlers.help_said())
        else:
            say(handlers.answer(runtime, args.client, user, slack_user_id, intent, argument, from_dm=True))

    @guarded("your mention", once_per_event=runtime.session_factory)
    def answer_mention(args: Args) -> None:
        event = args.event or {}
        if event.get("user") and event.get("channel"):
            args.client.chat_postEphemeral(channel=event["channel"], user=event["user"], text=MENTION_REPLY)

    app.event("message")(ack=acknowledge, lazy=[handle_direct_message])
    app.event("app_mention")(ack=acknowledge, lazy=[answer_mention])
