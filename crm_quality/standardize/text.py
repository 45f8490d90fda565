"""Text folding shared by the normalizers that match values against lists of known spellings."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NOT_WORD = re.compile(r"[^a-z0-9]+")
_SPELLED_OUT = str.maketrans({"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d"})


def fold(value: str) -> str:
    """Lowercase ASCII words separated by single spaces: 'U.S.A.' -> 'u s a', 'España' -> 'espana'.

    Folded word by word, with each word's folding remembered: names repeat their words.
    """
    return " ".join(folded for word in value.split() if (folded := _fold_word(word)))


@lru_cache(maxsize=200_000)
def _fold_word(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.lower().translate(_SPELLED_OUT))
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", letters).strip()
