"""What a Slack request body must look like before Bolt reads it: small named checks that say what is wrong.

Bolt trusts Slack's payloads. It runs ``"id" in body["team"]``, ``body["actions"][0]["action_id"]``,
``pattern.search(body["event"]["type"])`` and the like while it builds the context, before any
listener, and our listeners read a few fields more. A body of the wrong shape (``"event": null``, a
list where an object belongs, a number where an id belongs) then raises inside Bolt: a 500 and a
traceback for what is a client's mistake. ``body_problem`` looks at exactly those fields first, so the
route answers 400 instead. It also refuses ids the stores cannot hold (``bot.messages.id_problem``,
and Slack's ids are short ASCII) and text with a NUL or an unpaired surrogate, which no store can
keep either. Every reason names the field, never its value: a log line may carry it.

The fields come from Bolt's ``request/internals.py`` (context), ``request/payload_utils.py`` and
``listener_matcher/builtins.py`` (matching), ``logger/messages.py`` (the unhandled-request warning),
and from ``translate.py`` for our own listeners.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from bot.messages import id_problem

MAX_SLACK_ID = 255  # Slack's ids, timestamps and trigger ids run to ~30 ASCII characters; claim keys join three
MAX_CHOICE_VALUE = 2000  # Slack's limit on a button's value
MAX_URL = 2048

# Read by Bolt at every level it looks into (the body, its event, message, view, ...); each is text when present.
_TEXT_FIELDS = (
    "type",
    "subtype",
    "callback_id",
    "action_id",
    "command",
    "channel_type",
    "tab",
    "user_team",
    "function_execution_id",
    "bot_access_token",
    "challenge",
    "ssl_check",
    "bot_id",
)
# Ids that end up in store keys, claims or Incoming, wherever they appear.
_ID_FIELDS = (
    "team_id",
    "user_id",
    "channel_id",
    "enterprise_id",
    "context_team_id",
    "context_enterprise_id",
    "app_installed_team_id",
    "event_id",
    "trigger_id",
    "ts",
    "thread_ts",
    "message_ts",
)
# An id, or an object with an "id" (``"team": "T1"`` in events, ``"team": {"id": "T1"}`` in interactions).
_ID_OR_OBJECT_FIELDS = ("team", "user", "channel", "enterprise")
# Objects Bolt looks into with the same extractors; "event" and "view" are read without a type check.
_OBJECT_FIELDS = (
    "event",
    "view",
    "message",
    "previous_message",
    "item",
    "assistant_thread",
    "function_data",
    "container",
)
_NEVER_NULL = ("event", "view")
_LIST_FIELDS = ("authorizations", "response_urls")
# Events whose text goes to the coach.
_CONVERSATION_EVENTS = ("message", "app_mention")
# Events whose channel and user the listeners use as ids (other events may carry objects there).
_PERSON_EVENTS = ("message", "app_mention", "app_home_opened")
_COMMAND_NAME = re.compile(r"/[^\s\x00-\x1f\x7f\ud800-\udfff]{1,80}")  # "/tip"; logged, so no line breaks
_UNSAFE_IN_TEXT = re.compile(r"[\x00\ud800-\udfff]")  # NUL and unpaired surrogates: no store or encoder takes them


def slack_id_problem(name: str, value: object) -> str | None:
    """Why ``value`` cannot be a Slack id the stores key on, or None. The core's rule, then Slack's: ASCII, short."""
    problem = id_problem(name, value)
    if problem is None and isinstance(value, str) and (len(value) > MAX_SLACK_ID or not value.isascii()):
        return f"{name} is not a Slack id (ASCII, at most {MAX_SLACK_ID} characters)"
    return problem


def text_problem(name: str, value: object) -> str | None:
    """Why ``value`` cannot be text a person wrote (not text, or holding a NUL or an unpaired surrogate), or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        return f"{name} is not text"
    if _UNSAFE_IN_TEXT.search(value):
        return f"{name} holds a NUL or an unpaired surrogate"
    return None


def url_problem(name: str, value: object) -> str | None:
    """Why ``value`` cannot be a ``response_url`` to post to (an absolute http(s) URL), or None."""
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or len(value) > MAX_URL
        or not value.isascii()
        or not value.isprintable()
        or " " in value
    ):
        return f"{name} is not a URL"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return f"{name} is not a URL"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"{name} is not an http(s) URL"
    return None


# ---------------------------------------------------------------------------------------- what Bolt reads


def _plain_id(value: object) -> bool:
    """The common case, answered fast: absent, or short printable ASCII (so no NUL, CR/LF or surrogate)."""
    return (
        value is None
        or value == ""
        or (type(value) is str and len(value) <= MAX_SLACK_ID and value.isascii() and value.isprintable())
    )


def _id_or_object(name: str, value: object) -> str | None:
    if value is None or isinstance(value, str):
        return None if _plain_id(value) else slack_id_problem(name, value)
    if not isinstance(value, dict):
        return f"{name} is neither an id nor an object"
    for part in ("id", "team_id"):
        if not _plain_id(value.get(part)):
            return slack_id_problem(f"{name}.{part}", value[part])
    return None


