"""The ``ptt`` command. Subcommands load lazily so that ``ptt check`` starts fast."""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute"; a module is imported only when its command runs.
COMMANDS: dict[str, str] = {
    "check": "assistant.commands.rules_commands:check",
    "policies": "assistant.commands.rules_commands:policies",
    "serve": "assistant.commands.admin:serve",
    "users": "assistant.commands.admin:users",
    "demo": "assistant.commands.admin:demo",
    "db": "assistant.commands.admin:db",
    "reminders": "assistant.reminders.cli:reminders",
    "slack": "assistant.commands.slack:slack",
    "closures": "assistant.commands.closures:closures",
    "audit": "assistant.commands.audit:audit",
}
HELP: dict[str, str] = {
    "check": "Decide whether a part-time timetable may proceed (contract v1 case in, decision out).",
    "policies": "List the policy packs with their documents and dates.",
    "serve": "Run the web app (chat, plans, JSON API, Slack events) with a reminder sweeper.",
    "users": "Add or update users and print API tokens.",
    "demo": "Load demo data: one LA per policy, schools, users for every role, plans at every stage.",
    "db": "Database migrations (ptt db upgrade).",
    "reminders": "Deliver due reminders (ptt reminders run), for cron or a systemd timer.",
    "slack": "Slack app: ptt slack socket runs Socket Mode.",
    "closures": "Term holidays and INSET days of an LA or a school (ptt closures add/list/remove).",
    "audit": "Read the audit log: who read or changed a plan, who signed in (ptt audit --plan 12).",
}


def register(name: str, target: str, summary: str) -> None:
    COMMANDS[name] = target
    HELP[name] = summary


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, HELP.get(name, "")) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup)
@click.version_option(package_name="ptt")
def main() -> None:
    """Part-Time Timetable Assistant: cited local protocols, guided plans and reminders."""
