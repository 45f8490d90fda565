"""Text folding shared by the normalizers that match values against lists of known spellings."""

from __future__ import annotations

import re
import unicodedata

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def fold(value: str) -> str:
    """Lowercase ASCII words separated by single spaces: 'U.S.A.' -> 'u s a', 'España' -> 'espana'."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return _NOT_WORD.sub(" ", ascii_text.lower()).strip()
