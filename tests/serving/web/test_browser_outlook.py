"""The outlook in a real browser: Chromium (Debian's) on the real app in a real uvicorn with
a real fitted outlook in service (tests/serving/web/outlook_data.py) sees the "within 7
days" badge on the likely leads only, switches the queue to the expected-value order and
back, and reads the lead page's outlook; screenshots go to build/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from serving.app import create_app
from serving.modelset import MemoryLoader
from tests.serving.conftest import ROLE_KEYS, headers, make_lead, serving_settings
from tests.serving.web.live import chromium, need_chromium, screenshots, serving
from tests.serving.web.outlook_data import FAST_SOURCE, fast_referrals_outlook
from tests.serving.web.test_browser import queue_order, severe_console_errors, sign_in, wait_for
from training.registry import outlook_name

#: (source, minutes ago) of the leads in the queue: two referrals likely within 7 days.
LEADS: list[tuple[dict[str, str], float]] = [
    ({"channel": "display"}, 2),
    (FAST_SOURCE, 20),
    ({"channel": "social"}, 12),
    ({"channel": "paid_search", "company_size": "1000+"}, 6),
    (FAST_SOURCE, 4),
]


@pytest.fixture
def app_with_outlook(tmp_path: Path) -> Iterator[tuple[Chrome, str, list[dict[str, Any]]]]:
    """A Chromium, the app's URL and the leads posted to it (their answers)."""
    need_chromium()
    loader = MemoryLoader()
    loader.publish(outlook_name("arrival"), "1", fast_referrals_outlook())
    with serving(create_app(serving_settings(tmp_path), loader=loader)) as url:
        posted = []
        for source, minutes_ago in LEADS:
            lead = make_lead(minutes_ago=minutes_ago, company_name=f"Co {minutes_ago}", **source)
            answer = httpx.post(f"{url}/leads", json=lead, headers=headers(), timeout=30)
            assert answer.status_code == 201, answer.text
            posted.append(answer.json())
        driver = chromium()
        try:
            yield driver, url, posted
        finally:
            driver.quit()


def _api_order(url: str, order: str) -> list[int]:
    answer = httpx.get(f"{url}/queue?order={order}", headers=headers(), timeout=30)
    return [item["lead_id"] for item in answer.json()["items"]]


def _same_order_as_the_api(driver: Chrome, url: str, order: str) -> bool:
    """The rows in the API's order (priorities move with the clock: read back to back)."""
    for _attempt in range(3):
        if queue_order(driver) == _api_order(url, order):
            return True
        driver.refresh()
        wait_for(driver, "#queue-list tr[data-lead-id]")
    return False


def test_the_badge_and_the_order_switch(
    app_with_outlook: tuple[Chrome, str, list[dict[str, Any]]],
) -> None:
    browser, url, posted = app_with_outlook
    sign_in(browser, url, ROLE_KEYS["sdr"])
    wait_for(browser, "#queue-list tr[data-lead-id]")
    badged = {
        int(row.get_attribute("data-lead-id") or 0)
        for row in browser.find_elements(By.CSS_SELECTOR, "#queue-list tr[data-lead-id]")
        if any(badge.is_displayed() for badge in row.find_elements(By.CSS_SELECTOR, ".soon-badge"))
    }
    likely = {lead["id"] for lead in posted if lead["outlook"]["likely_within_7d"]}
    assert badged == likely
    assert len(likely) == 2
    assert browser.find_elements(By.CSS_SELECTOR, "td.ev") == []
    assert _same_order_as_the_api(browser, url, "probability")

    browser.find_element(By.ID, "order-expected_value").click()
    WebDriverWait(browser, 10).until(lambda d: "order=expected_value" in d.current_url)
    headings = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "table.queue th")]
    assert "Expected value" in headings
    values = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "td.ev")]
    assert len(values) == len(LEADS)
    assert all(text.startswith("RUB") for text in values)
    assert _same_order_as_the_api(browser, url, "expected_value")
    current = browser.find_element(By.ID, "order-expected_value")
    assert current.get_attribute("aria-current") == "true"
    screenshots(browser, "queue-expected-value")

    browser.find_element(By.ID, "order-probability").click()
    WebDriverWait(browser, 10).until(lambda d: "order=probability" in d.current_url)
    assert browser.find_elements(By.CSS_SELECTOR, "td.ev") == []
    assert _same_order_as_the_api(browser, url, "probability")

    fast = next(lead for lead in posted if lead["outlook"]["likely_within_7d"])
    browser.get(f"{url}/app/leads/{fast['id']}")
    outlook = wait_for(browser, "#outlook")
    assert browser.find_element(By.ID, "likely-soon").is_displayed()
    assert len(outlook.find_elements(By.TAG_NAME, "meter")) == len(fast["outlook"]["within"])
    assert browser.find_element(By.ID, "expected-value").text.startswith("RUB")
    screenshots(browser, "lead-outlook")
    assert severe_console_errors(browser) == []
