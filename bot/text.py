"""Text normalisation shared by imports (matching keys) and search (index keys)."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[\W_]+")  # letters and digits of every script are kept
_APOSTROPHES = re.compile(r"['’ʼ]")  # "It's" is one word: "its"
# Letters that NFKD does not decompose into a base letter plus a combining mark.
_FOLD = str.maketrans({"ø": "o", "đ": "d", "ł": "l", "ß": "ss", "æ": "ae", "œ": "oe", "þ": "th", "ı": "i"})


def normalise(text: str) -> str:
    """Lower case, accents removed, '&' read as 'and', every run of other characters one space.

    >>> normalise("  Shōgun: Élite & Co.  ")
    'shogun elite and co'
    """
    # Decompose before and after case folding: compatibility forms like "ᴬ" only become "A" after NFKD.
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold().translate(_FOLD))
    # NFC afterwards recomposes what NFKD split but is not an accent (Hangul syllables).
    without_marks = unicodedata.normalize("NFC", "".join(ch for ch in folded if not unicodedata.combining(ch)))
    return _NON_WORD.sub(" ", _APOSTROPHES.sub("", without_marks).replace("&", " and ")).strip()
