"""An SDR's shift in a real browser: Chromium (Debian's) drives the pages of the real app in
a real uvicorn, with real LightGBM champions, on a temporary SQLite store.

Screenshots of every page at 1280 and 390 px go to build/screenshots/.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from features.dataset import prepare_frame
from features.demo import generate_leads
from features.spec import KnownAt, load_spec
from serving.app import create_app
from serving.modelset import MemoryLoader, RegistryLoader
from tests.serving.conftest import (
    ROLE_KEYS,
    SDR_KEYS,
    STRONG_QUALIFICATION,
    headers,
    make_lead,
    serving_settings,
)
from tests.serving.web.live import chromium, need_chromium, screenshots, serving
from tests.serving.web.registry import NAME, build_registry
from training.registry import model_name
from training.trainer import TrainOptions, train_model

COMPANIES = ("Acme Steel", "Volga Foods", "Nord Logistics", "Ural Dental", "Kazan Labs")


def _champions() -> MemoryLoader:
    """Small real LightGBM champions (arrival and qualified, target sql)."""
    frame, _truth = generate_leads(n=1500, seed=5)
    data = prepare_frame(load_spec("demo"), frame, source="demo(n=1500, seed=5)")
    loader = MemoryLoader()
    for known_at in (KnownAt.ARRIVAL, KnownAt.QUALIFIED):
        options = TrainOptions(known_at=known_at, params={"learning_rate": 0.2}, refit=False)
        result = train_model(data, options)
        loader.publish(model_name(known_at.value, "sql", "demo"), "7", result.model)
    return loader


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    need_chromium()
    root = tmp_path_factory.mktemp("pages")
    with serving(create_app(serving_settings(root), loader=_champions())) as url:
        channels = ("referral", "paid_search", "social", "cold_call", "event")
        for number in range(12):
            lead = make_lead(
                minutes_ago=2 + 3 * number,
                channel=channels[number % len(channels)],
                company_name=COMPANIES[number % len(COMPANIES)],
                company_size=("1-10", "51-200", "1000+")[number % 3],
            )
            answer = httpx.post(f"{url}/leads", json=lead, headers=headers(), timeout=30)
            assert answer.status_code == 201, answer.text
        yield url


@pytest.fixture(scope="module")
def browser(app_url: str) -> Iterator[Chrome]:
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


def api(url: str, path: str, method: str = "GET", **kwargs: Any) -> Any:
    answer = httpx.request(method, f"{url}{path}", headers=headers(), timeout=30, **kwargs)
    assert answer.status_code < 300, answer.text
    return answer.json()


def sign_in(driver: Chrome, url: str, key: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{url}/signin")
    driver.find_element(By.ID, "api-key").send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "form[action='/signin'] button").click()
    WebDriverWait(driver, 10).until(lambda d: "/signin" not in d.current_url)


def wait_for(driver: Chrome, css: str, timeout: float = 10) -> Any:
    return WebDriverWait(driver, timeout).until(
        ready.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def severe_console_errors(driver: Chrome) -> list[str]:
    """Errors in the console (CSP refusals, script errors), except the 422 answer of the
    form sent with a wrong answer on purpose."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and "status of 422" not in entry["message"]
    ]


def queue_order(driver: Chrome) -> list[int]:
    rows = driver.find_elements(By.CSS_SELECTOR, "#queue-list tr[data-lead-id]")
    return [int(row.get_attribute("data-lead-id") or 0) for row in rows]


