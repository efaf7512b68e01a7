"""The language switch in a real browser: Chromium (Debian's) signs in to the real app in a
real uvicorn, presses "Русский" in the page header (a plain form, no script needed) and
reads the same page in Russian; "English" brings it back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from serving.app import create_app
from serving.modelset import MemoryLoader
from tests.serving.conftest import ROLE_KEYS, headers, make_lead, serving_settings
from tests.serving.web.live import chromium, need_chromium, serving


@pytest.fixture
def browser_on_app(tmp_path: Path) -> Iterator[tuple[Chrome, str]]:
    """A Chromium and the base URL of the app it may reach, with one lead in the queue."""
    need_chromium()
    with serving(create_app(serving_settings(tmp_path), loader=MemoryLoader())) as url:
        lead = make_lead(minutes_ago=5, channel="referral", company_name="Volga Foods")
        answer = httpx.post(f"{url}/leads", json=lead, headers=headers(), timeout=30)
        assert answer.status_code == 201, answer.text
        driver = chromium()
        try:
            yield driver, url
        finally:
            driver.quit()


def _until(driver: Chrome) -> WebDriverWait[Chrome]:
    """A wait that reads again when the page it read was replaced (a switch reloads it)."""
    return WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException,))


def _text(driver: Chrome, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def test_the_switch_turns_the_page_russian_and_back(browser_on_app: tuple[Chrome, str]) -> None:
    browser, app_url = browser_on_app
    browser.get(f"{app_url}/signin")
    browser.find_element(By.ID, "lang-ru").click()  # before signing in: the sign-in form's token
    _until(browser).until(lambda d: _text(d, "h1") == "Вход")
    browser.find_element(By.ID, "api-key").send_keys(ROLE_KEYS["sdr"])
    browser.find_element(By.CSS_SELECTOR, "form[action='/signin'] button").click()
    _until(browser).until(lambda d: d.current_url.endswith("/app/queue"))
    assert _text(browser, "h1") == "Очередь"
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ru"
    assert _text(browser, "#claim-next") == "Взять следующий"
    headings = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "table.queue th")]
    assert headings[1:4] == ["Тир", "Оценка", "Лид"]
    _until(browser).until(lambda d: "осталось" in _text(d, ".sla"))  # app.js's pill

    browser.find_element(By.ID, "lang-en").click()
    _until(browser).until(lambda d: _text(d, "h1") == "Queue")
    assert browser.current_url.endswith("/app/queue")  # back on the same page
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert _text(browser, "#claim-next") == "Claim next"
    assert "left" in _text(browser, ".sla")
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []  # nothing broke the CSP
