"""Webhook signatures (CONTRACT.md section 6): what `verify` accepts, and why it refuses."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowlane.errors import Unauthorized
from flowlane.runtime.webhook_signature import (
    SIGNATURE_HEADER,
    new_secret,
    sign,
    verify,
)

SECRET = "whsec_test-secret"
OTHER_SECRET = "whsec_other-secret"
BODY = b'{"event": "issue.opened", "id": 42}'
T = 1_700_000_000


def _v1(header: str) -> str:
    return header.split("v1=", 1)[1]


def _refused(
    header: str | None, *, body: bytes = BODY, now: float = T, secret: str = SECRET
) -> str:
    """The reason `verify` refuses; fails the test when it accepts."""
    with pytest.raises(Unauthorized) as caught:
        verify(secret, header, body, now=now)
    reason: str = caught.value.details["reason"]
    return reason


# -- accepted ------------------------------------------------------------------------------


def test_a_good_signature_passes_and_returns_its_timestamp() -> None:
    header = sign(SECRET, BODY, T)

    assert verify(SECRET, header, BODY, now=T + 5) == T


def test_sign_follows_the_contract_format() -> None:
    header = sign(SECRET, BODY, T)
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()

    assert header == f"t={T},v1={expected}"
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)


@pytest.mark.parametrize("offset", [300, -300])
def test_exactly_at_the_tolerance_passes(offset: int) -> None:
    # now - t == 300 (oldest accepted) and t - now == 300 (furthest clock skew accepted)
    assert verify(SECRET, sign(SECRET, BODY, T), BODY, now=T + offset) == T


def test_the_tolerance_is_a_parameter() -> None:
    header = sign(SECRET, BODY, T)

    assert verify(SECRET, header, BODY, now=T + 900, tolerance_seconds=900) == T
    with pytest.raises(Unauthorized):
        verify(SECRET, header, BODY, now=T + 11, tolerance_seconds=10)


def test_spaces_after_commas_and_unknown_schemes_are_tolerated() -> None:
    v1 = _v1(sign(SECRET, BODY, T))
    header = f"t={T}, v0=deadbeef, v1={v1}, v9=anything"

    assert verify(SECRET, header, BODY, now=T) == T


def test_several_v1_pass_when_one_matches() -> None:
    """Secret rotation: the sender signs with the old and the new secret."""
    old = _v1(sign(OTHER_SECRET, BODY, T))
    new = _v1(sign(SECRET, BODY, T))

    assert verify(SECRET, f"t={T},v1={old},v1={new}", BODY, now=T) == T
    assert verify(SECRET, f"v1={new},t={T},v1={old}", BODY, now=T) == T


def test_uppercase_hex_is_accepted() -> None:
    """Documented choice: hex case carries no information, so refusing it stops no attacker."""
    v1 = _v1(sign(SECRET, BODY, T))

    assert verify(SECRET, f"t={T},v1={v1.upper()}", BODY, now=T) == T


def test_an_empty_body_can_be_signed() -> None:
    assert verify(SECRET, sign(SECRET, b"", T), b"", now=T) == T


# -- refused -------------------------------------------------------------------------------


def test_a_wrong_secret_is_a_mismatch() -> None:
    assert _refused(sign(OTHER_SECRET, BODY, T)) == "mismatch"


def test_a_body_changed_by_one_byte_is_a_mismatch() -> None:
    changed = BODY.replace(b"42", b"43")

    assert _refused(sign(SECRET, BODY, T), body=changed) == "mismatch"


def test_a_timestamp_changed_after_signing_is_a_mismatch() -> None:
    """The timestamp is signed: a captured request cannot be replayed with a fresh one."""
    v1 = _v1(sign(SECRET, BODY, T))

    assert _refused(f"t={T + 60},v1={v1}", now=T + 60) == "mismatch"


def test_a_stale_timestamp_is_refused() -> None:
    assert _refused(sign(SECRET, BODY, T), now=T + 301) == "expired"


def test_a_future_timestamp_is_refused() -> None:
    assert _refused(sign(SECRET, BODY, T + 301), now=T) == "future"


@pytest.mark.parametrize("header", [None, "", "   "])
def test_a_missing_header_is_refused(header: str | None) -> None:
    assert _refused(header) == "missing"


GOOD_V1 = "a" * 64


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"v1={GOOD_V1}",  # no timestamp
        f"t={T}",  # no v1
        f"t={T},v0={GOOD_V1}",  # only an unknown scheme
        f"t=,v1={GOOD_V1}",
        f"t=-5,v1={GOOD_V1}",
        f"t=1.5,v1={GOOD_V1}",
        f"t=abc,v1={GOOD_V1}",
        f"t= {T},v1={GOOD_V1}",
        f"t={'9' * 16},v1={GOOD_V1}",
        f"t={T},t={T},v1={GOOD_V1}",  # which one was signed?
        f"t={T},v1={'a' * 63}",
        f"t={T},v1={'a' * 65}",
        f"t={T},v1={'g' * 64}",
        f"t={T},v1=",
        f"t={T},v1={GOOD_V1},v1=short",  # every v1 must be well formed
        f"t={T},v1={GOOD_V1},",  # a trailing comma leaves an empty entry
        f"t={T};v1={GOOD_V1}",
    ],
)
def test_malformed_headers_are_refused(header: str) -> None:
    assert _refused(header) == "malformed"


def test_the_order_of_checks_is_format_then_time_then_signature() -> None:
    # A stale request with a wrong signature is reported as stale: no HMAC is computed for it.
    assert _refused(sign(OTHER_SECRET, BODY, T), now=T + 1000) == "expired"


def test_messages_name_the_reason_and_never_the_expected_signature() -> None:
    expected = _v1(sign(SECRET, BODY, T))
    messages = []
    for header, now in [
        (None, T),
        ("t=1", T),
        (sign(SECRET, BODY, T), T + 301),
        (sign(SECRET, BODY, T), T - 301),
        (sign(OTHER_SECRET, BODY, T), T),
    ]:
        with pytest.raises(Unauthorized) as caught:
            verify(SECRET, header, BODY, now=now)
        messages.append(caught.value.message)
        assert expected not in str(caught.value)
        assert expected not in repr(caught.value.details)

    assert "missing" in messages[0]
    assert "malformed" in messages[1]
    assert "too old" in messages[2]
    assert "future" in messages[3]
    assert "no v1 signature" in messages[4]
    assert all(SIGNATURE_HEADER in message for message in messages)


def test_an_empty_secret_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="secret"):
        sign("", BODY, T)
    with pytest.raises(ValueError, match="secret"):
        verify("", f"t={T},v1={GOOD_V1}", BODY, now=T)


# -- secrets -------------------------------------------------------------------------------


def test_new_secrets_are_prefixed_random_and_url_safe() -> None:
    secrets = {new_secret() for _ in range(20)}

    assert len(secrets) == 20
    for secret in secrets:
        # 32 bytes in unpadded URL-safe base64 are 43 characters.
        assert re.fullmatch(r"whsec_[A-Za-z0-9_-]{43}", secret)


# -- properties ----------------------------------------------------------------------------

secret_text = st.text(min_size=1, max_size=64)
bodies = st.binary(max_size=2048)
timestamps = st.integers(min_value=0, max_value=4_102_444_800)  # up to 2100


@given(secret=secret_text, body=bodies, timestamp=timestamps)
def test_sign_then_verify_round_trips(secret: str, body: bytes, timestamp: int) -> None:
    assert verify(secret, sign(secret, body, timestamp), body, now=timestamp) == timestamp


@given(
    secret=secret_text,
    body=bodies.filter(bool),
    timestamp=timestamps,
    data=st.data(),
)
def test_any_single_byte_change_of_the_body_fails(
    secret: str, body: bytes, timestamp: int, data: st.DataObject
) -> None:
    header = sign(secret, body, timestamp)
    index = data.draw(st.integers(min_value=0, max_value=len(body) - 1), label="index")
    replacement = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != body[index]),
        label="replacement",
    )
    changed = body[:index] + bytes([replacement]) + body[index + 1 :]

    with pytest.raises(Unauthorized) as caught:
        verify(secret, header, changed, now=timestamp)
    assert caught.value.details["reason"] == "mismatch"
