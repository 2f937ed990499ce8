"""The one exception root of the project and its kinds."""

from __future__ import annotations


class CoachError(Exception):
    """Root of every error the project raises on purpose."""


class ConfigError(CoachError):
    """The environment asks for something inconsistent (a token without its secret, say). Stops start-up."""


class KnowledgeError(CoachError):
    """A knowledge file is wrong. ``problems`` holds one "file:line: what is wrong" line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class StoreUnavailable(CoachError):
    """The storage could not be reached in time (down, cut off, or too slow). The call did not complete.

    The server answers the turn in flight with a short apology and reports not ready until the
    storage answers again; nothing is retried for the caller.
    """


class AlreadyClaimed(CoachError):
    """A turn's claim (a Slack event id, say) was taken before: this delivery is a retry or a replay.

    Raised by the store from inside the turn's own transaction, so nothing of the turn was written;
    the adapter acknowledges the delivery and does nothing more.
    """

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__(f"claimed before in {scope}")
