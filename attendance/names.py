"""Vietnamese personal names: the sort order of class rosters.

A Vietnamese roster is ordered by given name (the last word), then the middle names, then the family name
(the first word), so "Trần Văn An" comes before "Nguyễn Thị Bình". Letters collate in the Vietnamese
alphabet, where ă and â are letters of their own after a, đ after d, ê after e, ô and ơ after o, ư after u:

    a ă â b c d đ e ê g h i k l m n o ô ơ p q r s t u ư v x y

(f, j, w and z, found in foreign names, take their Latin places). Tone marks only break ties between words
with the same letters, in the order: none, huyền (grave), hỏi (hook), ngã (tilde), sắc (acute), nặng (dot
below). Case and composition (NFC or NFD input) never matter, and the full name is the last tie-breaker so
the order is total and stable.
"""

from __future__ import annotations

import unicodedata

ALPHABET = (
    "a", "ă", "â", "b", "c", "d", "đ", "e", "ê", "f", "g", "h", "i", "j", "k", "l", "m", "n",
    "o", "ô", "ơ", "p", "q", "r", "s", "t", "u", "ư", "v", "w", "x", "y", "z",
)
_LETTER_RANK = {letter: rank for rank, letter in enumerate(ALPHABET, start=100)}
# Combining marks that make a letter of its own (breve, circumflex, horn) rather than a tone.
_LETTER_MARKS = frozenset("\u0306\u0302\u031b")
_TONE_RANK = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}

WordKey = tuple[tuple[int, ...], tuple[int, ...], str]


def _split_letters(word: str) -> list[tuple[str, int]]:
    """Each letter of ``word`` (lower case, with its letter marks composed) and its tone rank (0 = none)."""
    letters: list[tuple[str, int]] = []
    for char in unicodedata.normalize("NFD", word.casefold()):
        if unicodedata.combining(char):
            if not letters:
                continue
            base, tone = letters[-1]
            if char in _TONE_RANK:
                letters[-1] = (base, tone or _TONE_RANK[char])
            elif char in _LETTER_MARKS:
                letters[-1] = (unicodedata.normalize("NFC", base + char), tone)
            # any other mark (a cedilla in a foreign name) is ignored at the primary level
            continue
        letters.append((char, 0))
    return letters


def word_sort_key(word: str) -> WordKey:
    """A key comparing one word the Vietnamese way: letters first, then tones, then the exact spelling."""
    letters = _split_letters(word)
    # Digits and punctuation sort before letters, by code point; letters outside the alphabet after it.
    primary = tuple(_LETTER_RANK.get(base, ord(base) if ord(base) < 100 else 1000 + ord(base))
                    for base, _ in letters)
    tones = tuple(tone for _, tone in letters)
    return primary, tones, unicodedata.normalize("NFC", word)


def vietnamese_sort_key(full_name: str) -> tuple[WordKey, tuple[WordKey, ...], WordKey, str]:
    """Sort key of a full name "Family Middle... Given": given name, then middle names, then family name.

    ``sorted(students, key=lambda s: vietnamese_sort_key(s.full_name))`` gives the roster order; a
    one-word name is all given name.
    """
    words = unicodedata.normalize("NFC", full_name).split()
    if not words:
        return word_sort_key(""), (), word_sort_key(""), ""
    given = words[-1]
    family = words[0] if len(words) > 1 else ""
    middle = tuple(word_sort_key(w) for w in words[1:-1])
    return word_sort_key(given), middle, word_sort_key(family), " ".join(words)


def fold_for_search(text: str) -> str:
    """``text`` without case, tone marks or letter marks, for search: "Nguyễn Đức" -> "nguyen duc".

    đ/Đ fold to d (it is a letter of its own, not d with a mark, so NFD alone keeps it); spaces collapse.
    """
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


def matches_search(query: str, *fields: str) -> bool:
    """Whether every word of ``query`` is found, diacritics ignored, in one of ``fields`` ("duc 6a1" finds
    "Trần Minh Đức" of class 6A1). An empty query matches everything."""
    haystacks = [fold_for_search(f) for f in fields if f]
    return all(any(word in h for h in haystacks) for word in fold_for_search(query).split())
