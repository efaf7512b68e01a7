"""History import throughput: demo leads into the lead store, SQLite and PostgreSQL.

Usage: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/import_leads.py [--leads 100000]
       [--repeats 3] [--batch-size 1000] [--baseline 2000] [--pg URL]

A demo export of ``--leads`` leads (``generate_leads``, written as CSV like `leadscore
demo-data`) is read through the demo spec once (reading + validation, timed), then stored
``--repeats`` times into a fresh SQLite file and a fresh PostgreSQL schema, the two
alternating, with the import's batched Core inserts (``store_leads``). Also timed: a re-run
onto the full store (every lead already stored), and, as the reference the bulk path is
measured against, ``--baseline`` leads stored one by one through ``Store.add_lead`` (one
ORM transaction per lead, what `POST /leads` does) on each backend. Medians; leads/s and
ratios; the load average printed. No model runs (nothing is scored), so LightGBM's threads
do not matter here.

Prints a table and writes the "History import" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from postgres import fresh_schema  # noqa: E402
from report import load_average, markdown_table, publish  # noqa: E402

from features.demo import generate_leads  # noqa: E402
from features.spec import load_spec  # noqa: E402
from serving.queue import Sla  # noqa: E402
from serving.store.imports import ImportedLead, read_export, store_leads  # noqa: E402
from serving.store.leads import NewLead, Store  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SLA = 30.0


@contextmanager
def sqlite_store(folder: Path) -> Iterator[Store]:
    path = folder / f"leads-{uuid.uuid4().hex[:8]}.db"
    store = Store.open(f"sqlite:///{path}")
    try:
        yield store
    finally:
        store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def pg_store(base: str) -> Iterator[Store]:
    """A store in a fresh schema of ``base``, dropped afterwards."""
    with fresh_schema(base, "bench_import") as url:
        store = Store.open(url)
        try:
            yield store
        finally:
            store.close()


def timed_import(
    store: Store, leads: list[ImportedLead], now: datetime, batch_size: int
) -> tuple[float, int]:
    started = time.perf_counter()
    result = store_leads(
        store, leads, now, sla=Sla(SLA), queue_within=timedelta(0), batch_size=batch_size
    )
    return time.perf_counter() - started, result.imported


def as_new_lead(lead: ImportedLead) -> NewLead:
    return NewLead(
        external_id=lead.external_id,
        arrived_at=lead.arrived_at,
        channel=lead.channel,
        source=lead.source,
        record=lead.record,
        history=[(status, at, None) for status, at in lead.history],
        deal_value=lead.deal_value,
        deal_currency=lead.deal_currency,
        sla_deadline=lead.arrived_at + timedelta(minutes=SLA),
        created_by="bench",
    )


def one_by_one(store: Store, leads: list[ImportedLead], now: datetime) -> float:
    started = time.perf_counter()
    for lead in leads:
        store.add_lead(as_new_lead(lead), now)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=1_000)
    parser.add_argument("--baseline", type=int, default=2_000)
    parser.add_argument("--pg", default=os.environ.get("LEADSCORE_TEST_DATABASE_URL", PG_URL))
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        started = time.perf_counter()
        frame, _truth = generate_leads(args.leads, seed=0)
        export = root / "export.csv"
        frame.to_csv(export, index=False)
        generating = time.perf_counter() - started
        print(f"{args.leads:,} demo leads written in {generating:.0f} s", flush=True)
        started = time.perf_counter()
        plan = read_export(load_spec("demo"), export, now)
        reading = time.perf_counter() - started
        leads = plan.leads
        print(f"read + validated in {reading:.1f} s ({len(plan.refused)} refused)", flush=True)

        backends: dict[str, Callable[[], object]] = {
            "SQLite": lambda: sqlite_store(root),
            "PostgreSQL": lambda: pg_store(args.pg),
        }
        runs: dict[str, list[float]] = {name: [] for name in backends}
        rerun: dict[str, list[float]] = {name: [] for name in backends}
        baseline: dict[str, float] = {}
        for repeat in range(args.repeats):
            for name, opened in backends.items():
                with opened() as store:  # type: ignore[attr-defined]
                    seconds, imported = timed_import(store, leads, now, args.batch_size)
                    assert imported == len(leads), (name, imported)
                    runs[name].append(seconds)
                    again, imported = timed_import(store, leads, now, args.batch_size)
                    assert imported == 0
                    rerun[name].append(again)
                print(f"repeat {repeat + 1}: {name} {seconds:.1f} s, re-run {again:.1f} s")
        sample = leads[: args.baseline]
        for name, opened in backends.items():
            with opened() as store:  # type: ignore[attr-defined]
                baseline[name] = one_by_one(store, sample, now)
    load = load_average()

    rows = []
    for name in backends:
        bulk = statistics.median(runs[name])
        single_rate = len(sample) / baseline[name]
        rows.append(
            (
                name,
                len(leads) / bulk,
                bulk,
                len(leads) / statistics.median(rerun[name]),
                single_rate,
                (len(leads) / bulk) / single_rate,
            )
        )
    table = pd.DataFrame(
        rows,
        columns=[
            "store",
            "import (leads/s)",
            "import (s, median)",
            "re-run, all stored (leads/s)",
            "one by one, add_lead (leads/s)",
            "import / one by one",
        ],
    )
    sqlite_rate, pg_rate = rows[0][1], rows[1][1]
    changes = sum(len(lead.history) for lead in leads)
    body = "\n".join(
        [
            f"`leadscore import` of {len(leads):,} demo leads ({changes:,} status changes) "
            f"in batches of {args.batch_size:,} (one transaction each), median of "
            f"{args.repeats} imports per store into a fresh SQLite file and a fresh "
            "PostgreSQL 15 schema on 127.0.0.1, alternating. The re-run imports the same "
            "file onto the full store (nothing stored twice). One by one: the first "
            f"{len(sample):,} leads through `Store.add_lead` (one ORM transaction each).",
            "",
            markdown_table(table, digits=1),
            "",
            f"PostgreSQL / SQLite import throughput: {pg_rate / sqlite_rate:.2f}. Reading "
            f"and validating the export through the demo spec (once, before storing): "
            f"{reading:.1f} s, {len(leads) / reading:,.0f} leads/s. Load average after the "
            f"run: {load} (1/5/15 min).",
        ]
    )
    title = "History import (`benchmarks/import_leads.py`)"
    publish("import", title, body, write=not args.no_write)


if __name__ == "__main__":
    main()
