"""Stripe's signature scheme, checked against the stripe library's own verifier."""

from __future__ import annotations

import time

import pytest
import stripe

from ingress.signature import SignatureError, sign, verify_signature

SECRET = "whsec_unit_" + "c" * 24
BODY = b'{"id":"evt_1","object":"event"}'


def test_our_signature_is_what_the_stripe_library_accepts() -> None:
    header = sign(BODY, SECRET)
    stripe.WebhookSignature.verify_header(BODY.decode(), header, SECRET, tolerance=300)
    verify_signature(BODY, header, (SECRET.encode(),))


def test_a_header_signed_by_stripes_scheme_is_accepted() -> None:
    timestamp = int(time.time())
    digest = stripe.WebhookSignature._compute_signature(f"{timestamp}.{BODY.decode()}", SECRET)
    assert verify_signature(BODY, f"t={timestamp},v1={digest}", (SECRET.encode(),)) == timestamp


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing_signature"),
        ("", "missing_signature"),
        ("garbage", "malformed_signature"),
        ("t=123", "malformed_signature"),
        ("v1=abc", "malformed_signature"),
        ("t=abc,v1=abc", "malformed_signature"),
        ("t=1,v1=" + "a" * 9000, "malformed_signature"),
    ],
)
def test_malformed_headers(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureError) as error:
        verify_signature(BODY, header, (SECRET.encode(),))
    assert error.value.reason == reason


def test_tolerance_is_enforced_both_ways() -> None:
    now = 1_800_000_000
    for skew in (-301, 301):
        header = sign(BODY, SECRET, timestamp=now + skew)
        with pytest.raises(SignatureError) as error:
            verify_signature(BODY, header, (SECRET.encode(),), now=now)
        assert error.value.reason == "stale_timestamp"
    for skew in (-300, 300):
        verify_signature(
            BODY, sign(BODY, SECRET, timestamp=now + skew), (SECRET.encode(),), now=now
        )


def test_wrong_secret_and_tampered_body() -> None:
    header = sign(BODY, SECRET)
    with pytest.raises(SignatureError, match="no v1 signature"):
        verify_signature(BODY, header, (b"whsec_other",))
    with pytest.raises(SignatureError, match="no v1 signature"):
        verify_signature(BODY + b" ", header, (SECRET.encode(),))


def test_any_configured_secret_and_any_v1_entry() -> None:
    header = sign(BODY, SECRET)
    timestamp, v1 = header.split(",")
    mixed = f"{timestamp},v0=deadbeef,v1={'0' * 64},{v1}"
    verify_signature(BODY, mixed, (b"whsec_rotated_out", SECRET.encode()))


def test_v0_alone_is_not_enough() -> None:
    timestamp, v1 = sign(BODY, SECRET).split(",")
    with pytest.raises(SignatureError) as error:
        verify_signature(BODY, f"{timestamp},v0={v1[3:]}", (SECRET.encode(),))
    assert error.value.reason == "malformed_signature"


def test_several_v1_entries_none_valid_is_refused() -> None:
    timestamp = sign(BODY, SECRET).split(",")[0]
    forged = ",".join([timestamp, *(f"v1={digit * 64}" for digit in "0123456789abcdef")])
    with pytest.raises(SignatureError) as error:
        verify_signature(BODY, forged, (SECRET.encode(),))
    assert error.value.reason == "invalid_signature"


def test_a_second_timestamp_cannot_refresh_an_old_signature() -> None:
    """A replayed header with a fresh ``t=`` appended: the signature covers the timestamp
    that is checked, so an old signature cannot be made current."""
    now = 1_800_000_000
    old = sign(BODY, SECRET, timestamp=now - 3600)
    for header in (f"{old},t={now}", f"t={now},{old}"):
        with pytest.raises(SignatureError) as error:
            verify_signature(BODY, header, (SECRET.encode(),), now=now)
        assert error.value.reason in ("invalid_signature", "stale_timestamp")
