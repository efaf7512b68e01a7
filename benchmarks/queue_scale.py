"""The SDR queue with a large lead store (issue 14, item 6): reads and claims stay O(queue).

Usage: .venv/bin/python benchmarks/queue_scale.py [--stored 60000,1000000] [--open 5000]
       [--calls 100] [--pg URL]

Per store (a fresh SQLite file; a fresh PostgreSQL schema when ``--pg`` or
``LEADSCORE_TEST_DATABASE_URL`` names a server) and per size, a lead store holding
``--stored`` leads of which ``--open`` wait in the queue (the rest closed), written with
bulk Core inserts (no scoring: this measures the store's reads). Then, interleaved across
the sizes, ``--calls`` rounds of what the service does per request: the top 100 of the
queue by probability and by expected value (``Store.queue_top``), a lead's place among the
first 50 unclaimed (``queue_position``), and a claim of the next lead with its release
(``claim_next`` + ``release``). Medians and 95th percentiles in ms; the ratio of the largest
store to the smallest says whether the cost follows the queue (about 1) or the store.

Prints a table and writes the "Queue at scale" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from postgres import fresh_schema  # noqa: E402
from report import load_average, markdown_table, publish  # noqa: E402

from serving.queue import QueueOrder, Sla  # noqa: E402
from serving.store.leads import Store  # noqa: E402
from serving.store.queue_reads import QueueFilter  # noqa: E402
from serving.store.tables import LeadRow  # noqa: E402

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
SLA = Sla(30.0)
BATCH = 20_000
CHANNELS = ("paid_search", "seo", "social", "referral", "display", "partner")


def lead_rows(
    start: int, count: int, open_ids: set[int], rng: np.random.Generator
) -> list[dict[str, Any]]:
    """``count`` lead rows from id ``start``; those in ``open_ids`` wait in the queue."""
    p = rng.beta(2, 9, count)
    minutes = rng.uniform(-3 * 24 * 60, 30, count)  # deadlines from 3 days ago to 30 min on
    rows = []
    for k in range(count):
        lead_id = start + k
        waiting = lead_id in open_ids
        arrived = NOW - timedelta(days=float(lead_id % 700), minutes=float(k % 1_440))
        deadline = NOW + timedelta(minutes=float(minutes[k])) if waiting else arrived
        rows.append(
            {
                "id": lead_id,
                "external_id": f"bench-{lead_id}",
                "arrived_at": arrived,
                "channel": CHANNELS[lead_id % len(CHANNELS)],
                "source": {},
                "record": {},
                "status": "new" if waiting else "lost",
                "stage_reached": "lead",
                "sla_deadline": deadline,
                "in_queue": waiting,
                "probability": float(p[k]),
                "rank_probability": float(p[k]),
                "explored": False,
                "rank_value": float(p[k] * rng.lognormal(12, 1)),
                "tier": "C",
                "created_by": "bench",
                "created_at": arrived,
                "updated_at": arrived,
            }
        )
    return rows


def fill(store: Store, stored: int, waiting: int, seed: int) -> float:
    """Write ``stored`` leads, ``waiting`` of them queued; seconds taken."""
    rng = np.random.default_rng(seed)
    open_ids = {int(i) for i in rng.choice(np.arange(1, stored + 1), waiting, replace=False)}
    started = time.perf_counter()
    for start in range(1, stored + 1, BATCH):
        rows = lead_rows(start, min(BATCH, stored + 1 - start), open_ids, rng)
        with store.writing() as session:
            session.execute(insert(LeadRow.__table__), rows)
    return time.perf_counter() - started


def operations(store: Store, probe: int) -> dict[str, Callable[[], object]]:
    """What one request does to the queue, by name."""
    by_value = QueueFilter(order=QueueOrder.EXPECTED_VALUE)

    def claim_and_release() -> None:
        lead_id = store.claim_next("sdr-bench", NOW, SLA)
        assert lead_id is not None
        store.release(lead_id, "sdr-bench", NOW)

    return {
        "GET /queue top 100 (probability)": lambda: store.queue_top(NOW, SLA, 100, QueueFilter()),
        "GET /queue top 100 (expected value)": lambda: store.queue_top(NOW, SLA, 100, by_value),
        "a lead's place among the first 50": lambda: store.queue_position(probe, NOW, SLA, 50),
        "claim the next lead + release": claim_and_release,
    }


@contextmanager
def opened(kind: str, url: str | None, folder: Path, stored: int) -> Iterator[Store]:
    with ExitStack() as stack:
        if kind == "sqlite":
            where = f"sqlite:///{folder / f'queue-{stored}.db'}"
        else:
            assert url is not None
            where = stack.enter_context(fresh_schema(url, "bench_queue"))
        store = Store.open(where)
        stack.callback(store.close)
        yield store


def measure(
    kind: str, url: str | None, sizes: list[int], waiting: int, calls: int
) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        stores = {}
        for stored in sizes:
            store = stack.enter_context(opened(kind, url, Path(folder), stored))
            seconds = fill(store, stored, waiting, seed=stored)
            print(f"{kind}: {stored:,} leads written in {seconds:.0f} s", flush=True)
            probe = store.queue_top(NOW, SLA, 30, QueueFilter(unclaimed=True)).items[-1]
            stores[stored] = operations(store, probe.entry.lead_id)
        times: dict[tuple[int, str], list[float]] = {}
        for _ in range(calls):  # interleaved: each round visits every size and operation
            for stored, ops in stores.items():
                for name, run in ops.items():
                    started = time.perf_counter()
                    run()
                    times.setdefault((stored, name), []).append(
                        1e3 * (time.perf_counter() - started)
                    )
    rows = []
    for name in next(iter(stores.values())):
        row: dict[str, object] = {"store": kind, "operation": name}
        for stored in sizes:
            spent = times[(stored, name)]
            row[f"{stored:,} stored: median ms"] = statistics.median(spent)
            row[f"{stored:,} stored: p95 ms"] = float(np.percentile(spent, 95))
        smallest, largest = (
            statistics.median(times[(sizes[0], name)]),
            statistics.median(times[(sizes[-1], name)]),
        )
        row["largest / smallest (median)"] = largest / smallest
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", default="60000,1000000")
    parser.add_argument("--open", type=int, default=5_000, dest="waiting")
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--pg", default=os.environ.get("LEADSCORE_TEST_DATABASE_URL"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.stored.split(","))
    started = time.perf_counter()
    rows = measure("sqlite", None, sizes, args.waiting, args.calls)
    if args.pg:
        rows += measure("postgresql", args.pg, sizes, args.waiting, args.calls)
    table = pd.DataFrame(rows)
    body = "\n".join(
        [
            f"Lead stores of {', '.join(f'{s:,}' for s in sizes)} leads, {args.waiting:,} of "
            "them waiting in the queue (the rest closed), written with bulk inserts; "
            f"{args.calls} interleaved rounds of each operation per store (SQLite file"
            + (", PostgreSQL schema on 127.0.0.1" if args.pg else "")
            + "). The last column near 1 means the cost follows the queue, not the store.",
            "",
            markdown_table(table, digits=2),
            "",
            f"Load average at the end: {load_average()} (1/5/15 min); run time "
            f"{time.perf_counter() - started:.0f} s.",
        ]
    )
    publish(
        "queue-scale", "Queue at scale (`benchmarks/queue_scale.py`)", body, write=not args.no_write
    )


if __name__ == "__main__":
    main()
