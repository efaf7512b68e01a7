"""What kind of e-mail address a lead left: the only thing a model learns from an address.

A corporate domain says "a company writes to us"; a free-mail box (gmail.com, mail.ru, ...)
is more often a private person or a job seeker. The address itself never leaves this module.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache


class EmailKind(StrEnum):
    CORPORATE = "corporate"
    FREE_MAIL = "free_mail"
    INVALID = "invalid"
    MISSING = "missing"


#: Free-mail domains matched exactly (lower case).
FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        # Russia and CIS
        "mail.ru", "bk.ru", "list.ru", "inbox.ru", "internet.ru", "yandex.ru", "ya.ru",
        "narod.ru", "rambler.ru", "lenta.ru", "autorambler.ru", "myrambler.ru", "ro.ru",
        "qip.ru", "pochta.ru", "e1.ru", "ngs.ru", "ukr.net", "i.ua", "meta.ua", "bigmir.net",
        "tut.by", "mail.kz", "inbox.lv",
        # international
        "gmail.com", "googlemail.com", "hotmail.com", "outlook.com", "live.com", "msn.com",
        "yahoo.com", "ymail.com", "rocketmail.com", "aol.com", "icloud.com", "me.com",
        "mac.com", "proton.me", "protonmail.com", "protonmail.ch", "pm.me", "tutanota.com",
        "tuta.io", "tuta.com", "zoho.com", "zohomail.com", "mail.com", "email.com", "gmx.com",
        "fastmail.com", "hey.com", "yopmail.com", "web.de", "t-online.de", "freenet.de",
        "laposte.net", "orange.fr", "wanadoo.fr", "free.fr", "sfr.fr", "libero.it",
        "virgilio.it", "seznam.cz", "wp.pl", "o2.pl", "onet.pl", "interia.pl", "qq.com",
        "163.com", "126.com", "sina.com", "naver.com", "daum.net", "hanmail.net",
        "rediffmail.com",
    }
)  # fmt: skip
#: Brands whose every country domain is free mail: gmx.de, yahoo.co.uk, hotmail.fr, ...
FREE_MAIL_BRANDS: frozenset[str] = frozenset(
    {"gmx", "yahoo", "hotmail", "outlook", "live", "yandex", "mail", "rambler", "gmail"}
)
#: Second-level labels under which a brand's country domain may sit (yahoo.co.uk).
_COUNTRY_SECOND_LEVEL = frozenset({"co", "com", "net", "org"})
_ADDRESS = re.compile(r"^[^@\s]+@([^@\s]+)$")
_DOMAIN = re.compile(r"^(?:[^\W_](?:[\w-]*[^\W_])?\.)+(?:[^\W\d_]{2,}|xn--[a-z0-9-]+)$")


def email_domain(address: str) -> str | None:
    """The lower-case domain of a well-formed address, else None."""
    match = _ADDRESS.match(address.strip())
    if match is None:
        return None
    domain = match.group(1).lower().rstrip(".")
    return domain if _DOMAIN.match(domain) else None


def is_free_mail(domain: str) -> bool:
    if domain in FREE_MAIL_DOMAINS:
        return True
    brand, _, rest = domain.partition(".")
    if brand not in FREE_MAIL_BRANDS:
        return False
    labels = rest.split(".")
    return len(labels) == 1 or (len(labels) == 2 and labels[0] in _COUNTRY_SECOND_LEVEL)


def email_kind(address: str | None) -> EmailKind:
    """corporate / free_mail / invalid / missing for one address."""
    if address is None or not address.strip():
        return EmailKind.MISSING
    domain = email_domain(address)
    if domain is None:
        return EmailKind.INVALID
    return _domain_kind(domain)


@lru_cache(maxsize=65_536)  # domains repeat a lot (gmail.com, the same company)
def _domain_kind(domain: str) -> EmailKind:
    return EmailKind.FREE_MAIL if is_free_mail(domain) else EmailKind.CORPORATE
