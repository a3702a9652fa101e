"""plain_address.is_plain_address: never True for an address email-validator refuses.

The config loader takes a plain address as valid without importing email-validator (its import
compiles patterns for ~15 ms). False only sends the address on to email-validator, so the one
property that matters is soundness: True implies email-validator accepts it unchanged in meaning.
"""

from __future__ import annotations

import email_validator
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from newsletter.plain_address import SPECIAL_USE, is_plain_address


def accepted(text: str) -> bool:
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def test_the_special_use_names_are_email_validators() -> None:
    assert sorted(SPECIAL_USE) == sorted(email_validator.SPECIAL_USE_DOMAIN_NAMES)


@pytest.mark.parametrize(
    "text",
    [
        "research@news.kairoswellness.org",
        "hello@kairoswellness.org",
        "A.B-c+tag@Sub.Example.COM",
        "o'brien@example.ie",
        "x@a.io",
        "a" * 64 + "@example.org",
        "x@" + "a" * 63 + ".org",
        "x@" + ".".join(["a" * 61] * 4) + ".org",  # 253 long: the domain's limit
        "x@123.example.com",
        "x@a-b.c-d.org",
    ],
)
def test_plain_addresses_are_known_valid(text: str) -> None:
    assert accepted(text)
    assert is_plain_address(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a" * 65 + "@example.org",  # local part too long
        "x@" + "a" * 64 + ".org",  # label too long
        "x@" + ".".join(["a" * 62] * 4) + ".org",  # domain too long
        "x@example",  # no period
        "x@example.123",  # numeric top-level label
        "x@example.c",  # one-letter top-level label: left to email-validator
        "x@-example.org", "x@example-.org", "x@ex--ample.org", "x@xn--bcher-kva.example",
        "x@example..org", "x.@example.org", ".x@example.org", "x..y@example.org",
        "x@localhost", "x@host.localhost", "x@printer.local", "x@a.test", "x@1.0.0.127.in-addr.arpa", "x@a.invalid", "x@a.onion",
        "x@EXAMPLE.TEST",
        " x@example.org", "x@example.org ", "x y@example.org", '"x"@example.org', "x@[127.0.0.1]",
        "hallo@bücher.example", "ü@example.org", "x@example.org\n",
        "x@@example.org", "x@y@example.org", "x@example.org.",
    ],
)
def test_anything_else_is_left_to_email_validator(text: str) -> None:
    assert not is_plain_address(text)


ATEXT = "abcXYZ0189!#$%&'*+/=?^_`{|}~-"


@fuzz_settings(max_examples=2000, deadline=None)
@given(
    st.text(alphabet=ATEXT + ".", min_size=0, max_size=70),
    st.lists(st.text(alphabet="abcXY019-", min_size=0, max_size=66), min_size=1, max_size=5),
    st.sampled_from(["org", "COM", "io", "c", "123", "test", "local", "arpa", "x1", "a" * 63, "a" * 64, ""]),
)
def test_never_true_for_an_address_email_validator_refuses(local: str, labels: list[str], tld: str) -> None:
    text = f"{local}@{'.'.join(labels + [tld])}"
    if is_plain_address(text):
        assert accepted(text), text
