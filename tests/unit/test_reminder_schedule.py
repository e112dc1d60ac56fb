"""rules.reminder_schedule: which reminders a plan needs, and when (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.calendar import SchoolCalendar
from rules.reminder_schedule import (
    LaNotificationDue,
    due_at_utc,
    next_escalation_role,
    plan_reminders,
)

# Spring 2026 half-term (16–20 February) and Easter holidays (30 March – 10 April).
CALENDAR = SchoolCalendar([(date(2026, 2, 16), date(2026, 2, 20)),
                           (date(2026, 3, 30), date(2026, 4, 10))])


def _schedule(**overrides: object) -> dict[tuple[str, str], date]:
    args: dict[str, object] = dict(
        start_date=date(2026, 1, 12), end_date=date(2026, 2, 13),
        review_dates=[date(2026, 1, 23), date(2026, 2, 6)], latest_end_date=date(2026, 2, 27),
        calendar=CALENDAR,
    )
    args.update(overrides)
    return {(r.kind, r.subject): r.due_on for r in plan_reminders(7, **args)}  # type: ignore[arg-type]


def test_each_review_is_reminded_two_school_days_before_it() -> None:
    found = _schedule()
    assert found[("review_due", "2026-01-23")] == date(2026, 1, 21)
    assert found[("review_due", "2026-02-06")] == date(2026, 2, 4)


def test_the_end_date_heads_up_comes_three_school_days_before_the_end() -> None:
    assert _schedule()[("end_date_near", "2026-02-13")] == date(2026, 2, 10)


def test_the_heads_up_counts_school_days_only_skipping_a_holiday() -> None:
    # Ends Tuesday 14 April, after the Easter holidays: three school days before is
    # Thursday 26 March, not Friday 10 April.
    found = _schedule(start_date=date(2026, 3, 2), end_date=date(2026, 4, 14),
                      review_dates=[], latest_end_date=None)
    assert found[("end_date_near", "2026-04-14")] == date(2026, 3, 26)


def test_a_plan_left_open_past_its_end_is_flagged_on_the_next_school_day() -> None:
    # Ends Friday 13 February; half-term follows, so the next school day is 23 February.
    assert _schedule()[("end_date_passed", "2026-02-13")] == date(2026, 2, 23)


def test_a_plan_within_the_maximum_gets_no_over_maximum_reminder() -> None:
    assert not [k for k in _schedule() if k[0] == "over_maximum"]


def test_a_plan_past_the_maximum_escalates_to_the_dsl_the_first_school_day_after_it() -> None:
    reminders = plan_reminders(
        7, start_date=date(2026, 1, 12), end_date=date(2026, 3, 13), review_dates=[],
        latest_end_date=date(2026, 2, 27), calendar=CALENDAR)
    (over,) = [r for r in reminders if r.kind == "over_maximum"]
    assert (over.due_on, over.recipient_role) == (date(2026, 3, 2), "dsl")
    assert over.idempotency_key == "plan:7:over_maximum:2026-02-27"


def test_a_plan_with_no_end_date_under_a_maximum_is_over_it() -> None:
    found = _schedule(end_date=None)
    assert ("over_maximum", "2026-02-27") in found
    assert not [k for k in found if k[0] in ("end_date_near", "end_date_passed")]


def test_a_missing_agreement_is_chased_five_school_days_after_it_was_sought() -> None:
    found = _schedule(missing_agreements={"virtual_school": date(2026, 1, 12)})
    assert found[("agreement_missing", "virtual_school")] == date(2026, 1, 19)
    found = _schedule(missing_agreements={"virtual_school": date(2026, 1, 12)},
                      agreement_grace_school_days=2)
    assert found[("agreement_missing", "virtual_school")] == date(2026, 1, 14)


def test_la_notifications_are_due_on_their_day_or_the_next_school_day() -> None:
    found = _schedule(la_notifications_due=[
        LaNotificationDue("first", date(2026, 1, 12)),
        LaNotificationDue("update", date(2026, 1, 24)),  # a Saturday
        LaNotificationDue("closure", date(2026, 2, 13)),
    ])
    assert found[("la_notification_due", "first")] == date(2026, 1, 12)
    assert found[("la_notification_due", "update:2026-01-24")] == date(2026, 1, 26)
    assert found[("la_notification_due", "closure")] == date(2026, 2, 13)


def test_keys_are_stable_and_change_when_the_date_they_are_about_changes() -> None:
    first = {r.idempotency_key for r in plan_reminders(
        7, start_date=date(2026, 1, 12), end_date=date(2026, 2, 13), review_dates=[],
        latest_end_date=None, calendar=CALENDAR)}
    again = {r.idempotency_key for r in plan_reminders(
        7, start_date=date(2026, 1, 12), end_date=date(2026, 2, 13), review_dates=[],
        latest_end_date=None, calendar=CALENDAR)}
    extended = {r.idempotency_key for r in plan_reminders(
        7, start_date=date(2026, 1, 12), end_date=date(2026, 2, 27), review_dates=[],
        latest_end_date=None, calendar=CALENDAR)}
    assert first == again == {"plan:7:end_date_near:2026-02-13", "plan:7:end_date_passed:2026-02-13"}
    assert extended.isdisjoint(first)


def test_an_end_date_already_past_gets_no_heads_up_only_the_overdue_flag() -> None:
    found = _schedule(today=date(2026, 2, 16))
    assert ("end_date_near", "2026-02-13") not in found
    assert ("end_date_passed", "2026-02-13") in found


def test_reminders_go_out_at_half_past_seven_london_time() -> None:
    assert due_at_utc(date(2026, 1, 12)) == datetime(2026, 1, 12, 7, 30, tzinfo=UTC)
    assert due_at_utc(date(2026, 6, 1)) == datetime(2026, 6, 1, 6, 30, tzinfo=UTC)


def test_ignored_reminders_go_from_the_lead_to_the_dsl_to_the_ewo_and_no_further() -> None:
    assert next_escalation_role("lead", "review_due") == "dsl"
    assert next_escalation_role(None, "review_due") == "dsl"
    assert next_escalation_role("dsl", "review_due") == "ewo"
    assert next_escalation_role("ewo", "review_due") is None
    assert next_escalation_role("dsl", "over_maximum") == "ewo"
    assert next_escalation_role("lead", "end_date_near") is None


@settings(max_examples=150, deadline=None)
@given(
    start=st.dates(min_value=date(2025, 9, 1), max_value=date(2027, 7, 1)),
    length=st.integers(min_value=0, max_value=80),
    max_length=st.integers(min_value=1, max_value=60),
    reviews=st.lists(st.integers(min_value=0, max_value=80), max_size=6),
    sought=st.integers(min_value=0, max_value=20),
)
def test_every_reminder_falls_on_a_school_day_not_before_the_start_with_a_unique_key(
    start: date, length: int, max_length: int, reviews: list[int], sought: int,
) -> None:
    reminders = plan_reminders(
        1, start_date=start, end_date=start + timedelta(days=length),
        review_dates=[start + timedelta(days=d) for d in reviews],
        latest_end_date=start + timedelta(days=max_length), calendar=CALENDAR,
        la_notifications_due=[LaNotificationDue("first", start)],
        missing_agreements={"social_worker": start + timedelta(days=sought)},
    )
    keys = [r.idempotency_key for r in reminders]
    assert len(keys) == len(set(keys))
    assert all(CALENDAR.is_school_day(r.due_on) for r in reminders)
    assert all(r.due_on >= start for r in reminders)
    assert [r.due_on for r in reminders] == sorted(r.due_on for r in reminders)
