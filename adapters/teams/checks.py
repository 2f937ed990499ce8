"""What a request to the Teams endpoint must look like before botbuilder reads it, as small named checks.

Each check returns None when all is well, else the reason for the 4xx answer and its log line. A
reason names the field, never its value: ids and text are the customer's business, and a value may
carry CR/LF into the log.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import urllib.parse
from typing import Any

import yarl
from botbuilder.schema import Activity

from adapters import bounded_json
from adapters.teams.bot import sender_id, tenant_id, verified_aad_id
from adapters.teams.cards import CHOICE_KEY
from bot.messages import id_problem

MAX_TOKEN_CHARS = 16_384  # a Bot Framework token is 1 to 2 kB
MAX_URL_CHARS = 2_048
_URL = re.compile(r"[\x21-\x7e]+")  # printable ASCII: the Bot Framework's service URLs are plain host names
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")  # raw UTF-8 cannot hold a surrogate; only a \u escape can

# Fields botbuilder reads as text, and as lists of objects; absent or null is always fine.
TEXT_FIELDS = ("channelId", "id", "replyToId", "text", "textFormat", "locale", "name", "action", "deliveryMode")
ACCOUNT_TEXT_FIELDS = ("name", "role", "aadObjectId", "tenantId", "conversationType")
LIST_FIELDS = ("entities", "attachments", "membersAdded", "membersRemoved", "reactionsAdded", "reactionsRemoved")
ACCOUNTS = ("conversation", "from", "recipient")


def _text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def missing_fields(body: Any) -> list[str]:
    """The fields a Bot Framework activity must carry for a turn, that ``body`` lacks."""
    if not isinstance(body, dict):
        return ["(an activity object)"]

    def has_id(name: str) -> bool:
        part = body.get(name)
        return isinstance(part, dict) and _text(part.get("id"))

    missing = [name for name in ("type", "serviceUrl") if not _text(body.get(name))]
    missing += [f"{name}.id" for name in ACCOUNTS if not has_id(name)]
    return missing


def token_problem(auth_header: str) -> str | None:
    """Why ``auth_header`` cannot hold a usable Bot Framework token, told from its form alone (no keys needed).

    A token must say when it expires: PyJWT checks ``exp`` only where there is one.
    """
    parts = auth_header.split(" ")
    if len(parts) != 2 or parts[0] != "Bearer" or not parts[1]:
        return "no Bearer token"
    token = parts[1]
    if len(token) > MAX_TOKEN_CHARS:
        return "the token is too long"
    segments = token.split(".")
    if len(segments) != 3:
        return "the token is not a JWT"
    try:
        header, claims = (
            bounded_json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
            for segment in segments[:2]
        )
    except ValueError:  # bad base64 (binascii.Error), not UTF-8, not JSON, too deep
        return "the token is not a JWT"
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return "the token is not a JWT"
    if not has_expiry(claims):
        return "the token has no expiry (exp)"
    return None


def has_expiry(claims: dict[str, Any]) -> bool:
    """The claims say when the token expires (``exp``, a number)."""
    expiry = claims.get("exp")
    return isinstance(expiry, (int, float)) and not isinstance(expiry, bool)


def activity_problem(body: Any) -> str | None:
    """Why the parsed ``body`` is not an activity botbuilder and this adapter can read safely, or None."""
    missing = missing_fields(body)
    if missing:
        return "not a Bot Framework activity: missing " + ", ".join(missing)
    for name in TEXT_FIELDS:
        if body.get(name) is not None and not isinstance(body[name], str):
            return f"{name} is not a string"
    for account in ACCOUNTS:
        for name in ACCOUNT_TEXT_FIELDS:
            if body[account].get(name) is not None and not isinstance(body[account][name], str):
                return f"{account}.{name} is not a string"
    for name in LIST_FIELDS:
        value = body.get(name)
        if value is not None and not (isinstance(value, list) and all(isinstance(item, dict) for item in value)):
            return f"{name} is not a list of objects"
    for name in ("membersAdded", "membersRemoved"):
        if not all(_text(member.get("id")) for member in body.get(name) or []):
            return f"{name}[].id is missing or not text"
    if body.get("channelData") is not None and not isinstance(body["channelData"], dict):
        return "channelData is not an object"
    if body["type"] == "invoke" and not _text(body.get("name")):
        return "an invoke without a name"
    if body["type"] == "message" and body.get("value") is not None:
        problem = submit_problem(body["value"])
        if problem:
            return problem
    return service_url_problem(body["serviceUrl"])


def submit_problem(value: Any) -> str | None:
    """Why a message's ``value`` (a card submit) is malformed: it is an object, and our button's choice is an id."""
    if not isinstance(value, dict):
        return "value is not an object"
    if CHOICE_KEY in value:
        return id_problem(f"value.{CHOICE_KEY}", value[CHOICE_KEY])
    return None


@functools.lru_cache(maxsize=256)  # a deployment sees a handful of service URLs
def service_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be where replies go: an absolute http(s) URL with a host, as both msrest and aiohttp parse
    it."""
    if len(url) > MAX_URL_CHARS:
        return "serviceUrl is too long"
    if not _URL.fullmatch(url):
        return "serviceUrl holds a space, a control character or non-ASCII text"
    try:
        parsed = yarl.URL(url)
        _ = urllib.parse.urlsplit(url).port  # msrest joins paths with urllib; it refuses what yarl may take
    except ValueError:
        return "serviceUrl is not a URL"
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return "serviceUrl is not an http(s) URL with a host"
    return None


def surrogate_problem(raw: bytes, body: Any) -> str | None:
    """An unpaired surrogate anywhere in the body (no UTF-8 text can hold one; msrest and the stores fail on it)."""
    if _ESCAPED_SURROGATE.search(raw) is None:
        return None  # the usual case: one scan of the bytes
    try:
        json.dumps(body, ensure_ascii=False).encode(
            "utf-8"
        )  # paired escapes were joined by the parser; what is left is unpaired
    except UnicodeEncodeError:
        return "the body holds an unpaired surrogate"
    return None


def ids_problem(activity: Activity) -> str | None:
    """The first id that the stores key on, or that goes into a reply's URL, that they cannot hold.

    The stores key on the tenant, the conversation and the person (``sender_id``); the activity id
    and the channel go into the reply's URL and conversation reference.
    """
    sender = "from.aadObjectId" if verified_aad_id(activity) else "from.id"
    checks = [
        ("conversation.id", activity.conversation.id),
        (sender, sender_id(activity)),
        ("recipient.id", activity.recipient.id),
    ]
    tenant = tenant_id(activity)
    if tenant:
        checks.append(("tenant id", tenant))
    for name, value in (("id", activity.id), ("replyToId", activity.reply_to_id), ("channelId", activity.channel_id)):
        if value:
            checks.append((name, value))
    for name, value in checks:
        problem = id_problem(name, value)
        if problem:
            return problem
    return None
