"""axe-core finds no serious or critical accessibility violations on the chat and plan pages
(and the other pages a member of staff or an EWO uses), in real headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.demo import DEMO_PASSWORD

from .conftest import DERBY_EWO, MAX_TURNS, OAK_STAFF, World, scripted_answer

pytestmark = pytest.mark.browser

BLOCKING = ("serious", "critical")


@pytest.fixture
def context(chromium: Any) -> Iterator[Any]:
    # axe is injected as a script of the test's own; the app's CSP would (rightly) refuse it.
    context = chromium.new_context(bypass_csp=True, locale="en-GB", viewport={"width": 1100, "height": 900})
    try:
        yield context
    finally:
        context.close()


def sign_in(context: Any, base_url: str, email: str) -> Any:
    page = context.new_page()
    page.goto(f"{base_url}/login")
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def violations(page: Any, axe_script: Path) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(axe_script))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
    }""")
    return [v for v in result if v["impact"] in BLOCKING]


def conversation_at(world: World, email: str, stop_at: str | None, answers: dict[str, str]) -> str:
    """A conversation of ``email`` carried (through the API) up to the question ``stop_at``,
    or to the end when ``stop_at`` is None."""
    client = world.app.test_client()
    body = client.post("/api/v1/conversations", json={"policy": "derby-city"}, headers=world.auth(email)).get_json()
    for _ in range(MAX_TURNS):
        current = body["replies"][-1]
        if (stop_at and current.get("question_id") == stop_at) or body.get("plan_id"):
            break
        body = client.post(f"/api/v1/conversations/{body['id']}/messages",
                           json={"text": scripted_answer(current, answers)}, headers=world.auth(email)).get_json()
    return body["id"]


@pytest.mark.parametrize("stop_at", ["pupil.year_group", "reasons", "plan.start_date", "plan.hours_per_week", None])
def test_the_chat_page_has_no_serious_violations(context: Any, live_server: str, sqlite_world: World,
                                                 axe_script: Path, answers: dict[str, str],
                                                 stop_at: str | None) -> None:
    conversation_id = conversation_at(sqlite_world, OAK_STAFF, stop_at, answers)
    page = sign_in(context, live_server, OAK_STAFF)
    page.goto(f"{live_server}/chat/{conversation_id}")
    found = violations(page, axe_script)
    assert found == [], found


@pytest.mark.parametrize("path", ["/", "/chat", "/plans", "/plans?status=active"])
def test_the_staff_pages_have_no_serious_violations(context: Any, live_server: str, axe_script: Path,
                                                    path: str) -> None:
    page = sign_in(context, live_server, OAK_STAFF)
    page.goto(f"{live_server}{path}")
    found = violations(page, axe_script)
    assert found == [], found


@pytest.mark.parametrize("status", ["awaiting", "active", "closed"])
def test_the_plan_page_has_no_serious_violations(context: Any, live_server: str, sqlite_world: World,
                                                 axe_script: Path, status: str) -> None:
    page = sign_in(context, live_server, OAK_STAFF)
    page.goto(f"{live_server}/plans/{sqlite_world.plan('Oak Primary', status)}")
    found = violations(page, axe_script)
    assert found == [], found


def test_the_login_page_and_the_la_view_have_no_serious_violations(context: Any, live_server: str,
                                                                    axe_script: Path) -> None:
    page = context.new_page()
    page.goto(f"{live_server}/login")
    assert violations(page, axe_script) == []
    page = sign_in(context, live_server, DERBY_EWO)
    page.goto(f"{live_server}/la?status=")
    found = violations(page, axe_script)
    assert found == [], found