def test_an_sdr_works_a_lead_from_queue_to_sales(browser: Chrome, app_url: str) -> None:
    sign_in(browser, app_url, ROLE_KEYS["sdr"])
    assert browser.current_url.endswith("/app/queue")
    # priorities move with the clock: compare a page and an API answer read back to back
    for _attempt in range(3):
        shown = queue_order(browser)
        expected = [item["lead_id"] for item in api(app_url, "/queue")["items"]]
        if shown == expected:
            break
        browser.refresh()
    assert shown == expected
    pills = browser.find_elements(By.CSS_SELECTOR, "#queue-list .sla")
    assert pills[0].text.endswith("min left") or pills[0].text.startswith("overdue")
    first_reasons = browser.find_element(By.CSS_SELECTOR, "#queue-list details summary")
    first_reasons.click()
    assert browser.find_element(By.CSS_SELECTOR, "#queue-list details[open] li").text
    screenshots(browser, "queue")

    top = api(app_url, "/queue?unclaimed=true")["items"][0]["lead_id"]
    browser.find_element(By.ID, "claim-next").click()
    wait_for(browser, "#lead-claimed")
    assert browser.current_url.endswith(f"/app/leads/{top}")
    assert browser.find_element(By.ID, "lead-claimed").text == "sdr-0"
    assert api(app_url, f"/leads/{top}")["claimed_by"] == "sdr-0"

    # the service's own questions, swapped in by htmx
    browser.find_element(By.CSS_SELECTOR, ".services a[href$='service=seo#result']").click()
    age = wait_for(browser, "#f-questionnaire-answers-site_age_years")
    Select(browser.find_element(By.ID, "f-bant-need_fit")).select_by_value("strong")
    Select(browser.find_element(By.ID, "f-bant-budget-bracket")).select_by_value("1m_3m")
    Select(browser.find_element(By.ID, "f-bant-is_decision_maker")).select_by_value("yes")
    Select(browser.find_element(By.ID, "f-bant-timeframe")).select_by_value("now")
    age.send_keys("99")
    browser.find_element(By.ID, "save-qualification").click()
    message = wait_for(browser, "#f-questionnaire-answers-site_age_years-error")
    assert message.text == "⚠ expected a number <= 40" or "expected a number <= 40" in message.text
    field = browser.find_element(By.ID, "f-questionnaire-answers-site_age_years")
    assert field.get_attribute("aria-invalid") == "true"
    assert api(app_url, f"/leads/{top}")["qualifications"] == []  # nothing stored
    screenshots(browser, "lead-invalid")

    field = browser.find_element(By.ID, "f-questionnaire-answers-site_age_years")
    field.clear()
    field.send_keys("3")
    browser.find_element(By.ID, "save-qualification").click()
    route = wait_for(browser, "#suggested-route").text
    stored = api(app_url, f"/leads/{top}")
    assert stored["route"] == route
    assert stored["qualifications"][-1]["questionnaire"]["answers"] == {"site_age_years": 3}
    qualified = [s for s in stored["scores"] if s["stage"] == "qualified" and s["target"] == "sql"]
    assert qualified[-1]["model"]["version"] == "7"  # the LightGBM champion, not the rule
    shown_probability = browser.find_element(By.ID, "qualified-probability").text
    assert shown_probability == f"{qualified[-1]['probability']:.0%}"
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart circle")
    moves = {
        button.get_attribute("data-status")
        for button in browser.find_elements(By.CSS_SELECTOR, "#status button[data-status]")
    }
    assert "new" not in moves
    assert "sdr_qualifying" not in moves  # the lead is there already
    assert {"awaiting_manager", "won", "lost"} <= moves
    screenshots(browser, "lead")

    browser.find_element(By.CSS_SELECTOR, "button[data-status='awaiting_manager']").click()
    WebDriverWait(browser, 10, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: d.find_element(By.ID, "lead-status").text == "awaiting_manager"
    )
    assert api(app_url, f"/leads/{top}")["status"] == "awaiting_manager"
    assert top not in [item["lead_id"] for item in api(app_url, "/queue")["items"]]
    assert severe_console_errors(browser) == []  # nothing broke the CSP


def test_two_sdrs_claiming_at_once_get_different_leads(app_url: str) -> None:
    drivers = [chromium(), chromium()]
    try:
        for driver, name in zip(drivers, ("sdr-1", "sdr-2"), strict=True):
            sign_in(driver, app_url, SDR_KEYS[name])
        start = threading.Barrier(2)

        def claim(driver: Chrome) -> None:
            button = driver.find_element(By.ID, "claim-next")
            start.wait()
            button.click()

        threads = [threading.Thread(target=claim, args=(driver,)) for driver in drivers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        claimed = []
        for driver in drivers:
            wait_for(driver, "#lead-claimed")
            claimed.append(int(driver.current_url.rsplit("/", 1)[1]))
        assert claimed[0] != claimed[1]
        holders = {api(app_url, f"/leads/{lead}")["claimed_by"] for lead in claimed}
        assert holders == {"sdr-1", "sdr-2"}
    finally:
        for driver in drivers:
            driver.quit()


def test_a_role_gets_the_403_page_and_sign_out_ends_the_session(
    browser: Chrome, app_url: str
) -> None:
    sign_in(browser, app_url, ROLE_KEYS["sales"])
    assert browser.current_url.endswith("/app/sales")
    assert not browser.find_elements(By.CSS_SELECTOR, "nav a[href='/app/queue']")
    browser.get(f"{app_url}/app")
    screenshots(browser, "home")
    browser.get(f"{app_url}/app/queue")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not for your role"
    assert "Traceback" not in browser.page_source
    screenshots(browser, "forbidden")
    browser.find_element(By.CSS_SELECTOR, "form[action='/signout'] button").click()
    wait_for(browser, "#api-key")
    screenshots(browser, "signin")
    browser.get(f"{app_url}/app")
    assert "/signin" in browser.current_url


def _resources(driver: Chrome) -> list[str]:
    names: list[str] = driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
    )
    return names


def test_docs_and_redoc_work_offline(browser: Chrome, app_url: str) -> None:
    browser.get_log("browser")  # empties the log of earlier tests
    browser.get(f"{app_url}/docs")
    operations = WebDriverWait(browser, 20).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    )
    assert any("/queue/claim" in op.text for op in operations)
    assert all(name.startswith(app_url) for name in _resources(browser))
    assert severe_console_errors(browser) == []
    screenshots(browser, "docs")
    browser.get(f"{app_url}/redoc")
    WebDriverWait(browser, 30).until(
        lambda d: any("claim" in h.text.lower() for h in d.find_elements(By.TAG_NAME, "h2"))
    )
    assert all(name.startswith(app_url) for name in _resources(browser))
    assert [m for m in severe_console_errors(browser) if "Content Security Policy" in m] == []


