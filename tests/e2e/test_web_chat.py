"""The chat page, as plain HTML forms and as the fragments chat.js asks for."""

from __future__ import annotations

import io
import re
from typing import Any

import docx
from flask.testing import FlaskClient
from sqlmodel import select

from storage.models import Conversation, ConversationAnswer

from .conftest import MAX_TURNS, OAK_DSL, OAK_STAFF, World, csrf_from, scripted_answer, sign_in, signed_in

FRAGMENT = {"X-Requested-With": "fetch"}


def start_check(client: FlaskClient, csrf: str, policy: str = "derby-city") -> str:
    response = client.post("/chat", data={"policy": policy, "csrf_token": csrf})
    assert response.status_code == 302
    match = re.match(r"^/chat/([0-9a-f-]+)$", response.location)
    assert match, response.location
    return match.group(1)


def page(client: FlaskClient, conversation_id: str) -> str:
    response = client.get(f"/chat/{conversation_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def version_of(html: str) -> int:
    match = re.search(r'name="version" value="(\d+)"', html)
    assert match
    return int(match.group(1))


def answer(client: FlaskClient, csrf: str, conversation_id: str, version: int, **fields: Any) -> Any:
    return client.post(f"/chat/{conversation_id}", data={"csrf_token": csrf, "version": version, **fields})


def at_the_start_date(client: FlaskClient, csrf: str) -> tuple[str, str]:
    """A new Derby City check answered (Year 5, mental health, no special circumstances) up to
    the start date; its id and page."""
    conversation_id = start_check(client, csrf)
    answer(client, csrf, conversation_id, 1, quick="Y5")
    answer(client, csrf, conversation_id, 2, choice="mental_health")
    html = page(client, conversation_id)
    while 'data-question="circumstances.' in html:
        answer(client, csrf, conversation_id, version_of(html), quick="no")
        html = page(client, conversation_id)
    assert 'data-question="plan.start_date"' in html
    return conversation_id, html


def test_the_chat_page_is_an_accessible_log_with_a_labelled_answer(web: World) -> None:
    client, csrf = signed_in(web.app, OAK_STAFF)
    html = page(client, start_check(client, csrf))
    assert 'role="log"' in html and 'aria-live="polite"' in html
    assert "Which year group is the pupil in?" in html
    assert '<legend>Which year group is the pupil in?</legend>' in html, "the progress bar says which question"
    assert 'name="quick" value="Y5"' in html
    assert '<progress id="progress-bar"' in html and '<label for="progress-bar">' in html
    assert "<summary>Why is this asked?</summary>" in html
    assert "21 hours at Key stage 1" in html


def test_the_answer_box_asks_the_question_alone_where_the_boxes_list_the_choices(web: World) -> None:
    client, csrf = signed_in(web.app, OAK_STAFF)
    conversation_id = start_check(client, csrf)
    answer(client, csrf, conversation_id, 1, quick="Y5")
    html = page(client, conversation_id)
    legend = re.search(r"<legend>(.*?)</legend>", html, re.S)
    assert legend is not None
    assert legend.group(1).startswith("Why is a part-time timetable being considered? Choose one or more.")
    assert "1. Physical health" not in legend.group(1) and "separated by commas" not in legend.group(1)
    assert "1. Physical health" in html, "the assistant's message still lists them, for reading"


def test_after_a_refused_answer_the_form_s_question_says_what_was_wrong(web: World) -> None:
    client, csrf = signed_in(web.app, OAK_STAFF)
    conversation_id, html = at_the_start_date(client, csrf)
    answer(client, csrf, conversation_id, version_of(html), answer="the thirty-first of Smarch")
    label = re.search(r'<label for="answer">([^<]*)</label>', page(client, conversation_id))
    assert label is not None
    assert label.group(1).startswith("&#39;the thirty-first of Smarch&#39; is not a date I can read")
    assert label.group(1).endswith("When would the part-time timetable start?")


def test_dates_nobody_has_set_yet_are_answered_with_their_own_buttons(web: World) -> None:
    client, csrf = signed_in(web.app, OAK_STAFF)
    conversation_id, html = at_the_start_date(client, csrf)
    assert 'type="date"' in html
    said = re.findall(r'<div class="msg msg-user">\s*<span class="visually-hidden">You said:</span>\s*'
                      r'<p class="bubble">([^<]*)</p>', html)
    assert said[:2] == ["Year 5", "Mental health"] and set(said[2:]) == {"No"}, "answers show as their buttons read"
    assert re.search(r'<button type="submit" name="quick" value="skip" class="[^"]*button-skip" formnovalidate>'
                     r"Not decided yet</button>", html)
    answer(client, csrf, conversation_id, version_of(html), quick="skip", answer="")
    html = page(client, conversation_id)
    assert "When will it end" in html and '<p class="bubble">Not decided yet</p>' in html
    assert re.search(r'name="quick" value="none"[^>]*formnovalidate>No end date set yet</button>', html)
    answer(client, csrf, conversation_id, version_of(html), quick="none", answer="")
    with web.session() as session:
        stored = session.exec(select(ConversationAnswer).where(ConversationAnswer.conversation_id == conversation_id))
        dates = sorted((a.fact, a.raw_text, a.accepted) for a in stored
                       if a.fact in ("plan.start_date", "plan.end_date"))
    assert dates == [("plan.end_date", "none", True), ("plan.start_date", "skip", True)]
    decided = page(client, conversation_id)  # Derby City sets no timetable going without an end date
    assert "Decision: Must not proceed as proposed" in decided
    assert "Derby City requires a time limit by which the pupil attends full time" in decided


def test_quick_reply_buttons_answer_a_choice(web: World) -> None:
    client, csrf = signed_in(web.app, OAK_STAFF)
    conversation_id = start_check(client, csrf)
    response = answer(client, csrf, conversation_id, 1, quick="Y5")
    assert response.status_code == 302
    html = page(client, conversation_id)
    assert "Why is a part-time timetable being considered?" in html
    assert 'type="checkbox"' in html and 'value="mental_health"' in html


def test_a_question_answered_with_buttons_also_takes_typed_words_such_as_back(web: World) -> None:
    client, csrf = signed_in(web.app, OAK_STAFF)
    conversation_id = start_check(client, csrf)
    answer(client, csrf, conversation_id, 1, quick="Y5")
    answer(client, csrf, conversation_id, 2, choice="mental_health")
    html = page(client, conversation_id)
    assert 'data-question="circumstances.looked_after"' in html
    typed = html.split('class="composer composer-typed"')[1]  # a form of its own: Enter sends the text
    assert '<label for="answer">Or type an answer' in typed and 'name="quick"' not in typed.split("</form>")[0]

    answer(client, csrf, conversation_id, version_of(html), answer="back")
    assert 'data-question="reasons"' in page(client, conversation_id)


def test_ticked_boxes_answer_a_multiple_choice_question(web: World) -> None:
    client, csrf = signed_in(web.app, OAK_STAFF)
    conversation_id = start_check(client, csrf)
    answer(client, csrf, conversation_id, 1, quick="Y5")
    client.post(f"/chat/{conversation_id}", data={"csrf_token": csrf, "version": 2,
                                                  "choice": ["mental_health", "semh"]})
    with web.session() as session:
        stored = session.exec(select(ConversationAnswer).where(
            ConversationAnswer.conversation_id == conversation_id).order_by(ConversationAnswer.seq)).all()
    assert [a.raw_text for a in stored] == ["Y5", "mental_health, semh"]
    assert "looked-after" in page(client, conversation_id)


def test_a_date_question_gets_a_native_date_input(web: World, answers: dict[str, str]) -> None:
    client, csrf = signed_in(web.app, OAK_STAFF)
    conversation_id = start_check(client, csrf)
    html = page(client, conversation_id)
    for _ in range(MAX_TURNS):
        if 'type="date"' in html:
            break
        reply = _current_question(web, conversation_id)
        answer(client, csrf, conversation_id, version_of(html), answer=scripted_answer(reply, answers))
        html = page(client, conversation_id)
    assert '<input id="answer" name="answer" type="date" required autofocus>' in html
    assert '<label for="answer">' in html


def _current_question(web: World, conversation_id: str) -> dict[str, Any]:
    with web.session() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.state_json["replies"][-1]


def test_the_fragment_for_chat_js_holds_the_new_lines_and_the_next_question(web: World) -> None:
    client, csrf = signed_in(web.app, OAK_STAFF)
    conversation_id = start_check(client, csrf)
    response = client.post(f"/chat/{conversation_id}", data={"csrf_token": csrf, "version": 1, "quick": "Y5"},
                           headers={**FRAGMENT, "X-CSRF-Token": csrf})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<template id="new-entries">' in html and '<template id="new-composer">' in html
    assert 'class="msg msg-user"' in html and ">Year 5</p>" in html
    assert "Why is a part-time timetable being considered?" in html


def test_an_answer_from_an_old_page_is_refused_and_says_to_reload(web: World) -> None:
    client, csrf = signed_in(web.app, OAK_STAFF)
    conversation_id = start_check(client, csrf)
    answer(client, csrf, conversation_id, 1, quick="Y5")
    stale = client.post(f"/chat/{conversation_id}", data={"csrf_token": csrf, "version": 1, "quick": "Y6"},
                        headers=FRAGMENT)
    assert stale.status_code == 409
    assert "reload" in stale.get_json()["error"]["message"]
    again = answer(client, csrf, conversation_id, 1, quick="Y6")
    assert again.status_code == 302
    assert "reload" in page(client, conversation_id)


def test_reloading_resumes_where_the_user_left_off(web: World) -> None:
    client, csrf = signed_in(web.app, OAK_STAFF)
    conversation_id = start_check(client, csrf)
    answer(client, csrf, conversation_id, 1, quick="Y5")
    answer(client, csrf, conversation_id, 2, choice="mental_health")
    other, _ = signed_in(web.app, OAK_STAFF)  # a new browser: the same user signs in again
    html = page(other, conversation_id)
    assert html.count('class="msg msg-user"') == 2
    assert "looked-after" in html.split('id="composer-region"')[1]
    listing = other.get("/chat").get_data(as_text=True)
    assert f"/chat/{conversation_id}" in listing


def test_another_users_conversation_is_not_found(web: World) -> None:
    client, csrf = signed_in(web.app, OAK_STAFF)
    conversation_id = start_check(client, csrf)
    other, other_csrf = signed_in(web.app, OAK_DSL)
    assert other.get(f"/chat/{conversation_id}").status_code == 404
    assert answer(other, other_csrf, conversation_id, 1, quick="Y5").status_code == 404


def test_an_unknown_policy_is_explained_on_the_page(web: World) -> None:
    client, csrf = signed_in(web.app, OAK_STAFF)
    response = client.post("/chat", data={"policy": "atlantis", "csrf_token": csrf})
    assert response.status_code == 302 and response.location == "/chat"
    assert "Unknown policy" in client.get("/chat").get_data(as_text=True)


def test_a_whole_check_in_the_browser_forms_ends_with_the_decision_and_a_plan(web: World,
                                                                            answers: dict[str, str]) -> None:
    client = web.app.test_client()
    csrf = sign_in(client, OAK_STAFF)
    conversation_id = start_check(client, csrf)
    html = page(client, conversation_id)
    for _ in range(MAX_TURNS):
        if "Open the plan" in html:
            break
        reply = _current_question(web, conversation_id)
        text = scripted_answer(reply, answers)
        field = "quick" if 'name="quick"' in html.split('id="composer-region"')[1] else (
            "choice" if 'name="choice"' in html.split('id="composer-region"')[1] else "answer")
        assert answer(client, csrf, conversation_id, version_of(html), **{field: text}).status_code == 302
        html = page(client, conversation_id)
    assert "Decision: May proceed" in html
    assert "Open the plan" in html and "The check and the plan are complete" in html
    plan_link = re.search(r'href="/plans/(\d+)"', html)
    assert plan_link
    plan_page = client.get(f"/plans/{plan_link.group(1)}").get_data(as_text=True)
    assert "Alex Taylor" in plan_page
    pdf = client.get(f"/plans/{plan_link.group(1)}/documents/plan.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert csrf_from(html) == csrf

    # The form for the LA answers what the check asked, and says what it never asked (Derby City
    # asks nothing about Early Help): it does not answer No for the school.
    notice = client.get(f"/plans/{plan_link.group(1)}/documents/la-notification.docx")
    fields = {row.cells[0].text: row.cells[-1].text for table in docx.Document(io.BytesIO(notice.data)).tables
              for row in table.rows if len(row.cells) >= 2}
    assert fields["Child in care"] == "No"
    assert fields["Early Help involved"] == "Not asked"
    assert fields["Reasons for the reduced timetable"] == "Mental health"
