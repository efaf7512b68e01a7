"""The real app in a real uvicorn on a free port (a thread), and a headless Chromium from
Debian's packages driven by Selenium, kept off every network but the app's."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from selenium import webdriver
from selenium.webdriver import Chrome
from selenium.webdriver.chrome.service import Service

from tests.serving.harness import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(__file__).resolve().parents[3] / "build" / "screenshots"
WIDTHS = (1280, 390)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on 127.0.0.1 until the block ends; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def need_chromium() -> None:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.skip(
            f"browser tests need Debian's chromium and chromium-driver ({', '.join(missing)} "
            "missing): apt-get install -y chromium chromium-driver"
        )


def chromium() -> Chrome:
    """A headless Chromium that can reach 127.0.0.1 only (every other host fails to resolve)."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def screenshots(driver: Chrome, name: str) -> list[Path]:
    """The current page at every width, whole height, as build/screenshots/<name>-<w>.png
    (a phone's viewport is emulated at 390 px)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    written = []
    for width in WIDTHS:
        metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        driver.execute_script("window.scrollTo(0, 0)")
        height = driver.execute_script("return document.documentElement.scrollHeight")
        metrics["height"] = min(int(height), 4000)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        path = SCREENSHOTS / f"{name}-{width}.png"
        driver.save_screenshot(str(path))
        written.append(path)
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return written