_KINDS = {
    **dict.fromkeys(_TEXT_FIELDS, "text"),
    **dict.fromkeys(_ID_FIELDS, "id"),
    **dict.fromkeys(_ID_OR_OBJECT_FIELDS, "id or object"),
    **dict.fromkeys(_OBJECT_FIELDS, "object"),
    **dict.fromkeys(_LIST_FIELDS, "list"),
}
_CHECKED = frozenset(_KINDS)


def bolt_fields_problem(payload: Mapping[str, Any], where: str) -> str | None:
    """What is wrong with the fields Bolt reads in ``payload`` and in the objects under it that it looks into.

    Only the fields present are looked at (a set intersection), so a body costs a few microseconds.
    """
    for name in _CHECKED.intersection(payload):
        value, kind = payload[name], _KINDS[name]
        if kind == "text":
            if value is not None and not isinstance(value, str):
                return f"{where}.{name} is not text"
        elif kind == "id":
            if not _plain_id(value):
                return slack_id_problem(f"{where}.{name}", value)
        elif kind == "id or object":
            if problem := _id_or_object(f"{where}.{name}", value):
                return problem
        elif kind == "object":
            if value is None and name not in _NEVER_NULL:
                continue
            if not isinstance(value, dict):
                return f"{where}.{name} is not an object"
            if problem := bolt_fields_problem(value, f"{where}.{name}"):
                return problem
        else:  # a list of objects
            if value is None and name != "response_urls":
                continue
            if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
                return f"{where}.{name} is not a list of objects"
            for index, item in enumerate(value):
                if problem := bolt_fields_problem(item, f"{where}.{name}[{index}]"):
                    return problem
    return None


# ---------------------------------------------------------------------------------------- per kind of request


def _command_problem(body: Mapping[str, Any]) -> str | None:
    """A slash command: Bolt matches its name; the listener reads the text, the ids and the response_url."""
    name = body.get("command")
    if not isinstance(name, str) or not _COMMAND_NAME.fullmatch(name):
        return "command is not a slash command's name"
    return text_problem("text", body.get("text")) or url_problem("response_url", body.get("response_url"))


def _event_problem(body: Mapping[str, Any]) -> str | None:
    event = body.get("event")
    if not isinstance(event, dict):
        return "event is missing or not an object"
    if not isinstance(event.get("type"), str):
        return "event.type is missing or not text"
    if event["type"] in _PERSON_EVENTS:
        for name in ("channel", "user"):
            if event.get(name) is not None and not isinstance(event[name], str):
                return f"event.{name} is not an id"
    if event["type"] in _CONVERSATION_EVENTS:
        return text_problem("event.text", event.get("text"))
    return None


def _actions_problem(body: Mapping[str, Any]) -> str | None:
    """block_actions and attachment actions: Bolt reads ``actions[0]``; the listener its value and the places."""
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not all(isinstance(action, dict) for action in actions):
        return "actions is not a list of objects"
    for index, action in enumerate(actions):
        for name in ("action_id", "block_id", "type"):
            if action.get(name) is not None and not isinstance(action[name], str):
                return f"actions[{index}].{name} is not text"
        value = action.get("value")
        if problem := text_problem(f"actions[{index}].value", value):
            return problem
        if value is not None and len(value) > MAX_CHOICE_VALUE:
            return f"actions[{index}].value is longer than Slack allows"
    if body.get("type") == "block_actions" and not isinstance(actions[0].get("action_id"), str):
        return "actions[0].action_id is missing or not text"
    for name in ("user", "team", "channel"):  # the listener reads these as objects in an interaction
        if body.get(name) is not None and not isinstance(body[name], dict):
            return f"{name} is not an object"
    return url_problem("response_url", body.get("response_url"))


def _view_problem(body: Mapping[str, Any]) -> str | None:
    """view_submission / view_closed: Bolt reads ``view.type`` once ``view.callback_id`` is there."""
    view = body.get("view")
    if not isinstance(view, dict):
        return "view is missing or not an object"
    if "callback_id" in view and not isinstance(view.get("type"), str):
        return "view.type is missing or not text"
    if view.get("type") == "workflow_step" and "workflow_step" not in body:
        return "workflow_step is missing"
    return None


def body_problem(body: Mapping[str, Any]) -> str | None:
    """Why Bolt or our listeners could not read ``body`` (a parsed JSON object or form), or None when they can."""
    if problem := bolt_fields_problem(body, "body"):
        return problem
    kind = body.get("type")
    if "command" in body:
        return _command_problem(body)
    if kind == "event_callback" or "event" in body:
        return _event_problem(body)
    if kind in ("block_actions", "interactive_message") or "actions" in body:
        return _actions_problem(body)
    if kind in ("view_submission", "view_closed"):
        return _view_problem(body)
    if kind == "workflow_step_edit" and "workflow_step" not in body:
        return "workflow_step is missing"
    return None


__all__ = ["body_problem", "slack_id_problem", "text_problem", "url_problem"]
