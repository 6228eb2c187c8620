"""Signed tracking tokens (B5): round trip, tampering, truncation, purposes, keys."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.sending import tokens
from tidings.sending.tokens import (
    CLICK,
    OPEN,
    SIGNATURE_BYTES,
    UNSUBSCRIBE,
    TokenData,
    TokenSigner,
    click_path,
    open_path,
    unsubscribe_path,
)

SIGNER = TokenSigner("test-secret-key-0123456789")
URLSAFE = re.compile(r"^[A-Za-z0-9_-]+$")
ids = st.integers(min_value=0, max_value=2**62)


@given(delivery_id=ids, link_id=ids)
def test_round_trip_for_any_ids(delivery_id: int, link_id: int) -> None:
    token = SIGNER.make(CLICK, delivery_id, link_id)
    assert URLSAFE.match(token), token
    assert "=" not in token
    assert SIGNER.read(CLICK, token) == TokenData(delivery_id=delivery_id, link_id=link_id)


def test_token_is_short_and_holds_no_readable_data() -> None:
    token = SIGNER.make(CLICK, 123456, 789)
    assert 8 <= len(token) <= 64
    assert "123456" not in token and "789" not in token
    assert SIGNER.make(CLICK, 123456, 789) == token  # deterministic: same link, same URL


@given(delivery_id=ids, link_id=ids, data=st.data())
def test_any_single_flipped_byte_is_rejected(
    delivery_id: int, link_id: int, data: st.DataObject
) -> None:
    token = SIGNER.make(CLICK, delivery_id, link_id)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    index = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    bit = data.draw(st.integers(min_value=0, max_value=7))
    raw[index] ^= 1 << bit
    tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert SIGNER.read(CLICK, tampered) is None


def test_changed_characters_are_rejected() -> None:
    token = SIGNER.make(CLICK, 42, 7)
    for index in range(len(token)):
        for replacement in ALPHABET:
            if replacement == token[index]:
                continue
            tampered = token[:index] + replacement + token[index + 1 :]
            # Even where only the unused low bits of the last character change.
            assert SIGNER.read(CLICK, tampered) is None, (index, replacement)


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _same_bytes_spelled_otherwise(token: str, data: st.DataObject) -> str:
    """Another spelling of ``token`` that a lenient base64 decoder reads the same."""
    ways = ["padding", "standard alphabet", "stray character"]
    if len(token) % 4:
        ways.append("low bits")
    way = data.draw(st.sampled_from(ways))
    if way == "padding":
        return token + data.draw(st.sampled_from(["=", "==", "==="]))
    if way == "standard alphabet":
        swapped = token.replace("-", "+").replace("_", "/")
        return swapped if swapped != token else token + "="
    if way == "stray character":
        index = data.draw(st.integers(min_value=0, max_value=len(token)))
        stray = data.draw(st.sampled_from(["!", ".", "~", " ", "\n", "*", "$", "é"]))
        return token[:index] + stray + token[index:]
    spare = 0xF if len(token) % 4 == 2 else 0x3
    value = ALPHABET.index(token[-1])
    flipped = value | data.draw(st.integers(min_value=1, max_value=spare))
    return token[:-1] + ALPHABET[flipped]


@given(delivery_id=ids, link_id=ids, data=st.data())
def test_only_the_canonical_spelling_is_accepted(
    delivery_id: int, link_id: int, data: st.DataObject
) -> None:
    token = SIGNER.make(CLICK, delivery_id, link_id)
    other = _same_bytes_spelled_otherwise(token, data)
    assert other != token
    assert SIGNER.read(CLICK, token) == TokenData(delivery_id, link_id)
    assert SIGNER.read(CLICK, other) is None, other


def test_truncated_and_extended_tokens_are_rejected() -> None:
    token = SIGNER.make(CLICK, 987654321, 12345)
    for cut in range(1, len(token)):
        assert SIGNER.read(CLICK, token[:cut]) is None, cut
    assert SIGNER.read(CLICK, token + "A") is None
    assert SIGNER.read(CLICK, token + "AAAA") is None
    assert SIGNER.read(CLICK, "A" * 4 + token) is None


@pytest.mark.parametrize(
    "garbage",
    ["", "x", "!!!!!!!!!!!!", "a" * 65, "a" * 22, "////////////////", "é" * 16, "=" * 16, " " * 16],
)
def test_garbage_is_rejected_without_error(garbage: str) -> None:
    for purpose in (CLICK, OPEN, UNSUBSCRIBE):
        assert SIGNER.read(purpose, garbage) is None


def test_a_token_serves_only_its_purpose() -> None:
    made = {purpose: SIGNER.make(purpose, 5, 9) for purpose in (CLICK, OPEN, UNSUBSCRIBE)}
    assert len(set(made.values())) == 3
    for made_for, token in made.items():
        for read_as in (CLICK, OPEN, UNSUBSCRIBE):
            expected = TokenData(5, 9) if read_as == made_for else None
            assert SIGNER.read(read_as, token) == expected


def test_another_secret_cannot_read_or_forge() -> None:
    other = TokenSigner("another-secret-key-0123456789")
    token = SIGNER.make(CLICK, 1, 2)
    assert other.read(CLICK, token) is None
    assert SIGNER.read(CLICK, other.make(CLICK, 1, 2)) is None


def test_payload_with_extra_or_broken_varints_is_rejected() -> None:
    # Correctly signed, but not two complete varints: refused all the same.
    key = SIGNER._sign  # the signing function, to build such tokens
    for payload in (b"\x01", b"\x01\x02\x03", b"\x81", b"\x01\x82", b"\xff" * 10 + b"\x01\x00"):
        raw = payload + key(CLICK, payload)
        token = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        assert SIGNER.read(CLICK, token) is None, payload


def test_signature_is_truncated_hmac_of_expected_size() -> None:
    token = SIGNER.make(CLICK, 1, 1)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) == 2 + SIGNATURE_BYTES
    assert SIGNATURE_BYTES >= 12  # 96 bits: unguessable


def test_paths() -> None:
    click = click_path(SIGNER, 10, 20)
    assert click.startswith("/t/c/")
    assert SIGNER.read(CLICK, click.removeprefix("/t/c/")) == TokenData(10, 20)
    pixel = open_path(SIGNER, 10, 3)
    assert pixel.startswith("/t/o/") and pixel.endswith(".gif")
    assert SIGNER.read(OPEN, pixel.removeprefix("/t/o/").removesuffix(".gif")) == TokenData(10, 3)
    unsubscribe = unsubscribe_path(SIGNER, 10)
    assert SIGNER.read(UNSUBSCRIBE, unsubscribe.removeprefix("/u/")) == TokenData(10, 0)
    assert tokens.CLICK != tokens.OPEN != tokens.UNSUBSCRIBE
