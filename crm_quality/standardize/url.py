"""Website addresses: trimmed, scheme and host lowercased, a bare domain given https://."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from crm_quality.standardize.rules import fix, flag

CLEANED = fix("url.cleaned", "Website address written with scheme and lowercase host")
INVALID = flag("url.invalid", "Website field holds something that is not a web address")

_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True)
class Url:
    value: str | None
    domain: str | None
    """The host without 'www.': what two records of one company share."""
    rules: tuple[str, ...]


def normalize_url(value: str | None) -> Url:
    text = (value or "").strip()
    if not text:
        return Url(None, None, ())
    candidate = text if "://" in text else "https://" + text
    try:
        parts = urlsplit(candidate)
        host, port = (parts.hostname or "").rstrip("."), parts.port
    except ValueError:
        return Url(text, None, (INVALID,))
    if parts.scheme.lower() not in ("http", "https") or parts.username or not _HOST.match(host):
        return Url(text, None, (INVALID,))
    netloc = f"{host}:{port}" if port else host
    cleaned = urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), parts.query, ""))
    return Url(cleaned, host.removeprefix("www."), () if cleaned == value else (CLEANED,))
