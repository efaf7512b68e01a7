"""CRM write-back latency: amoCRM webhook in -> score written back to the CRM, at 20 leads/s.

Usage: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/crm.py [--rate 20] [--seconds 60]

The real service runs as in production (``python -m uvicorn --factory
serving.app:create_app``, one worker, a temporary SQLite store, no champions: the fallback
rule scores, so the figure is the connector path, not LightGBM; OMP_NUM_THREADS=1) with an
amoCRM connector pointed at the local stand-in of tests/serving/connectors/standins.py,
served by uvicorn in a thread of this process. A sender posts ``leads[add]`` webhooks at
``--rate`` per second (open loop, on schedule) for ``--seconds``; for each lead the
latency is from sending its webhook to the stand-in receiving its successful
``PATCH /api/v4/leads/{id}`` (the service's answer, its fetch of the lead and contact from
the stand-in, storing, scoring, the outbox row and the write-back), both clocks this
process's. Side by side in the same run: the webhook's own answer time, and the ratio.

Prints a table with the load average and writes the "CRM write-back" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from report import load_average, markdown_table, publish  # noqa: E402

from tests.serving.connectors import payloads  # noqa: E402
from tests.serving.connectors.standins import AMOCRM_TOKEN, StandIn  # noqa: E402
from tests.serving.harness import free_port, service_env, start_uvicorn, wait_until_answers  # noqa: E402

SECRET = "bench-webhook-secret"
CONNECTORS = """\
amocrm:
  subdomain: {subdomain}
  base_url: {url}/amocrm
  token: {{env: BENCH_AMOCRM_TOKEN}}
  webhook_secret: {{env: BENCH_AMOCRM_SECRET}}
  fields: {{probability: 901, tier: 902, reasons: 903, version: 904}}
"""


def _start_service(folder: Path, standin: StandIn) -> tuple[subprocess.Popen[bytes], str]:
    config = folder / "connectors.yaml"
    config.write_text(
        CONNECTORS.format(subdomain=payloads.AMOCRM_SUBDOMAIN, url=standin.url), encoding="utf-8"
    )
    env = service_env(
        folder,
        LEADSCORE_DEMO="true",
        LEADSCORE_REGISTRY_WAIT_SECONDS="0",
        LEADSCORE_CONNECTORS_FILE=str(config),
        BENCH_AMOCRM_TOKEN=AMOCRM_TOKEN,
        BENCH_AMOCRM_SECRET=SECRET,
    )
    port = free_port()
    log = folder / "service.log"
    process = start_uvicorn(port, env, log)
    url = f"http://127.0.0.1:{port}"
    wait_until_answers(process, f"{url}/health", log, timeout=300, every=0.1)
    return process, url


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(rate: float, seconds: float) -> tuple[pd.DataFrame, str]:
    standin = StandIn().start()
    state = standin.state
    count = int(rate * seconds)
    first_id = 100_000
    for lead_id in range(first_id, first_id + count):
        state.amocrm_leads[lead_id] = payloads.amocrm_lead(lead_id)
    state.amocrm_contacts[7143599] = payloads.AMOCRM_CONTACT
    with tempfile.TemporaryDirectory(prefix="leadscore-crm-bench-") as tmp:
        process, url = _start_service(Path(tmp), standin)
        sent: dict[int, float] = {}
        answered: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        client = httpx.Client(timeout=30)
        hook = f"{url}/webhooks/amocrm/{SECRET}"
        form = {"Content-Type": "application/x-www-form-urlencoded"}

        def send(lead_id: int) -> None:
            started = time.monotonic()
            with lock:
                sent[lead_id] = started
            try:
                answer = client.post(hook, content=payloads.amocrm_added(lead_id), headers=form)
                if answer.status_code != 200:
                    errors.append(f"{answer.status_code}")
            except httpx.HTTPError as error:
                errors.append(type(error).__name__)
            with lock:
                answered.append(time.monotonic() - started)

        begin = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            for i in range(count):
                due = begin + i / rate
                time.sleep(max(0.0, due - time.monotonic()))
                pool.submit(send, first_id + i)
        paths = {f"/amocrm/api/v4/leads/{i}": i for i in sent}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = {r.path for r in state.recorded("PATCH") if 200 <= r.status < 300}
            if len(done & set(paths)) == len(paths):
                break
            time.sleep(0.2)
        time.sleep(1.0)
        load = load_average()
        process.terminate()
        process.wait(30)
        client.close()
    standin.stop()
    delivered: dict[int, list[float]] = {}
    for record in state.recorded("PATCH"):
        if 200 <= record.status < 300 and record.path in paths:
            delivered.setdefault(paths[record.path], []).append(record.at)
    latency = [min(times) - sent[lead] for lead, times in delivered.items()]
    twice = sum(1 for times in delivered.values() if len(times) > 1)
    answer_ms = [a * 1000 for a in answered]
    latency_ms = [a * 1000 for a in latency]
    rows = [
        ("leads sent", float(count)),
        ("written back", float(len(delivered))),
        ("written back twice", float(twice)),
        ("webhook errors", float(len(errors))),
        ("webhook answer p50 (ms)", statistics.median(answer_ms)),
        ("webhook answer p99 (ms)", _percentile(answer_ms, 0.99)),
        ("write-back latency p50 (ms)", statistics.median(latency_ms)),
        ("write-back latency p99 (ms)", _percentile(latency_ms, 0.99)),
        (
            "write-back p50 / answer p50",
            statistics.median(latency_ms) / statistics.median(answer_ms),
        ),
    ]
    table = pd.DataFrame(rows, columns=["measure", "value"])
    return table, load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="webhooks per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to send")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    table, loads = run(args.rate, args.seconds)
    body = (
        f"amoCRM connector, {args.rate:g} webhooks/s for {args.seconds:g} s against the local "
        "stand-in (tests/serving/connectors/standins.py); the service as one uvicorn worker "
        "on SQLite, the fallback rule scoring (no champions), OMP_NUM_THREADS=1. Latency: "
        "the webhook sent -> its lead's successful PATCH at the stand-in (fetch, store, "
        "score, outbox, write-back). Load average (1/5/15 min) at the end: "
        f"{loads}.\n\n{markdown_table(table, 1)}"
    )
    publish("crm", "CRM write-back latency (`benchmarks/crm.py`)", body, write=not args.no_docs)


if __name__ == "__main__":
    main()