def test_sales_moves_a_lead_routed_to_sales_to_won(browser: Chrome, app_url: str) -> None:
    lead = api(app_url, "/leads", "POST", json=make_lead(company_name="Baikal Mining"))
    qualified = api(app_url, f"/leads/{lead['id']}/qualification", "PUT", json=STRONG_QUALIFICATION)
    if qualified["route"] != "sales":  # the SDR hands it to sales whatever the suggestion
        api(app_url, f"/leads/{lead['id']}/status", "POST", json={"status": "awaiting_manager"})
    sign_in(browser, app_url, ROLE_KEYS["sales"])
    assert browser.current_url.endswith("/app/sales")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.sales tr[data-lead-id]")
    shown = [int(row.get_attribute("data-lead-id") or 0) for row in rows]
    assert lead["id"] in shown
    screenshots(browser, "sales")
    Select(browser.find_element(By.ID, f"move-{lead['id']}")).select_by_value("won")
    browser.find_element(By.ID, f"deal-{lead['id']}").send_keys("480000")
    Select(browser.find_element(By.ID, f"currency-{lead['id']}")).select_by_value("RUB")
    browser.find_element(By.CSS_SELECTOR, f"button[data-move='{lead['id']}']").click()
    assert "moved" in wait_for(browser, "#moved-notice").text
    stored = api(app_url, f"/leads/{lead['id']}")
    assert (stored["status"], stored["deal_value"]) == (
        "won",
        {"amount": 480000.0, "currency": "RUB"},
    )
    assert lead["id"] not in [  # an open-leads view: the won lead has left it
        int(row.get_attribute("data-lead-id") or 0)
        for row in browser.find_elements(By.CSS_SELECTOR, "table.sales tr[data-lead-id]")
    ]
    assert severe_console_errors(browser) == []


def test_marketing_sees_the_channel_review_with_its_plots(browser: Chrome, app_url: str) -> None:
    browser.get_log("browser")
    sign_in(browser, app_url, ROLE_KEYS["marketing"])
    assert browser.current_url.endswith("/app/channels")
    plots = browser.find_elements(By.CSS_SELECTOR, ".plot img")
    assert plots
    for plot in plots:  # decoded: the CSP let the data: images through
        assert browser.execute_script("return arguments[0].naturalWidth", plot) > 100
    model = browser.find_element(By.ID, "review-model").text
    assert model.startswith("leadscore-")
    assert "v7" in model
    screenshots(browser, "channels")
    link = browser.find_element(By.CSS_SELECTOR, "#table-funnel_channel a.channel-link")
    channel = link.text
    link.click()
    wait_for(browser, "table.channel-leads")
    expected = {
        item["lead_id"] for item in api(app_url, f"/queue?channel={channel}&limit=500")["items"]
    }
    shown = {
        int(row.get_attribute("data-lead-id") or 0)
        for row in browser.find_elements(By.CSS_SELECTOR, "table.channel-leads tr[data-lead-id]")
    }
    assert expected <= shown  # every queued lead of the channel is among its leads
    screenshots(browser, "channel-leads")
    assert severe_console_errors(browser) == []


@pytest.fixture(scope="module")
def registry_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    need_chromium()
    root = tmp_path_factory.mktemp("admin")
    uri = build_registry(root / "mlflow")
    settings = serving_settings(root, mlflow_tracking_uri=uri)
    with serving(create_app(settings, loader=RegistryLoader(uri))) as url:
        yield url


def test_the_admin_rolls_back_a_model_and_sees_the_version_change(
    browser: Chrome, registry_url: str
) -> None:
    sign_in(browser, registry_url, ROLE_KEYS["admin"])
    browser.find_element(By.CSS_SELECTOR, "nav a[href='/app/admin']").click()
    version = wait_for(browser, f".serving-version[data-model='{NAME}']")
    assert version.text == "version 2"
    screenshots(browser, "admin")
    browser.find_element(By.ID, f"rollback-{NAME}").click()
    wait_for(browser, "#confirm-rollback")
    screenshots(browser, "admin-confirm")
    browser.find_element(By.ID, "confirm-rollback").click()
    notice = wait_for(browser, "#changed-notice")
    assert "version 1 is in service now" in notice.text
    shown = browser.find_element(By.CSS_SELECTOR, f".serving-version[data-model='{NAME}']").text
    assert shown == "version 1"
    served = httpx.get(f"{registry_url}/admin/models", headers=headers("admin"), timeout=30)
    assert served.json()["models"][NAME] == "1"
    assert severe_console_errors(browser) == []
