"""How each platform spells the ids that COACH_MANAGERS names, so that the core compares them as plain strings.

The core (bot/tips.py) matches ``platform:id`` against ``Incoming.user`` and ``Incoming.roles``
exactly; the rules here check a configured id and spell it as the adapter spells the same person.
Apart from the platform packages, whose imports load their SDKs: app.py reads COACH_MANAGERS for
every command, the console and ``classify`` too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

_SLACK_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")


def slack_id(ident: str) -> str:
    """A Slack user (U…, W…) or user group (S…) id, as Slack writes it.

    Raises:
        ValueError: anything else (a channel id, a name), saying what is expected.
    """
    if not _SLACK_ID.match(ident):
        raise ValueError("is not a Slack user id (U…, W…) or user group id (S…)")
    return ident


def slack_group_ids(ids: Iterable[str]) -> set[str]:
    """The user group ids (S…) among ``ids``: the Slack adapter looks up their members as roles ``slack:S…``."""
    return {ident for ident in ids if ident.startswith("S")}


def teams_id(ident: str) -> str:
    """An Entra ID (AAD) object id in lower case: a GUID, written in either case by Teams and the Azure portal."""
    return ident.lower()


RULES: Mapping[str, Callable[[str], str]] = {"slack": slack_id, "teams": teams_id}
