"""Text normalisation shared by imports (matching keys) and search (index keys)."""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache

_NON_WORD = re.compile(r"[\W_]+")  # letters and digits of every script are kept
_APOSTROPHES = re.compile(r"['’ʼ]")  # "It's" is one word: "its"
# Letters that NFKD does not decompose into a base letter plus a combining mark.
_FOLD = str.maketrans({"ø": "o", "đ": "d", "ł": "l", "ß": "ss", "æ": "ae", "œ": "oe", "þ": "th", "ı": "i"})


@cache
def _combining_marks() -> dict[int, None]:
    """A str.translate table deleting every combining mark (about 0.2 s to build, once, on the first non-ASCII text):
    C speed where a Python pass over each character of a synopsis was the bulk of normalising it."""
    return {code: None for code in range(sys.maxunicode + 1) if unicodedata.combining(chr(code))}


def normalise(text: str) -> str:
    """Lower case, accents removed, '&' read as 'and', every run of other characters one space.

    >>> normalise("  Shōgun: Élite & Co.  ")
    'shogun elite and co'
    """
    if text.isascii():
        # ASCII (most titles and synopses) has no accents, compatibility forms or special folds: lower() is all the
        # Unicode steps below would do, without a Python-level pass over every character.
        without_marks = text.lower()
    else:
        # Decompose before and after case folding: compatibility forms like "ᴬ" only become "A" after NFKD.
        folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold().translate(_FOLD))
        # NFC afterwards recomposes what NFKD split but is not an accent (Hangul syllables).
        without_marks = unicodedata.normalize("NFC", folded.translate(_combining_marks()))
    return _NON_WORD.sub(" ", _APOSTROPHES.sub("", without_marks).replace("&", " and ")).strip()
