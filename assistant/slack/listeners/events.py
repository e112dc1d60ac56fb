"""The App Home tab: the person's plans, reviews due and agreements outstanding."""

from __future__ import annotations

from slack_bolt import Ack, App, Args

from assistant.services.queries import home_summary
from assistant.slack import blocks as kit
from assistant.slack.runtime import guarded, runtime_of


def register(app: App) -> None:
    runtime = runtime_of(app)

    def acknowledge(ack: Ack) -> None:
        ack()

    @guarded("the Home tab", once_per_event=runtime.session_factory)
    def publish_home(args: Args) -> None:
        event = args.event or {}
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        slack_user_id = event["user"]
        user = runtime.identify(args.client, slack_user_id)
        summary = None
        if user is not None:
            summary = home_summary(runtime.session_factory, user, today=runtime.today(), base_url=runtime.base_url)
        args.client.views_publish(user_id=slack_user_id,
                                  view=kit.home_view(summary, base_url=runtime.base_url if user else ""))

    app.event("app_home_opened")(ack=acknowledge, lazy=[publish_home])
