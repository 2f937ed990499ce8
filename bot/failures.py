"""When a turn fails: what the person hears, and how the failure is logged without their words.

Every platform apologises in the same words, and logs a failure the same safe way: the error's type
and where it was raised, never its message, which may quote what someone typed.
"""

from __future__ import annotations

import logging
import traceback

from bot.messages import Reply

# Something failed on our side (a bug, a platform that did not answer): the turn may be tried again.
APOLOGY = Reply(
    kind="error", title="Sorry, something went wrong on my side.", text="Please try again in a moment.", private=True
)
# The store could not be reached (the database is down or cut off): the coach answers this itself (bot/coach.py).
STORE_APOLOGY = Reply(
    kind="error", title="Sorry, I can't reach my records right now.", text="Please try again in a minute.", private=True
)


def frames(error: BaseException) -> str:
    """Where ``error`` was raised, innermost first, as ``file:line function`` (no source, no message)."""
    return " < ".join(
        f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}"
        for frame in reversed(traceback.extract_tb(error.__traceback__))
    )


def log_failure(logger: logging.Logger, what: str, error: BaseException) -> None:
    """Log that ``what`` failed with ``error``: its type and frames only."""
    logger.error("%s failed: %s at %s", what, type(error).__name__, frames(error))


def apologise(logger: logging.Logger, what: str, error: BaseException) -> Reply:
    """Log the failure (``log_failure``) and give the apology to send in its place."""
    log_failure(logger, what, error)
    return APOLOGY
