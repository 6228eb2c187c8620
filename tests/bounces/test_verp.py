"""VERP return paths: signed, case-proof, no address in them."""

from __future__ import annotations

import pytest

from tidings.sending.verp import ReturnPaths


def test_the_address_names_the_delivery_and_nothing_else() -> None:
    paths = ReturnPaths("secret-one")
    address = paths.address(12345, ["News ", "news@Example.COM>"][1].rstrip(">"))
    local, _, domain = address.partition("@")
    assert domain == "example.com"
    assert local.startswith("bounces+")
    assert len(local) <= 64  # RFC 5321 local-part limit
    assert "12345" not in local
    assert paths.read_address(address) == 12345
    assert paths.read_address(f"<{address.upper()}>") == 12345  # case changed on the way


def test_the_bounce_domain_setting_wins() -> None:
    paths = ReturnPaths("s", domain="Bounces.Example.net")
    assert paths.address(1, "news@example.com").endswith("@bounces.example.net")


@pytest.mark.parametrize("delivery_id", [0, 1, 127, 128, 2**31, 2**62])
def test_round_trip(delivery_id: int) -> None:
    paths = ReturnPaths("s")
    assert paths.read_token(paths.token(delivery_id)) == delivery_id


def test_forged_altered_and_foreign_tokens_are_refused() -> None:
    ours, theirs = ReturnPaths("ours"), ReturnPaths("theirs")
    token = ours.token(77)
    assert theirs.read_token(token) is None
    flipped = token[:-1] + ("a" if token[-1] != "a" else "b")
    assert ours.read_token(flipped) is None
    for bad in ["", "x", "bounces", "!!!!!!!!!!!!!!!!!!!!", "a" * 200, token + "a", "0" * 24]:
        assert ours.read_token(bad) is None
    for bad in [
        f"bounce+{token}@example.com",
        f"bounces+{token}",
        f"bounces+{token}@",
        "someone@example.com",
        "",
        "@",
        f"bounces+{theirs.token(77)}@example.com",
    ]:
        assert ours.read_address(bad) is None
