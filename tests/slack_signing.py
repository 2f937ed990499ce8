"""Sign request bodies the way Slack does (v0): ``v0=`` + hex HMAC-SHA256(secret, "v0:{timestamp}:{body}").

Written from Slack's description, not with Bolt's helper, so the tests check Bolt's verification
against an independent signer.
"""

from __future__ import annotations

import hashlib
import hmac
import time


def signature(secret: str, timestamp: int | str, body: str | bytes) -> str:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = f"v0:{timestamp}:".encode() + raw
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, body: str | bytes, *, content_type: str, timestamp: int | None = None, retry_num: int | None = None
) -> dict[str, str]:
    """Headers Slack would send with ``body``: content type, timestamp, signature (and retry ones when given)."""
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(secret, ts, body),
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers
