"""A member of staff completes a Derby City check in real headless Chromium using only the
keyboard, sees the decision, downloads the plan as PDF, and reloads to find the conversation
where they left it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from pypdf import PdfReader

from assistant.demo import DEMO_PASSWORD

from .conftest import MAX_TURNS, World, derby_city_answers

pytestmark = pytest.mark.browser


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(locale="en-GB", timezone_id="Europe/London", accept_downloads=True,
                                   viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


def focused(page: Any) -> dict[str, str]:
    return page.evaluate("""() => {
        const el = document.activeElement;
        return {tag: el.tagName.toLowerCase(), type: el.type || '', value: el.value || '',
                text: (el.innerText || '').trim(), name: el.name || '', id: el.id || ''};
    }""")


def tab_until(page: Any, wanted: Any, limit: int = 60) -> dict[str, str]:
    """Press Tab until the focused element is the one wanted (bounded)."""
    for _ in range(limit):
        element = focused(page)
        if wanted(element):
            return element
        page.keyboard.press("Tab")
    raise AssertionError(f"could not reach the element by keyboard; focus is on {focused(page)}")


def sign_in_by_keyboard(page: Any, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/login")
    assert focused(page)["id"] == "email", "the e-mail field has focus on arrival"
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base_url}/")


def composer(page: Any) -> dict[str, str]:
    return page.evaluate("""() => {
        const form = document.querySelector('form[data-chat-form]');
        return form ? {version: form.dataset.version, question: form.dataset.question, kind: form.dataset.kind}
                    : {version: '', question: '', kind: ''};
    }""")


DATE_ORDERS = (("day", "month", "year"), ("month", "day", "year"), ("year", "month", "day"))


def type_date(page: Any, iso: str) -> None:
    """Type a date into the focused native date field, as a person would. Its segments follow
    the browser's own locale, which a page cannot read: if the first order does not give the
    date, leave the field (Shift+Tab), come back (Tab) and type the next order."""
    parts = dict(zip(("year", "month", "day"), iso.split("-"), strict=True))
    for order in DATE_ORDERS:
        page.keyboard.type("".join(parts[segment] for segment in order))
        if page.evaluate("document.getElementById('answer').value") == iso:
            return
        for _ in range(6):
            if focused(page)["id"] != "answer":
                break
            page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")
    raise AssertionError(f"could not type {iso} into the date field")


def answer_by_keyboard(page: Any, state: dict[str, str], text: str) -> None:
    kind = state["kind"]
    if page.locator("#composer button[name=quick]:not(.button-skip)").count():
        tab_until(page, lambda el: el["name"] == "quick" and el["value"] == text)
        page.keyboard.press("Enter")
    elif kind == "multi_choice":
        for value in [v.strip() for v in text.split(",")]:
            tab_until(page, lambda el, v=value: el["type"] == "checkbox" and el["value"] == v)
            page.keyboard.press("Space")
        tab_until(page, lambda el: el["tag"] == "button" and el["text"] == "Send")
        page.keyboard.press("Enter")
    elif kind == "date":
        tab_until(page, lambda el: el["id"] == "answer")
        type_date(page, text)
        page.keyboard.press("Enter")
    else:
        tab_until(page, lambda el: el["id"] == "answer")
        page.keyboard.type(text)
        page.keyboard.press("Enter")
    try:
        page.wait_for_function("v => { const f = document.querySelector('form[data-chat-form]');"
                               " return f && f.dataset.version !== v; }", arg=state["version"])
    except Exception:
        page.screenshot(path="/tmp/ptt-browser-failure.png", full_page=True)
        raise AssertionError(f"no reply to {text!r} for {state}; status: "
                             f"{page.locator('#chat-status').inner_text()!r}") from None


def scripted(state: dict[str, str], answers: dict[str, str]) -> str:
    key = state["question"]
    if key in answers:
        return answers[key]
    if key.startswith("circumstances."):
        return "no"
    if key.startswith("consultations."):
        return "agreed"
    return "yes" if state["kind"] == "yes_no" else "none"


def test_an_enter_still_held_down_does_not_answer_the_next_question(page: Any, live_server: str) -> None:
    sign_in_by_keyboard(page, live_server, "staff@oak.example.org")
    tab_until(page, lambda el: el["tag"] == "button" and el["text"] == "Start a new check")
    page.keyboard.down("Enter")  # starts the check…
    page.wait_for_url(f"{live_server}/chat/*")
    first = page.locator("#composer button[name=quick]").first
    first.wait_for()
    assert page.evaluate("document.activeElement.name") == "quick"  # …whose first choice has the focus
    page.keyboard.down("Enter")  # the same key, still down: it repeats
    page.keyboard.up("Enter")
    page.wait_for_timeout(500)
    assert page.locator("#composer").get_attribute("data-question") == "pupil.year_group"
    assert page.locator("#chat-log .msg-user").count() == 0
    page.keyboard.press("Enter")  # a fresh press answers
    page.wait_for_function("() => document.querySelector('#composer').dataset.question !== 'pupil.year_group'")


def test_a_derby_city_check_is_completed_with_the_keyboard_alone(page: Any, live_server: str,
                                                                sqlite_world: World) -> None:
    answers = derby_city_answers()
    sign_in_by_keyboard(page, live_server, "headteacher@oak.example.org")
    tab_until(page, lambda el: el["tag"] == "button" and el["text"] == "Start a new check")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/chat/*")
    conversation_url = page.url
    assert page.locator("#chat-log[role=log][aria-live=polite]").count() == 1

    reloaded_mid_way = False
    for turn in range(MAX_TURNS):
        if page.get_by_role("link", name="Open the plan").count():
            break
        state = composer(page)
        if turn == 5 and not reloaded_mid_way:
            page.reload()
            assert composer(page)["question"] == state["question"], "reload resumes at the same question"
            reloaded_mid_way = True
        answer_by_keyboard(page, state, scripted(state, answers))
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", "the focused control shows where focus is"
        following = composer(page)
        if following["question"].startswith("write.") and following["kind"] == "text":
            # While the plan is written the decision stays on show; the next answer is typed at once.
            assert focused(page)["id"] == "answer", f"focus after {state['question']} is {focused(page)}"
    else:
        pytest.fail("the check did not finish")

    decision = page.locator("#decision-heading")
    assert "Decision: May proceed" in decision.inner_text()
    assert page.locator(".decision .citation blockquote").count() >= 1

    tab_until(page, lambda el: el["tag"] == "a" and el["text"] == "Download the plan (PDF)")
    with page.expect_download() as download_info:
        page.keyboard.press("Enter")
    pdf = PdfReader(io.BytesIO(open(download_info.value.path(), "rb").read()))  # noqa: SIM115
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in pdf.pages)
    assert "Alex Taylor" in text and "Oak Primary" in text

    said = page.locator(".msg-user .bubble").all_inner_texts()
    page.goto(conversation_url)
    assert page.locator(".msg-user .bubble").all_inner_texts() == said, "reloading shows the whole conversation"
    assert "Decision: May proceed" in page.locator("#decision-heading").inner_text()
    assert page.get_by_text("The check and the plan are complete").count() == 1


def test_the_chat_page_fits_a_phone_screen(chromium: Any, live_server: str) -> None:
    context = chromium.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, locale="en-GB")
    page = context.new_page()
    try:
        sign_in_by_keyboard(page, live_server, "dsl@oak.example.org")
        page.get_by_role("button", name="Start a new check").click()
        page.wait_for_url(f"{live_server}/chat/*")
        quick = page.locator("#composer button[name=quick]").first
        quick.wait_for()  # measured once the page is laid out, not while it is still loading
        page.wait_for_load_state("load")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
        button = quick.bounding_box()
        assert button is not None and button["width"] >= 300, "quick replies are full-width on a phone"
    finally:
        context.close()


def test_a_plan_page_fits_a_phone_screen_with_only_the_grid_scrolling(chromium: Any, live_server: str,
                                                                      sqlite_world: World) -> None:
    context = chromium.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, locale="en-GB")
    page = context.new_page()
    try:
        sign_in_by_keyboard(page, live_server, "dsl@oak.example.org")
        page.goto(f"{live_server}/plans/{sqlite_world.plan('Oak Primary', 'active')}")
        assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
        cut_off = page.evaluate("""() => {
            const width = document.documentElement.clientWidth;
            const text = 'p, h1, h2, h3, li, caption, figcaption, label, dt, dd, blockquote';
            const textRight = el => { const range = document.createRange(); range.selectNodeContents(el);
                                      return range.getBoundingClientRect().right; };
            return [...document.querySelectorAll(`main :is(${text})`)]
                .filter(el => !el.closest('thead, tbody') && textRight(el) > width + 1)
                .map(el => `${el.tagName.toLowerCase()}: ${el.innerText.slice(0, 60)}`);
        }""")
        assert cut_off == [], "only the grid's rows may scroll sideways on a phone"
        assert page.locator(".table-scroll table.grid").count() == 1
    finally:
        context.close()


def test_a_start_date_not_decided_yet_is_answered_by_keyboard_with_its_own_button(page: Any, live_server: str) -> None:
    sign_in_by_keyboard(page, live_server, "staff@oak.example.org")
    page.get_by_role("button", name="Start a new check").click()
    page.wait_for_url(f"{live_server}/chat/*")
    answers = derby_city_answers()
    for _ in range(MAX_TURNS):
        state = composer(page)
        if state["question"] == "plan.start_date":
            break
        answer_by_keyboard(page, state, scripted(state, answers))
    else:
        raise AssertionError("the start date was never asked")
    tab_until(page, lambda el: el["tag"] == "button" and el["text"] == "Not decided yet")
    page.keyboard.press("Enter")  # the date field is empty: the button must not wait for a date
    page.wait_for_function("v => document.querySelector('form[data-chat-form]').dataset.version !== v",
                           arg=state["version"])
    assert composer(page)["question"] == "plan.end_date"
    assert page.locator("#chat-log .msg-user .bubble").last.inner_text().strip() == "Not decided yet"


def test_answering_in_place_announces_the_reply_without_reloading(page: Any, live_server: str) -> None:
    sign_in_by_keyboard(page, live_server, "staff@oak.example.org")
    page.get_by_role("button", name="Start a new check").click()
    page.wait_for_url(f"{live_server}/chat/*")
    page.evaluate("window.__same_page = true")
    before = page.locator("#chat-log .msg").count()
    answer_by_keyboard(page, composer(page), "Y5")
    assert page.evaluate("window.__same_page === true"), "the answer was sent without a page load"
    assert page.locator("#chat-log .msg").count() > before
    assert page.locator("#chat-log .msg-user").last.inner_text().strip().endswith("Year 5")
    assert focused(page)["type"] == "checkbox", "focus moves to the next question"


def test_the_pages_load_without_a_failed_request_or_a_console_error(page: Any, live_server: str) -> None:
    """Browsers ask for an icon on every page: one that is missing is a 404 in every console."""
    failed: list[str] = []
    page.on("response", lambda response: failed.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    page.on("console", lambda message: failed.append(message.text) if message.type == "error" else None)
    sign_in_by_keyboard(page, live_server, "dsl@oak.example.org")
    page.goto(f"{live_server}/plans")
    page.wait_for_load_state("networkidle")
    assert failed == []
