"""The deployment's secret, and the keyed hash (HMAC-SHA256) made with it: what the erasure log
and the suppression list keep instead of an identifier. The same hash is computed in Python and
in DuckDB, so that a table is checked in SQL without its values leaving the warehouse."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from crm_quality.errors import SettingsError

SECRET_BYTES = 32
BLOCK = 64
"""SHA-256's block size: the key is padded to it (RFC 2104)."""


def deployment_secret(path: Path, create: bool = False) -> bytes:
    """The secret in ``path``, made (readable by its owner only) when ``create`` and it is missing.
    Losing it makes the suppression list unreadable: it is kept out of backups and exports, so
    back it up apart from them."""
    if not path.is_file():
        if not create:
            raise SettingsError(f"{path}: the deployment's secret is missing; the suppression list was made with it. "
                                "Restore the file from where you keep it (set CRM_QUALITY_SECRET_FILE if it lies "
                                "elsewhere)")
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(SECRET_BYTES))
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < SECRET_BYTES // 2:
        raise SettingsError(f"{path}: not a secret this tool wrote (expected {SECRET_BYTES * 2} hex digits)")
    return key


def keyed_hash(key: bytes, kind: str, value: str) -> str:
    """HMAC-SHA256 of ``kind:value``, in hex."""
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def keyed_hash_sql(kind_and_value: str) -> str:
    """SQL for :func:`keyed_hash` of a ``kind:value`` text expression; it takes the named
    parameters of :func:`pads`."""
    return f"sha256($outer_pad::BLOB || unhex(sha256($inner_pad::BLOB || encode({kind_and_value}))))"


def pads(key: bytes) -> dict[str, bytes]:
    """HMAC's outer and inner padded keys, the parameters of :func:`keyed_hash_sql`."""
    padded = (key if len(key) <= BLOCK else hashlib.sha256(key).digest()).ljust(BLOCK, b"\0")
    return {"outer_pad": bytes(b ^ 0x5C for b in padded), "inner_pad": bytes(b ^ 0x36 for b in padded)}
