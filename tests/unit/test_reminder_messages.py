"""What reminders say: the words the DSL, the lead or the EWO reads."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from assistant.reminders.messages import PlanFacts, render

FACTS = PlanFacts(plan_id=7, pupil_label="Jo S.", school_name="Oak Primary", policy_title="Derbyshire",
                  end_date=date(2026, 7, 3), latest_end_date=date(2026, 7, 10),
                  la_notification_advice={"closure": "Send form 3 to the Inclusion team."})


def test_the_las_closure_notice_says_the_day_the_plan_closed() -> None:
    facts = replace(FACTS, closed_on=date(2026, 6, 19))

    _title, body = render(kind="la_notification_due", subject="closure", escalation_level=0, facts=facts)

    assert "It closed on Friday 19 June 2026. Send form 3 to the Inclusion team." in body


def test_the_las_first_notice_says_nothing_of_a_closure() -> None:
    _title, body = render(kind="la_notification_due", subject="first", escalation_level=0,
                          facts=replace(FACTS, closed_on=date(2026, 6, 19)))

    assert "closed" not in body
