"""Request texts: RU/EN messages built from the phrases in ``data/messages.yaml``.

A message is an opener (about the advertised service, generic, or a job seeker's greeting),
the keyword sentences of the lead's flags, 0-3 detail sentences and a sign-off. Only the
keyword sentences carry the spec's message keywords.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa

from features.demo.arrivals import Arrival
from features.demo.datafiles import Entry, exactly, read_data
from features.demo.stories import LANGUAGES, SERVICES
from features.demo.strings import concat, grouped_pick, only, strings

#: What an opener is about: a service, none, or a job seeker's greeting (codes 0..5).
OPENER_GROUPS: tuple[str, ...] = (*SERVICES, "none", "job")
#: The message keyword flags, in the order their sentences follow the opener.
FLAGS: tuple[str, ...] = ("job", "urgent", "tender", "price")

Texts = tuple[str, ...]


class Phrases(Entry):
    """Per language: openers and keyword sentences by group, detail sentences, sign-offs."""

    openers: dict[str, dict[str, Texts]]
    keyword_phrases: dict[str, dict[str, Texts]]
    details: dict[str, Texts]
    signoffs: dict[str, Texts]


def _incomplete(p: Phrases) -> list[str]:
    problems = []
    for field in ("openers", "keyword_phrases", "details", "signoffs"):
        problems += exactly(field, list(getattr(p, field)), LANGUAGES)
    for language in LANGUAGES:
        groups = p.openers.get(language, {})
        problems += exactly(f"openers.{language}", list(groups), OPENER_GROUPS)
        flags = p.keyword_phrases.get(language, {})
        problems += exactly(f"keyword_phrases.{language}", list(flags), FLAGS)
    if len({len(texts) for texts in p.details.values()}) > 1:
        problems.append("details: every language needs as many detail sentences")
    return problems


@cache
def phrases() -> Phrases:
    """The message phrases, read at first use."""
    return read_data("messages.yaml", Phrases, _incomplete)


def messages(rng: np.random.Generator, a: Arrival) -> pa.Array:
    """RU/EN request texts from templates; the keyword sentences follow the lead's flags."""
    p = phrases()
    n = len(a.at)
    lang = a.english.astype(np.int64)
    kind = np.where(a.job, 5, np.where(a.topic >= 0, a.topic, 4))
    groups = [p.openers[lg][g] for lg in LANGUAGES for g in OPENER_GROUPS]
    flat, index = grouped_pick(rng, groups, lang * len(OPENER_GROUPS) + kind)
    parts = [strings(flat, index)]
    for flag in FLAGS:
        flat, index = grouped_pick(rng, [p.keyword_phrases[lg][flag] for lg in LANGUAGES], lang)
        parts.append(strings(flat, np.where(getattr(a, flag), index, -1)))
    details = [p.details[lg] for lg in LANGUAGES]
    size = len(details[0])
    first = rng.integers(0, size, size=n)
    count = np.where(a.job, 0, a.details)
    for k in range(3):
        index = lang * size + (first + 3 * k) % size
        parts.append(strings([d for g in details for d in g], np.where(count > k, index, -1)))
    flat, index = grouped_pick(rng, [p.signoffs[lg] for lg in LANGUAGES], lang)
    parts.append(strings(flat, index))
    return only(concat(*parts, sep=" ", skip_nulls=True), a.has_message)


#: The phrase tables by the names the tests use, loaded at first use.
_LAZY_NAMES = {
    "OPENERS": "openers",
    "KEYWORD_PHRASES": "keyword_phrases",
    "DETAILS": "details",
    "SIGNOFFS": "signoffs",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_NAMES:
        return getattr(phrases(), _LAZY_NAMES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
