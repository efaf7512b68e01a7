"""The channel review page in the page's language (the ``lang`` cookie): Russian column
headers, verdicts and the all-leads row from the training catalogs, the same numbers as in
English; the CSV downloads keep the column names and machine values."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from serving.web.words import LANG_COOKIE
from tests.serving.conftest import PostLead
from tests.serving.web.conftest import sign_in

_NUMBERS = re.compile(r'<td class="num">([^<]*)</td>')


def test_the_review_page_speaks_the_pages_language(client: TestClient, post_lead: PostLead) -> None:
    for number in range(9):
        post_lead(channel="referral" if number % 3 else "social", minutes_ago=5 + number)
    sign_in(client, "marketing")
    english = client.get("/app/channels")
    assert english.status_code == 200, english.text
    assert '<th scope="col" title="conversion_rate">Conversion rate</th>' in english.text
    assert "too few leads to judge (6 leads, 0 conversions; needs" in english.text

    client.cookies.set(LANG_COOKIE, "ru")
    page = client.get("/app/channels")
    assert page.status_code == 200, page.text
    assert '<html lang="ru"' in page.text
    assert '<th scope="col" title="conversion_rate">Конверсия</th>' in page.text
    assert '<th scope="col" title="channel">Канал</th>' in page.text
    assert '<th scope="col" title="lead_to_mql">лид → MQL</th>' in page.text
    assert "(все лиды)" in page.text
    assert "мало лидов для выводов (6 лидов, 0 конверсий; нужно" in page.text
    assert "Conversion rate" not in page.text
    assert "too few leads to judge" not in page.text
    assert _NUMBERS.findall(page.text) == _NUMBERS.findall(english.text)
    assert len(_NUMBERS.findall(page.text)) > 20

    summary = client.get("/app/channels/summary.csv")
    assert summary.status_code == 200
    header, first = summary.text.splitlines()[:2]
    assert header.startswith("channel,leads,conversions,conversion_rate")
    assert first.startswith("(all leads),9,")
