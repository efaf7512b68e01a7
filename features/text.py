"""Signals from free text (a lead's message) that a model may use without seeing the text.

Everything here works on one string at a time, so training (on the distinct messages of a
column) and serving (on one request) run exactly the same code. Keyword groups match
case-insensitively at the start of a word, so ``price`` also matches "prices" and
``стоимост`` matches "стоимость"; "ё" is read as "е" on both sides.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence

#: Script of a text: mostly Cyrillic letters, mostly Latin, a real mix, or neither.
LANGUAGES: tuple[str, ...] = ("ru", "en", "mixed", "other")
LANGUAGE_NAMES: Mapping[str, str] = {
    "ru": "Russian",
    "en": "English",
    "mixed": "mixed Russian/English",
    "other": "other script",
}
#: Share of Cyrillic among Cyrillic+Latin letters at or above which a text counts as "ru"
#: (and at or below ``1 - RU_SHARE`` as "en"): a Latin URL in a Russian message stays "ru".
RU_SHARE = 0.7

_WORD = re.compile(r"\w+")
# UTF-8 lead bytes 0xD0/0xD1 start exactly the characters U+0400..U+047F (basic Cyrillic,
# incl. ё); counting them is much faster than a regex over the text.
_CYRILLIC_LEADS = (b"\xd0", b"\xd1")
_NOT_LATIN = bytes(b for b in range(256) if not (65 <= b <= 90 or 97 <= b <= 122))


def normalise(text: str) -> str:
    """Lower case with "ё" read as "е": the form keywords are matched against."""
    return text.lower().replace("ё", "е")


def script_language(text: str) -> str:
    """One of ``LANGUAGES`` from the letters of ``text`` (its script, not a language model)."""
    data = text.encode("utf-8", errors="ignore")
    cyrillic = data.count(_CYRILLIC_LEADS[0]) + data.count(_CYRILLIC_LEADS[1])
    latin = len(data.translate(None, _NOT_LATIN))
    letters = cyrillic + latin
    if letters == 0:
        return "other"
    share = cyrillic / letters
    if share >= RU_SHARE:
        return "ru"
    if share <= 1 - RU_SHARE:
        return "en"
    return "mixed"


def word_count(text: str) -> int:
    """Whitespace-separated words."""
    return len(text.split())


class KeywordFlags:
    """One flag per keyword group: does any of its words start a word of the text?

    One regex scan finds, at every word start, the longest keyword beginning there; every
    shorter keyword that also matches there is a prefix of it, so the groups a match raises
    are those of the keyword and of all keywords that are prefixes of it.
    """

    def __init__(self, groups: Mapping[str, Sequence[str]]) -> None:
        self.names: list[str] = list(groups)
        owners: dict[str, set[int]] = {}
        for index, (name, words) in enumerate(groups.items()):
            cleaned = {normalise(w.strip()) for w in words if w.strip()}
            if not cleaned:
                raise ValueError(f"keyword group '{name}' has no words")
            for word in cleaned:
                owners.setdefault(word, set()).add(index)
        self._raises: dict[str, frozenset[int]] = {
            word: frozenset(g for other, gs in owners.items() if word.startswith(other) for g in gs)
            for word in owners
        }
        longest_first = sorted(owners, key=lambda w: (-len(w), w))
        alternatives = "|".join(re.escape(word) for word in longest_first)
        self._pattern = re.compile(r"(?<!\w)(?=(" + alternatives + "))") if owners else None

    def flags(self, normalised: str) -> list[bool]:
        """Flags for a text already passed through ``normalise``."""
        if self._pattern is None:
            return []
        raised: set[int] = set()
        for word in self._pattern.findall(normalised):
            raised |= self._raises[word]
        return [index in raised for index in range(len(self.names))]


def hashed_token_counts(normalised: str, buckets: int) -> list[int]:
    """Counts of the text's words hashed (CRC-32, stable across processes) into buckets."""
    counts = [0] * buckets
    for token in _WORD.findall(normalised):
        counts[zlib.crc32(token.encode("utf-8", errors="ignore")) % buckets] += 1
    return counts
