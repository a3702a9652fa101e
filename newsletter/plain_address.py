"""An address that email-validator certainly accepts, told without importing it.

email-validator compiles its patterns when it is imported (about 15 ms), which every command
would pay for the few addresses in ``newsletter.toml``. The addresses written there are plain
(``research@news.example.org``): an ASCII dot-atom local part and a domain of letter-digit-hyphen
labels ending in a letters-only top-level label. For those the answer is known without it;
anything else (quotes, non-ASCII, IP literals, odd hyphens, a special-use name) is left to
email-validator, so a refused address still gets its explanation. ``tests/test_config.py`` holds
this check to email-validator's verdicts.
"""

from __future__ import annotations

import re

# RFC 5322 atext, dot-separated, at most 64 characters (email-validator's local-part limit).
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
# Labels of letters, digits and inner hyphens (never two in a row: no "xn--" or R-LDH label to
# judge), at most 63 long, then a top-level label of 2 to 63 letters.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?!-)){0,62}(?<!-)"
_PLAIN = re.compile(rf"(?P<local>{_LOCAL})@(?P<domain>(?:{_LABEL}\.)+[A-Za-z]{{2,63}})")

# email-validator's SPECIAL_USE_DOMAIN_NAMES (2.x): an address at one of these, or under one, is
# refused. The test compares this list with the installed email-validator's.
SPECIAL_USE = ("arpa", "invalid", "local", "localhost", "onion", "test")

MAX_LOCAL, MAX_DOMAIN, MAX_ADDRESS = 64, 253, 254


def is_plain_address(text: str) -> bool:
    """True when ``text`` is an address email-validator accepts as it is (syntax, no DNS);
    False means "ask email-validator", not "invalid"."""
    if len(text) > MAX_ADDRESS:
        return False
    m = _PLAIN.fullmatch(text)
    if m is None or len(m["local"]) > MAX_LOCAL or len(m["domain"]) > MAX_DOMAIN:
        return False
    domain = m["domain"].lower()
    return not any(domain == name or domain.endswith("." + name) for name in SPECIAL_USE)
