"""Time to first paint of the SDR queue page with 500 queued leads, and its weight.

Usage: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pages.py [--queued 500] [--loads 20]

A real uvicorn (a thread of this process) serves the real app on a temporary SQLite store
with real LightGBM champions (trained on demo leads); ``--queued`` leads are posted through
``POST /leads`` (stored, scored, queued). Then, signed in as an SDR through the sign-in
form:

(a) server render: ``GET /app/queue`` ``--loads`` times, request sent to last byte read
    (p50, p95; the page shows the first LEADSCORE_QUEUE_PAGE_SIZE = 50 of the 500);
(b) where Debian's Chromium and chromedriver exist: the browser's first-contentful-paint
    of the queue page (Performance API, ``paint`` entries), p50 over the loads;
(c) page weight: the HTML plus the CSS and JS it loads (htmx included), uncompressed, KB.

Prints a table with the load average and writes the "Pages" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from report import load_average, markdown_table, publish  # noqa: E402

from features.dataset import prepare_frame  # noqa: E402
from features.demo import generate_leads  # noqa: E402
from features.spec import KnownAt, load_spec  # noqa: E402
from serving.app import create_app  # noqa: E402
from serving.modelset import MemoryLoader  # noqa: E402
from serving.settings import ServingSettings  # noqa: E402
from tests.serving.web.live import CHROMEDRIVER, CHROMIUM, serving  # noqa: E402
from training.registry import model_name  # noqa: E402
from training.trainer import TrainOptions, train_model  # noqa: E402

SDR_KEY = "bench-sdr-key-000001"
API_KEYS = f"{SDR_KEY}:sdr:bench-sdr,bench-admin-key-0001:admin:bench-admin"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_ASSET = re.compile(r'<(?:script|link)[^>]+(?:src|href)="(/static/[^"]+\.(?:js|css))"')


def champions(rows: int) -> MemoryLoader:
    frame, _truth = generate_leads(n=rows, seed=11)
    data = prepare_frame(load_spec("demo"), frame, source=f"demo(n={rows}, seed=11)")
    loader = MemoryLoader()
    for known_at in (KnownAt.ARRIVAL, KnownAt.QUALIFIED):
        result = train_model(data, TrainOptions(known_at=known_at, refit=False))
        loader.publish(model_name(known_at.value, "sql", "demo"), "1", result.model)
    return loader


def seed(url: str, queued: int) -> None:
    """``queued`` leads arrived over the last 25 minutes, posted as a CRM would."""
    channels = ("referral", "paid_search", "social", "cold_call", "event", "organic")
    now = datetime.now(UTC)
    with httpx.Client(base_url=url, headers={"X-API-Key": SDR_KEY}, timeout=60) as client:
        for number in range(queued):
            arrived = now - timedelta(seconds=3 * number)
            lead = {
                "external_id": f"bench-{number:05d}",
                "arrived_at": arrived.isoformat(),
                "source": {
                    "channel": channels[number % len(channels)],
                    "email": f"buyer{number}@company{number % 37}.ru",
                    "phone": "+7 900 000 00 00",
                    "company_name": f"Company {number}",
                    "message": "Need SEO for our online store, what is the price?",
                },
            }
            answer = client.post("/leads", json=lead)
            answer.raise_for_status()


def signed_in(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60, follow_redirects=True)
    page = client.get("/signin")
    token = _TOKEN.search(page.text)
    assert token, "no sign-in form token"
    answer = client.post("/signin", data={"api_key": SDR_KEY, "csrf_token": token.group(1)})
    answer.raise_for_status()
    return client


def server_render(client: httpx.Client, loads: int) -> tuple[list[float], str]:
    times, html = [], ""
    client.get("/app/queue")  # warm-up (template compilation)
    for _ in range(loads):
        started = time.perf_counter()
        answer = client.get("/app/queue")
        answer.read()
        times.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
        html = answer.text
    return times, html


def page_weight(client: httpx.Client, html: str) -> dict[str, float]:
    assets = _ASSET.findall(html)
    sizes = {"HTML": len(html.encode("utf-8")) / 1024}
    for asset in assets:
        kind = "CSS" if asset.endswith(".css") else "JS"
        sizes[kind] = sizes.get(kind, 0.0) + len(client.get(asset).content) / 1024
    return sizes


def first_contentful_paint(url: str, loads: int) -> list[float] | None:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    script = (
        "var e = performance.getEntriesByName('first-contentful-paint');"
        "return e.length ? e[0].startTime : null;"
    )
    try:
        driver.get(f"{url}/signin")
        driver.find_element(By.ID, "api-key").send_keys(SDR_KEY)
        driver.find_element(By.CSS_SELECTOR, "form[action='/signin'] button").click()
        time.sleep(0.5)
        paints = []
        for _ in range(loads):
            driver.get(f"{url}/app/queue")
            for _wait in range(50):
                value = driver.execute_script(script)
                if value is not None:
                    paints.append(float(value))
                    break
                time.sleep(0.05)
        return paints
    finally:
        driver.quit()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queued", type=int, default=500)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--train-rows", type=int, default=6000)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    loader = champions(args.train_rows)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        settings = ServingSettings(
            data_dir=root / "data",
            database_url=f"sqlite:///{root / 'leads.db'}",
            api_keys=API_KEYS,
            model_check_seconds=0,
            mlflow_tracking_uri=f"sqlite:///{root / 'unused-mlflow.db'}",
        )
        with serving(create_app(settings, loader=loader)) as url:
            started = time.perf_counter()
            seed(url, args.queued)
            seeding = time.perf_counter() - started
            client = signed_in(url)
            render, html = server_render(client, args.loads)
            weight = page_weight(client, html)
            paints = first_contentful_paint(url, args.loads)
            rows_shown = html.count("<tr data-lead-id=")
    load = load_average()
    table = pd.DataFrame(
        [
            ("server render p50 (ms)", statistics.median(render)),
            ("server render p95 (ms)", percentile(render, 0.95)),
            (
                "first-contentful-paint p50 (ms)",
                statistics.median(paints) if paints else float("nan"),
            ),
            ("HTML (KB)", weight.get("HTML", 0.0)),
            ("CSS (KB)", weight.get("CSS", 0.0)),
            ("JS (KB, htmx included)", weight.get("JS", 0.0)),
            ("page weight (KB)", sum(weight.values())),
        ],
        columns=["measure", "value"],
    )
    body = "\n".join(
        [
            f"The queue page of an SDR with {args.queued} queued leads (scored by LightGBM "
            f"champions trained on {args.train_rows} demo leads; {rows_shown} rows shown), "
            f"{args.loads} loads through a real uvicorn on 127.0.0.1, SQLite store. Server "
            "render: request sent to last byte read, by an httpx client signed in through "
            "the sign-in form. First-contentful-paint: headless Chromium (Debian's), "
            "Performance API. Weight: uncompressed HTML + the CSS and JS it loads.",
            "",
            markdown_table(table, digits=1),
            "",
            f"Load average during the run: {load} (1/5/15 min); seeding {args.queued} leads "
            f"through POST /leads took {seeding:.1f} s.",
        ]
    )
    publish("pages", "Pages (`benchmarks/pages.py`)", body, write=not args.no_write)


if __name__ == "__main__":
    main()
