"""Secrets never travel: credentials are taken out of anything edgeload writes or prints.

`scrub(value)` drops keys that name a secret (token, password, ...) at any depth and strips
the user:password part of every URL in the strings it keeps; `strip_credentials(text)` does
the latter for one string (an option such as `--k8s http://user:secret@host`, a message).
"""

from __future__ import annotations

import re
from typing import Any

_SECRET_WORDS = ("token", "secret", "password", "api_key", "apikey")
# scheme://user[:password]@ : the credentials part of a URL, wherever it stands in a text
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")


def strip_credentials(text: str) -> str:
    """`text` with `scheme://user:password@host` written as `scheme://host`."""
    return _URL_CREDENTIALS.sub(r"\g<scheme>", text) if "@" in text else text


def scrub(value: Any) -> Any:
    """`value` without anything keyed like a secret and without URL credentials, at any depth."""
    if isinstance(value, dict):
        return {
            k: scrub(v)
            for k, v in value.items()
            if not any(word in str(k).lower() for word in _SECRET_WORDS)
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return strip_credentials(value)
    return value
