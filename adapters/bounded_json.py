"""JSON from the network, parsed only once it is known to be small and shallow enough.

Why: Python's json module recurses once per nesting level, so a body of a few thousand "[" raises
RecursionError (not ValueError) deep inside whatever parses it, and a request turns into a 500 and
a traceback. Depth is counted here first, in one flat pass over the text, and anything too big or
too deep is refused with a ValueError that callers already turn into a 400.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # Slack and Bot Framework payloads nest fewer than 15 levels
MAX_BYTES = 1_000_000  # Slack caps a message at 40,000 characters; a Teams activity with a card stays far below this


class TooLarge(ValueError):
    """The body is over the size limit; HTTP callers answer 413."""


def depth(text: str) -> int:
    """The deepest nesting of objects and arrays in ``text``, ignoring brackets inside strings."""
    deepest = level = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            level += 1
            deepest = max(deepest, level)
        elif char in "]}":
            level -= 1
    return deepest


def loads(body: bytes | str, *, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES) -> Any:
    """``json.loads`` for untrusted input: ValueError (TooLarge for size) instead of anything else."""
    if len(body) > max_bytes:
        raise TooLarge(f"body over {max_bytes} bytes")
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as error:
        raise ValueError("body is not UTF-8") from error
    if text.count("[") + text.count("{") > max_depth and depth(text) > max_depth:  # most bodies can't be that deep
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    return json.loads(text)
