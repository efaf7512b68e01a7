"""Fictional people and companies: contact names, company names, e-mails and phones.

Names, brands, legal forms and mail domains come from ``data/people.yaml``. A corporate
e-mail's domain is the company's brand with its country's TLD; free mail follows the
language of the lead.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from features.demo.arrivals import Arrival
from features.demo.datafiles import Entry, exactly, read_data
from features.demo.sampling import pick
from features.demo.stories import COUNTRIES, LANGUAGES
from features.demo.strings import concat, digits, grouped_pick, only, strings

Names = tuple[str, ...]


class GivenNames(Entry):
    """Russian given names (Cyrillic -> Latin), as many female as male."""

    male: dict[str, str]
    female: dict[str, str]


class People(Entry):
    brand_roots: Names
    brand_suffixes: Names
    legal_forms: dict[str, tuple[tuple[str, str], ...]]  # (before, after) the brand
    tlds: dict[str, str]
    phone_prefixes: dict[str, str]
    russian_given_names: GivenNames
    russian_family_names: dict[str, str]  # male forms; the female forms add "а" / "a"
    english_given_names: Names
    english_family_names: Names
    free_mail_domains: dict[str, dict[str, float]]  # language -> domain -> share
    corporate_mailboxes: Names


def _incomplete(p: People) -> list[str]:
    problems = []
    for field in ("legal_forms", "tlds", "phone_prefixes"):
        problems += exactly(field, list(getattr(p, field)), COUNTRIES)
    problems += exactly("free_mail_domains", list(p.free_mail_domains), LANGUAGES)
    given = p.russian_given_names
    if len(given.male) != len(given.female):
        problems.append("russian_given_names: as many female names as male ones, please")
    return problems


@cache
def people() -> People:
    """The people tables, read at first use."""
    return read_data("people.yaml", People, _incomplete)


def contacts(rng: np.random.Generator, a: Arrival) -> dict[str, pa.Array]:
    """Company and contact names, e-mail and phone (null where missing)."""
    n = len(a.at)
    contact, given, family = _people(rng, a)
    brand, company = _company(rng, a)
    email = _email(rng, a, given, family, brand)
    phone = concat(
        strings([people().phone_prefixes[c] for c in COUNTRIES], a.country),
        digits(rng, 2, n), " ", digits(rng, 3, n), "-", digits(rng, 2, n), "-",
        digits(rng, 2, n),
    )  # fmt: skip
    return {
        "company_name": only(company, rng.random(n) >= 0.15),
        "contact_name": only(contact, rng.random(n) >= 0.1),
        "email": only(email, a.email_kind > 0),
        "phone": only(phone, a.phone),
    }


def _people(rng: np.random.Generator, a: Arrival) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Contact names and the lower-case Latin given and family names (for e-mails)."""
    p = people()
    n = len(a.at)
    ru_first = [*p.russian_given_names.male.items(), *p.russian_given_names.female.items()]
    males = len(p.russian_given_names.male)
    ru_last = list(p.russian_family_names.items())
    en_first_names, en_last_names = p.english_given_names, p.english_family_names
    female = rng.random(n) < 0.5
    first = rng.integers(0, males, size=n) + np.where(female, males, 0)
    last = rng.integers(0, len(ru_last), size=n) + np.where(female, len(ru_last), 0)
    en_first = rng.integers(0, len(en_first_names), size=n)
    en_last = rng.integers(0, len(en_last_names), size=n)
    ru_last_names = [c for c, _ in ru_last] + [c + "а" for c, _ in ru_last]
    lat_last_names = [t for _, t in ru_last] + [t + "a" for _, t in ru_last]
    english = a.english
    russian_name = concat(
        strings([c for c, _ in ru_first], np.where(english, -1, first)),
        strings(ru_last_names, np.where(english, -1, last)),
        sep=" ",
    )
    english_name = concat(
        strings(en_first_names, np.where(english, en_first, -1)),
        strings(en_last_names, np.where(english, en_last, -1)),
        sep=" ",
    )
    given_names = [t for _, t in ru_first] + [f.lower() for f in en_first_names]
    family_names = lat_last_names + [f.lower() for f in en_last_names]
    given = strings(given_names, np.where(english, len(ru_first) + en_first, first))
    family = strings(family_names, np.where(english, len(lat_last_names) + en_last, last))
    return pc.coalesce(russian_name, english_name), given, family


def _company(rng: np.random.Generator, a: Arrival) -> tuple[pa.Array, pa.Array]:
    """The brand and the company name (the brand in its country's legal form)."""
    p = people()
    n = len(a.at)
    brand = concat(
        strings(p.brand_roots, rng.integers(0, len(p.brand_roots), size=n)),
        strings(p.brand_suffixes, rng.integers(0, len(p.brand_suffixes), size=n)),
    )
    flat, form = grouped_pick(rng, [p.legal_forms[c] for c in COUNTRIES], a.country)
    before = strings([b for b, _ in flat], form)
    after = strings([e for _, e in flat], form)
    return brand, concat(pc.coalesce(before, ""), brand, pc.coalesce(after, ""))


def _email(
    rng: np.random.Generator, a: Arrival, given: pa.Array, family: pa.Array, brand: pa.Array
) -> pa.Array:
    """A corporate address at the brand's domain, or a free-mail address."""
    p = people()
    n = len(a.at)
    domain = concat(pc.utf8_lower(brand), strings([p.tlds[c] for c in COUNTRIES], a.country))
    initial = pc.utf8_slice_codeunits(given, 0, 1)
    mailboxes = p.corporate_mailboxes
    mailbox = strings(mailboxes, rng.integers(0, len(mailboxes), size=n))
    corporate_local = pc.choose(
        pa.array(rng.integers(0, 4, size=n)),
        given,
        concat(given, ".", family),
        concat(initial, ".", family),
        mailbox,
    )
    number = pc.cast(pa.array(rng.integers(1, 100, n)), pa.string())
    with_digits = concat(given, ".", family, number)
    with_year = concat(family, pc.cast(pa.array(rng.integers(1970, 2004, n)), pa.string()))
    free_local = pc.if_else(pa.array(rng.random(n) < 0.5), with_digits, with_year)
    free_domains = [list(p.free_mail_domains[lg]) for lg in LANGUAGES]
    free_index = np.zeros(n, dtype=np.int64)
    for k, lg in enumerate(LANGUAGES):
        rows = np.flatnonzero(a.english == (lg == "en"))
        weights = list(p.free_mail_domains[lg].values())
        free_index[rows] = pick(rng, weights, len(rows)) + k * len(free_domains[0])
    corporate = pa.array(a.email_kind == 2)
    return concat(
        pc.if_else(corporate, corporate_local, free_local),
        "@",
        pc.if_else(corporate, domain, strings([d for g in free_domains for d in g], free_index)),
    )
