"""Webhook request signatures (CONTRACT.md section 6).

A webhook trigger with a secret accepts a call only when it carries

    X-Flowlane-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}." + raw body)>

The timestamp is inside the signed message, so a captured request cannot be replayed with a
fresh `t`, and a request whose `t` is more than the tolerance away from now is refused: a replay
works only inside that window (`flowlane.runtime.webhook_idempotency` makes a replay inside it
start nothing new). Several `v1=` entries may be sent, so a sender can sign with the old and the
new secret while a secret is being rotated; any one matching passes. Unknown schemes (`v0=`, a
future `v2=`) are ignored so senders can add schemes before we check them.

Only the standard library: the webhooks Lambda verifies before it does anything else, and this
module must cost nothing at cold start.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from flowlane.errors import Unauthorized

SIGNATURE_HEADER = "X-Flowlane-Signature"
DEFAULT_TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"

# Digits only (no sign, no spaces); 15 digits is far beyond any real Unix time and keeps int()
# cheap whatever a caller sends.
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
# Either case is accepted: hex case carries no information, and some platforms (.NET's
# Convert.ToHexString, for one) emit uppercase. `sign` always emits lowercase.
_V1 = re.compile(r"[0-9a-fA-F]{64}")
_MALFORMED = f"malformed {SIGNATURE_HEADER} header: expected t=<unix seconds>,v1=<64 hex digits>"


def new_secret() -> str:
    """A fresh webhook secret: `whsec_` and 32 random bytes, URL-safe base64 (no padding)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    if not secret:
        # An empty key would make every signature computable by anyone.
        raise ValueError("a webhook secret must not be empty")
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for `body` sent at `timestamp`: `t=<timestamp>,v1=<lowercase hex>`.

    The secret is used as UTF-8 bytes exactly as shown to the user, `whsec_` prefix included.
    """
    if timestamp < 0:
        raise ValueError("a signature timestamp is Unix seconds, never negative")
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def _parse(header: str) -> tuple[int, list[str]]:
    """The timestamp and the v1 candidates (lowercased); `Unauthorized` when malformed."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        scheme, sep, value = part.strip().partition("=")
        if not sep:
            raise Unauthorized(_MALFORMED, {"reason": "malformed"})
        if scheme == "t":
            # Two timestamps would leave it to us to guess which one was signed.
            if timestamp is not None or not _TIMESTAMP.fullmatch(value):
                raise Unauthorized(_MALFORMED, {"reason": "malformed"})
            timestamp = int(value)
        elif scheme == "v1":
            if not _V1.fullmatch(value):
                raise Unauthorized(_MALFORMED, {"reason": "malformed"})
            candidates.append(value.lower())
        # Any other scheme is ignored (see the module docstring).
    if timestamp is None or not candidates:
        raise Unauthorized(_MALFORMED, {"reason": "malformed"})
    return timestamp, candidates


def verify(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Check a request's signature header against its raw body; return the signed timestamp.

    Raises `Unauthorized` (401) saying which check failed, in this order, with
    `details.reason` one of: `missing` (no header, or an empty one); `malformed` (not `t=<int>`
    and at least one `v1=<64 hex>`; spaces after commas are fine, other schemes are ignored, a
    second `t` or a `v1` that is not 64 hex digits is malformed); `expired` (`t` older than
    `tolerance_seconds`); `future` (`t` more than `tolerance_seconds` ahead: the sender's clock);
    `mismatch` (no `v1` is the HMAC of this body with this secret). Exactly `tolerance_seconds`
    away passes. The expected signature never appears in a message.

    `v1` hex is compared case-insensitively (uppercase is accepted): the signature is the same
    256 bits either way, so refusing it would only break senders, never stop an attacker.

    The timestamp is checked before any HMAC is computed, so a stale flood costs no hashing.
    Every candidate is compared with `hmac.compare_digest` (constant time); all are compared,
    whatever an earlier one gave. Candidates are all 64 characters by the time they are compared
    (the format check, which depends only on what the caller sent, ensures that).
    """
    if tolerance_seconds < 0:
        raise ValueError("tolerance_seconds must not be negative")
    if header is None or not header.strip():
        raise Unauthorized(f"missing {SIGNATURE_HEADER} header", {"reason": "missing"})
    timestamp, candidates = _parse(header)
    age = now - timestamp
    if age > tolerance_seconds:
        raise Unauthorized(
            f"{SIGNATURE_HEADER} timestamp is too old (more than {tolerance_seconds} s)",
            {"reason": "expired"},
        )
    if -age > tolerance_seconds:
        raise Unauthorized(
            f"{SIGNATURE_HEADER} timestamp is more than {tolerance_seconds} s in the future; "
            "check the sender's clock",
            {"reason": "future"},
        )
    expected = _digest(secret, body, timestamp).encode()
    matched = False
    for candidate in candidates:
        # `|` rather than `or`, so a match does not skip the comparisons after it.
        matched |= hmac.compare_digest(expected, candidate.encode())
    if not matched:
        raise Unauthorized(
            f"no v1 signature in {SIGNATURE_HEADER} matches the request body",
            {"reason": "mismatch"},
        )
    return timestamp
