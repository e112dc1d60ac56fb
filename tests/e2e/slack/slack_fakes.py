"""A local fake of the Slack Web API, and Slack's side of the HTTP conversation (signed requests).

``FakeSlack`` is a small HTTP server on 127.0.0.1 (port 0) that the app reaches through
``SLACK_API_BASE_URL``. It answers the methods the app uses, records every call (and every post to
a response URL), and can be told to fail a method. ``SlackSide`` builds slash commands, events and
block actions as Slack sends them, signed the way ``slack_sdk.signature.SignatureVerifier`` checks
(``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}``).

Used by the end-to-end tests and by ``bench/slack_ack.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

JSON_FIELDS = ("blocks", "view", "attachments", "metadata")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str | None = None
    at: float = field(default_factory=time.monotonic)


@dataclass
class SlackUser:
    id: str
    email: str
    name: str = ""
    is_bot: bool = False


class FakeSlack:
    """The Slack Web API on loopback. ``calls`` holds every request, in order."""

    def __init__(self, users: list[SlackUser] | None = None) -> None:
        self.users: dict[str, SlackUser] = {u.id: u for u in users or []}
        self.calls: list[Call] = []
        self.failures: dict[str, str] = {}
        self._lock = threading.Condition()
        self._ts = itertools.count(1)
        self._response_ids = itertools.count(1)
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                params = _parse(raw, self.headers.get("Content-Type") or "")
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip() or None
                if self.path.startswith("/response/"):
                    fake._record(Call("response_url", {**params, "_path": self.path}, token))
                    self._send(200, "ok", "text/plain")
                    return
                method = self.path.split("?", 1)[0].removeprefix("/api/")
                token = token or params.pop("token", None)
                body = fake._answer(method, params, token)
                self._send(200, json.dumps(body), "application/json")

            def _send(self, status: int, text: str, content_type: str) -> None:
                data = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-slack", daemon=True)

    # ------------------------------------------------------------------ life cycle
    def start(self) -> FakeSlack:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def new_response_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/response/{next(self._response_ids)}"

    # ------------------------------------------------------------------ what was called
    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)
            self._lock.notify_all()

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def wait_for(self, predicate: Callable[[Call], bool], *, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Block until ``count`` recorded calls satisfy ``predicate``; return them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [c for c in self.calls if predicate(c)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    methods = [c.method for c in self.calls]
                    raise AssertionError(f"timed out waiting for {count} matching call(s); calls so far: {methods}")
                self._lock.wait(left)

    # ------------------------------------------------------------------ the methods
    def _answer(self, method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        self._record(Call(method, params, token))
        if method in self.failures:
            return {"ok": False, "error": self.failures[method]}
        if method == "auth.test":
            return {"ok": True, "url": "https://fake.slack.test/", "team": "Fake", "user": "ptt", "team_id": "T1",
                    "user_id": "UBOT", "bot_id": "BBOT"}
        if method == "chat.postMessage":
            ts = f"{1700000000 + next(self._ts)}.000100"
            message = {"type": "message", "text": params.get("text", ""), "blocks": params.get("blocks") or [],
                       "ts": ts, "thread_ts": params.get("thread_ts"), "user": "UBOT", "bot_id": "BBOT"}
            self.messages[(str(params.get("channel")), ts)] = message
            return {"ok": True, "channel": params.get("channel"), "ts": ts, "message": message}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{1700000000 + next(self._ts)}.000200"}
        if method == "chat.update":
            key = (str(params.get("channel")), str(params.get("ts")))
            if key in self.messages:
                self.messages[key].update({"text": params.get("text", ""), "blocks": params.get("blocks") or []})
            return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
        if method in ("views.publish", "views.open", "views.update"):
            view = params.get("view") or {}
            return {"ok": True, "view": {"id": "V1", **(view if isinstance(view, dict) else {})}}
        if method == "users.info":
            user = self.users.get(str(params.get("user")))
            if user is None:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": _user_json(user)}
        if method == "users.lookupByEmail":
            email = str(params.get("email", "")).lower()
            for user in self.users.values():
                if user.email.lower() == email:
                    return {"ok": True, "user": _user_json(user)}
            return {"ok": False, "error": "users_not_found"}
        if method == "conversations.open":
            users = str(params.get("users", ""))
            return {"ok": True, "channel": {"id": "D" + users.split(",")[0].removeprefix("U")}}
        return {"ok": False, "error": "unknown_method"}


def _user_json(user: SlackUser) -> dict[str, Any]:
    return {"id": user.id, "name": user.name or user.id, "deleted": False, "is_bot": user.is_bot,
            "profile": {"email": user.email, "real_name": user.name}}


def _parse(raw: str, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    if "json" in content_type:
        params = json.loads(raw)
    else:
        params = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    for name in JSON_FIELDS:
        if isinstance(params.get(name), str):
            with contextlib.suppress(json.JSONDecodeError):
                params[name] = json.loads(params[name])
    return params


# --------------------------------------------------------------------------- Slack's requests
def signature(secret: str, timestamp: int | str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: str, *, content_type: str, timestamp: int | None = None,
                   retry: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(ts),
               "X-Slack-Signature": signature(secret, ts, body)}
    if retry is not None:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers


FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@dataclass
class Request:
    body: str
    content_type: str


class SlackSide:
    """Builds the requests Slack sends to the app."""

    def __init__(self, fake: FakeSlack, team_id: str = "T1") -> None:
        self.fake = fake
        self.team_id = team_id
        self._events = itertools.count(1)

    def slash_command(self, user_id: str, text: str, *, channel_id: str | None = None,
                      command: str = "/ptt") -> tuple[Request, str]:
        response_url = self.fake.new_response_url()
        channel = channel_id or "D" + user_id.removeprefix("U")
        body = urlencode({
            "token": "legacy", "team_id": self.team_id, "team_domain": "fake", "channel_id": channel,
            "channel_name": "directmessage" if channel.startswith("D") else "general", "user_id": user_id,
            "user_name": user_id.lower(), "command": command, "text": text, "api_app_id": "A1",
            "response_url": response_url, "trigger_id": f"trigger.{next(self._events)}",
        })
        return Request(body, FORM), response_url

    def event(self, event: dict[str, Any], *, event_id: str | None = None) -> Request:
        body = json.dumps({
            "token": "legacy", "team_id": self.team_id, "api_app_id": "A1", "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._events):06d}", "event_time": int(time.time()),
            "authorizations": [{"team_id": self.team_id, "user_id": "UBOT", "is_bot": True}],
            "event": event,
        })
        return Request(body, JSON)

    def direct_message(self, user_id: str, text: str, *, thread_ts: str | None = None,
                       event_id: str | None = None) -> Request:
        event: dict[str, Any] = {"type": "message", "channel_type": "im", "channel": "D" + user_id.removeprefix("U"),
                                 "user": user_id, "text": text, "ts": f"{time.time():.6f}"}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.event(event, event_id=event_id)

    def block_action(self, user_id: str, message: dict[str, Any], channel_id: str, action: dict[str, Any], *,
                     state: dict[str, Any] | None = None) -> Request:
        payload = {
            "type": "block_actions", "team": {"id": self.team_id, "domain": "fake"},
            "user": {"id": user_id, "team_id": self.team_id}, "api_app_id": "A1", "token": "legacy",
            "container": {"type": "message", "message_ts": message.get("ts"), "channel_id": channel_id,
                          "is_ephemeral": False},
            "trigger_id": f"trigger.{next(self._events)}", "channel": {"id": channel_id},
            "message": message, "response_url": self.fake.new_response_url(),
            "state": {"values": state or {}},
            "actions": [{"action_ts": f"{time.time():.6f}", **action}],
        }
        return Request(urlencode({"payload": json.dumps(payload)}), FORM)
