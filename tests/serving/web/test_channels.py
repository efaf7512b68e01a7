"""Marketing's pages on the real app and store (SQLite and PostgreSQL): the channel review
with its pickers, plots as data: images under the pages' CSP, the CSV downloads, a
channel's leads; refusals for other roles."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from tests.serving.conftest import PostLead, headers
from tests.serving.web.conftest import sign_in

_ROW = re.compile(r'<tr data-lead-id="(\d+)"')


def _some_leads(client: TestClient, post_lead: PostLead) -> dict[str, list[int]]:
    by_channel: dict[str, list[int]] = {"referral": [], "social": []}
    for number in range(12):
        channel = "referral" if number % 3 else "social"
        lead = post_lead(channel=channel, minutes_ago=5 + number)
        by_channel[channel].append(lead["id"])
        if number % 4 == 0:
            body = {
                "status": "won",
                "deal_value": {"amount": 1000 * (number + 1), "currency": "RUB"},
            }
            assert (
                client.post(f"/leads/{lead['id']}/status", json=body, headers=headers()).status_code
                == 200
            )
    return by_channel


def test_the_review_page_shows_the_funnel_plots_and_links_channels_to_their_leads(
    client: TestClient, post_lead: PostLead
) -> None:
    by_channel = _some_leads(client, post_lead)
    sign_in(client, "marketing")
    assert client.get("/", follow_redirects=False).headers["location"] == "/app/channels"
    page = client.get("/app/channels")
    assert page.status_code == 200, page.text
    csp = page.headers["content-security-policy"]
    assert "img-src 'self' data:" in csp
    assert "unsafe-inline" not in csp
    assert "<style" not in page.text
    assert "style=" not in page.text
    assert "<script>" not in page.text
    images = re.findall(r'<img src="([^"]+)"', page.text)
    assert images
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert 'id="table-funnel_channel"' in page.text
    assert 'href="/app/channels/leads?channel=referral"' in page.text
    assert "none in service: the funnel only" in page.text  # no champion published
    leads = client.get("/app/channels/leads?channel=referral")
    assert sorted(int(i) for i in _ROW.findall(leads.text)) == sorted(by_channel["referral"])


def test_the_csv_downloads_are_the_reviews_tables(client: TestClient, post_lead: PostLead) -> None:
    _some_leads(client, post_lead)
    sign_in(client, "admin")
    month = datetime.now(UTC).strftime("%Y-%m")
    answer = client.get(f"/app/channels/funnel_channel.csv?start={month}&end={month}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert f'filename="funnel_channel-{month}.csv"' in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    by_channel = {row["channel"]: row for row in rows}
    assert int(by_channel["(all leads)"]["leads"]) == 12
    assert int(by_channel["referral"]["leads"]) == 8
    # social: leads 0, 3, 6, 9; won: every 4th (0, 4, 8)
    assert (int(by_channel["social"]["won"]), int(by_channel["referral"]["won"])) == (1, 2)
    api = client.get(f"/reports/channels?period={month}", headers=headers("marketing")).json()
    api_rows = {r["channel"]: r for r in api["tables"]["funnel_channel"]}
    assert {c: int(r["leads"]) for c, r in by_channel.items()} == {
        c: r["leads"] for c, r in api_rows.items()
    }
    assert client.get("/app/channels/nothing.csv").status_code == 404
    empty = client.get("/app/channels?start=2020-01&end=2020-02")
    assert empty.status_code == 200
    assert "No lead arrived in this period" in empty.text
    bad = client.get("/app/channels?start=2026-13")
    assert bad.status_code == 422
    assert "start: expected a month YYYY-MM" in bad.text
    assert client.get("/app/channels?target=converted").status_code == 422


def test_other_roles_get_the_403_page(client: TestClient) -> None:
    for role in ("sdr", "sales"):
        client.cookies.clear()
        sign_in(client, role)
        refused = client.get("/app/channels")
        assert refused.status_code == 403
        assert "Not for your role" in refused.text
        assert client.get("/app/channels/summary.csv").status_code == 403
        assert 'href="/app/channels"' not in refused.text  # nor is the link shown
