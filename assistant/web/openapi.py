"""The OpenAPI 3.1 description of the JSON API (served at ``/api/v1/openapi.json``)."""

from __future__ import annotations

from functools import cache
from typing import Any

from assistant.services.plans import CLOSURE_ROUTES
from rules import known_policy_ids


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": _json(_ref("Error"), "The request body is not valid; the message says why."),
    "401": _json(_ref("Error"), "No valid API token."),
    "404": _json(_ref("Error"), "No such conversation or plan that the caller may see."),
}


@cache
def openapi_document() -> dict[str, Any]:
    conversation_id = {"name": "conversation_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Part-Time Timetable Assistant API",
            "version": "1.0.0",
            "description": (
                "Check a proposed part-time timetable against the local policy, one question at a time, "
                "and list the timetables the caller may see. Answers are plain text: yes/no, 2026-01-12 or "
                "12/01/2026, a choice's value or label, comma-separated values, a number."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": {
            "/api/v1/conversations": {
                "post": {
                    "summary": "Start a conversation under a policy (default: the caller's LA's policy).",
                    "operationId": "startConversation",
                    "requestBody": {"required": False, "content": {"application/json": {"schema": {
                        "type": "object",
                        "properties": {"policy": {"type": "string", "enum": known_policy_ids()}},
                    }}}},
                    "responses": {"201": _json(_ref("Conversation"), "The conversation and its first question."),
                                  **ERRORS},
                },
                "get": {
                    "summary": "The caller's conversations, most recent first.",
                    "operationId": "listConversations",
                    "responses": {"200": _json({"type": "array", "items": {"type": "object"}}, "Summaries."),
                                  "401": ERRORS["401"]},
                },
            },
            "/api/v1/conversations/{conversation_id}": {
                "get": {
                    "summary": "The conversation as it stands (its latest replies).",
                    "operationId": "getConversation",
                    "parameters": [conversation_id, {"name": "transcript", "in": "query",
                                                     "schema": {"type": "boolean"}}],
                    "responses": {"200": _json(_ref("Conversation"), "The conversation."), **ERRORS},
                },
            },
            "/api/v1/conversations/{conversation_id}/messages": {
                "post": {
                    "summary": "Answer the current question.",
                    "operationId": "sendMessage",
                    "parameters": [conversation_id],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["text"],
                        "properties": {
                            "text": {"type": "string", "maxLength": 2000},
                            "version": {"type": "integer",
                                        "description": "The version last seen; a stale one gets 409."},
                        },
                    }}}},
                    "responses": {
                        "200": _json(_ref("Conversation"), "The replies to the answer."),
                        "409": _json(_ref("Error"), "The conversation moved on since that version."),
                        **ERRORS,
                    },
                },
            },
            "/api/v1/timetables": {
                "get": {
                    "summary": "The part-time timetables the caller may see.",
                    "operationId": "listTimetables",
                    "parameters": [
                        {"name": "status", "in": "query",
                         "schema": {"type": "string", "enum": ["draft", "awaiting", "active", "closed"]}},
                        {"name": "due", "in": "query", "schema": {"type": "string", "enum": [
                            "review_overdue", "review_soon", "ending_soon", "agreement_missing", "over_maximum"]}},
                        {"name": "circumstance", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": _json({"type": "array", "items": _ref("Timetable")}, "Timetables."),
                                  "400": ERRORS["400"], "401": ERRORS["401"]},
                },
            },
            "/api/v1/ping": {
                "get": {"summary": "Check a token (writes an audit row).", "operationId": "ping",
                        "responses": {"200": {"description": "OK"}, "401": ERRORS["401"]}},
            },
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "A token from `ptt users add`."}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "properties": {"status": {"type": "integer"}, "message": {"type": "string"}},
                }}},
                "Choice": {"type": "object", "required": ["value", "label"],
                           "properties": {"value": {"type": "string"}, "label": {"type": "string"}}},
                "Reply": {
                    "type": "object", "required": ["text", "fact", "kind", "choices"],
                    "properties": {
                        "text": {"type": "string"},
                        "fact": {"type": ["string", "null"],
                                 "description": "The dotted case path the question fills, or null."},
                        "kind": {"type": "string",
                                 "enum": ["yes_no", "date", "choice", "multi_choice", "number", "text"]},
                        "choices": {"type": "array", "items": _ref("Choice")},
                        "why": {"type": ["object", "null"], "description": "The policy clause behind the question."},
                        "error": {"type": "boolean"},
                        "prompt": {"type": ["string", "null"],
                                   "description": "The question as a form asks it: no progress label, no listed "
                                                  "choices, a typing hint only where the answer is typed; after "
                                                  "a refused answer it begins with what was wrong."},
                        "skip": {"oneOf": [_ref("Choice"), {"type": "null"}],
                                 "description": "The answer for 'not known', 'not decided yet' or 'none' (e.g. "
                                                "'Not decided yet', 'No end date set yet'), where no choice says "
                                                "so; its value or label may be sent. Null otherwise."},
                    },
                },
                "Conversation": {
                    "type": "object", "required": ["id", "replies", "finished", "decision"],
                    "properties": {
                        "id": {"type": "string"},
                        "replies": {"type": "array", "items": _ref("Reply")},
                        "finished": {"type": "boolean"},
                        "decision": {"type": ["object", "null"],
                                     "description": "The Decision of contract §1 once the checklist is decided."},
                        "version": {"type": "integer"},
                        "phase": {"type": ["string", "null"]},
                        "plan_id": {"type": ["integer", "null"]},
                    },
                },
                "Timetable": {
                    "type": "object", "required": ["id", "status", "school", "pupil"],
                    "properties": {
                        "id": {"type": "integer"}, "status": {"type": "string"},
                        "outcome": {"type": ["string", "null"]}, "policy": {"type": "string"},
                        "school": {"type": "object"}, "pupil": {"type": "object"},
                        "start_date": {"type": ["string", "null"], "format": "date"},
                        "end_date": {"type": ["string", "null"], "format": "date"},
                        "hours_per_week": {"type": ["number", "null"]},
                        "full_time_hours": {"type": ["number", "null"]},
                        "review_overdue": {"type": "boolean"}, "over_maximum": {"type": "boolean"},
                        "closed_on": {"type": ["string", "null"], "format": "date",
                                      "description": "A closed plan's last day under the timetable."},
                        "closure_route": {"type": ["string", "null"],
                                          "enum": [*CLOSURE_ROUTES, None]},
                    },
                },
            },
        },
    }
