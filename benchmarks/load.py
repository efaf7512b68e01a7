"""The queue under load: POST /leads offered at a steady rate with a long queue, and GET /queue.

For each backend (SQLite, PostgreSQL) and each version of the code (the commit before the
bounded queue reads, ``--before``, checked out in a temporary git worktree, and this
checkout), interleaved: a fresh database is seeded with ``--queued`` open queued leads
(arrivals spread over the past days: most are breached, a few are fresh), the real service
runs as a subprocess (uvicorn, one worker, the fallback rule scoring), then

1. ``GET /queue?limit=50`` is timed, one request after another (``--queue-requests``);
2. ``POST /leads`` is offered open loop at ``--rate`` leads/s for ``--minutes``: each request
   falls due on schedule whatever the earlier ones do and goes out on the next free one of
   64 keep-alive connections; its latency counts from when it fell due.

It prints a table and writes the "Queue under load" section of docs/benchmarks.md. Both
the service and this client run on the same machine.

    python benchmarks/load.py                       # full size: about 15 minutes
    python benchmarks/load.py --minutes 0.5 --queued 5000 --skip-before --backends sqlite

``python benchmarks/load.py seed URL N`` seeds a store (run by the benchmark with the code
under test first on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from report import markdown_table, write_section

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # after the code under test: for tests.serving.harness
KEY = "bench-sdr-key-000001"
SLA_MINUTES = 30.0
#: Seeded arrivals are spread over this many days before now ...
SEED_DAYS = 5.0
#: ... except this share, which arrived within the SLA window (not breached yet).
FRESH_SHARE = 0.02
CHANNELS = ["referral", "paid_search", "organic", "display", "email", "social", "partner", "event"]
MESSAGES = [
    "Need SEO for our store, what is the price?",
    "Срочно нужен сайт, какая стоимость?",
    "Tender for a CRM integration, RFP attached",
    "",
    "Looking for a job",
]
#: A request not answered this long after it was due counts as an error.
TIMEOUT_SECONDS = 30.0
#: Client connections the load is sent on (each kept alive; the service has 40 threads).
CONNECTIONS = 64
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGETS = {
    "achieved": ">= 49/s",
    "errors": "0",
    "p99": "<= 150 ms",
    "drift": "<= 1.5",
    "queue_p99": "<= 50 ms",
}


# ------------------------------------------------------------------------------ seeding


@dataclass(frozen=True)
class SeedLead:
    external_id: str
    arrived_at: datetime
    channel: str
    probability: float
    tier: str


def seed_leads(queued: int, now: datetime, seed_value: int = 16) -> Iterator[SeedLead]:
    """Open leads that arrived over the past days (a few within the SLA window), scored."""
    rng = random.Random(seed_value)
    for i in range(queued):
        fresh = rng.random() < FRESH_SHARE
        low, high = (0.0, SLA_MINUTES) if fresh else (SLA_MINUTES, SEED_DAYS * 24 * 60)
        probability = rng.betavariate(2, 5)
        yield SeedLead(
            external_id=f"seed-{i}",
            arrived_at=now - timedelta(minutes=rng.uniform(low, high)),
            channel=rng.choice(CHANNELS),
            probability=probability,
            tier="ABCD"[sum(probability < cut for cut in (0.5, 0.25, 0.1))],
        )


def seed(url: str, queued: int) -> None:
    """Store ``queued`` open, scored, queued leads with the code on the path (any version:
    only the tables' columns both versions have are set)."""
    from serving.store.leads import Store
    from serving.store.tables import LeadRow, ScoreRow, StatusChangeRow

    now = datetime.now(UTC)
    store = Store.open(url)
    try:
        with store.writing() as session:
            for i, lead in enumerate(seed_leads(queued, now), start=1):
                row = LeadRow(
                    external_id=lead.external_id,
                    arrived_at=lead.arrived_at,
                    channel=lead.channel,
                    source={"channel": lead.channel},
                    record={"external_id": lead.external_id, "channel": lead.channel},
                    status="new",
                    stage_reached="lead",
                    deal_value=None,
                    deal_currency=None,
                    sla_deadline=lead.arrived_at + timedelta(minutes=SLA_MINUTES),
                    in_queue=True,
                    claimed_by=None,
                    probability=lead.probability,
                    tier=lead.tier,
                    route=None,
                    qualified_at=None,
                    created_by="seed",
                    created_at=now,
                    updated_at=now,
                )
                row.history = [
                    StatusChangeRow(
                        status="new",
                        at=lead.arrived_at,
                        note=None,
                        changed_by="seed",
                        recorded_at=now,
                    )
                ]
                row.scores = [
                    ScoreRow(
                        kind="arrival",
                        target="sql",
                        probability=lead.probability,
                        tier=lead.tier,
                        reasons=[],
                        model_name="seed",
                        model_version="seed",
                        is_fallback=False,
                        fallback_reason=None,
                        scored_at=now,
                    )
                ]
                session.add(row)
                if i % 2000 == 0:
                    session.flush()
                    session.expunge_all()
        with store.engine.connect() as connection:
            if store.dialect == "sqlite":  # start the load with an empty write-ahead log
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            else:  # the statistics autovacuum would have gathered on a store this size
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
    finally:
        store.close()


# ------------------------------------------------------------------------------ databases


@dataclass
class Database:
    backend: str
    url: str
    wal: Path | None = None


@contextmanager
def fresh_database(backend: str, workdir: Path, pg_admin: str) -> Iterator[Database]:
    """An empty SQLite file, or a PostgreSQL database created here and dropped after."""
    if backend == "sqlite":
        path = workdir / "leads.db"
        yield Database(backend, f"sqlite:///{path}", Path(f"{path}-wal"))
        return
    from sqlalchemy import create_engine, make_url, text

    name = f"leadscore_load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(pg_admin).set(database=name).render_as_string(hide_password=False)
        yield Database(backend, url)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# ------------------------------------------------------------------------------ the service


def _env(code: Path, database: Database, workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(code),
        "OMP_NUM_THREADS": "1",
        "LEADSCORE_DATA_DIR": str(workdir / "data"),
        "LEADSCORE_DATABASE_URL": database.url,
        "LEADSCORE_API_KEYS": f"{KEY}:sdr:bench",
        "LEADSCORE_MODEL_CHECK_SECONDS": "0",
        "LEADSCORE_MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
    }


@contextmanager
def service(code: Path, database: Database, workdir: Path) -> Iterator[tuple[str, int]]:
    """The service of the code in ``code`` on ``database``: (its URL, its pid)."""
    # imported here, not at the top: `load.py seed` runs with another checkout's code first
    # on the path, whose tests may have no harness
    from tests.serving.harness import free_port, stop, wait_until_answers

    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "serving.app:create_app", "--factory"]
    command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    log_path = workdir / "service.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        command, env=_env(code, database, workdir), cwd=code, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(
            server,
            f"{url}/queue?limit=1",
            log_path,
            timeout=180,
            every=0.5,
            headers={"X-API-Key": KEY},
            request_timeout=5,
        )
        yield url, server.pid
    finally:
        stop(server, timeout=30)
        log.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields_[11]) + int(fields_[12])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------ the load


def lead_body(rng: random.Random, external_id: str) -> bytes:
    email = rng.choice(["buyer@acme-industries.ru", "ivan.petrov@gmail.com", None])
    lead = {
        "external_id": external_id,
        "arrived_at": datetime.now(UTC).isoformat(),
        "source": {
            "channel": rng.choice(CHANNELS),
            "email": email,
            "phone": rng.choice(["+7 900 000 00 00", None]),
            "message": rng.choice(MESSAGES),
        },
    }
    return json.dumps(lead).encode()


@dataclass
class LoadRun:
    offsets: np.ndarray  # scheduled send time of each request, s from the start
    latencies: np.ndarray  # s from the scheduled time to the answer
    ok: np.ndarray  # 2xx
    elapsed: float  # from the first scheduled send to the last answer
    wal_max: int | None = None
    wal_end: int | None = None
    cpu: float = 0.0  # the service's CPU seconds during the load
    statuses: dict[int, int] = field(default_factory=dict)


def _watch_wal(wal: Path | None, sizes: list[int], done: threading.Event) -> None:
    while wal is not None and not done.wait(1.0):
        sizes.append(wal.stat().st_size if wal.exists() else 0)


def offer_load(url: str, pid: int, rate: float, seconds: float, wal: Path | None) -> LoadRun:
    """Open loop: request i is due at ``i / rate`` s and queued for the next free client
    connection (CONNECTIONS of them, kept alive); its latency counts from when it was due.
    One due more than TIMEOUT_SECONDS ago when a connection frees up is an error, unsent."""
    total = int(rate * seconds)
    results: list[tuple[float, float, int]] = [(0.0, 0.0, 0)] * total
    due: queue.Queue[int | None] = queue.Queue()
    run_id = uuid.uuid4().hex[:8]
    # The clients are made before the clock starts: each costs the client ~35 ms of CPU
    # (its TLS context), which would otherwise land on the first requests' latencies.
    headers = {"X-API-Key": KEY, "Content-Type": "application/json"}
    clients = [httpx.Client(base_url=url, headers=headers) for _ in range(CONNECTIONS)]
    start = time.perf_counter() + 0.5

    def client_connection(worker: int) -> None:
        rng = random.Random(worker)
        with clients[worker] as client:
            while (i := due.get()) is not None:
                scheduled = start + i / rate
                left = TIMEOUT_SECONDS - (time.perf_counter() - scheduled)
                status = -1
                if left > 0:
                    body = lead_body(rng, f"load-{run_id}-{i}")
                    with suppress(httpx.HTTPError):
                        status = client.post("/leads", content=body, timeout=left).status_code
                results[i] = (scheduled - start, time.perf_counter() - scheduled, status)

    sizes: list[int] = []
    done = threading.Event()
    threads = [threading.Thread(target=client_connection, args=(n,)) for n in range(CONNECTIONS)]
    threads.append(threading.Thread(target=_watch_wal, args=(wal, sizes, done)))
    cpu_before = cpu_seconds(pid)
    for thread in threads:
        thread.start()
    for i in range(total):
        time.sleep(max(0.0, start + i / rate - time.perf_counter()))
        due.put(i)
    for _ in range(CONNECTIONS):
        due.put(None)
    for thread in threads[:-1]:
        thread.join()
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(pid) - cpu_before
    done.set()
    threads[-1].join()
    offsets, latencies, statuses = (np.array(column) for column in zip(*results, strict=True))
    counts = {int(code): int((statuses == code).sum()) for code in np.unique(statuses)}
    return LoadRun(
        offsets,
        latencies,
        (statuses >= 200) & (statuses < 300),
        elapsed,
        max(sizes, default=0) if wal is not None else None,
        (wal.stat().st_size if wal.exists() else 0) if wal is not None else None,
        cpu,
        counts,
    )


def queue_latencies(url: str, requests: int, max_seconds: float) -> np.ndarray:
    """GET /queue?limit=50 one after another: each latency (s)."""
    times: list[float] = []
    with httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=60) as client:
        client.get("/queue", params={"limit": 50})  # warm up
        deadline = time.perf_counter() + max_seconds
        while len(times) < requests and time.perf_counter() < deadline:
            started = time.perf_counter()
            response = client.get("/queue", params={"limit": 50})
            times.append(time.perf_counter() - started)
            response.raise_for_status()
    return np.array(times)


# ------------------------------------------------------------------------------ one run


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _mib(size: int | None) -> str:
    return "n/a" if size is None else f"{size / 2**20:.1f} MiB"


def measure(
    version: str, code: Path, backend: str, args: argparse.Namespace, workdir: Path
) -> dict[str, object]:
    print(f"\n== {backend}, {version} ({code}), load average {os.getloadavg()}", flush=True)
    with fresh_database(backend, workdir, args.pg_url) as database:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "seed", database.url, str(args.queued)],
            env={**os.environ, "PYTHONPATH": str(code)},
            cwd=code,
            check=True,
        )
        print(f"   seeded {args.queued} queued leads in {time.perf_counter() - started:.0f} s")
        with service(code, database, workdir) as (url, pid):
            queue = queue_latencies(url, args.queue_requests, args.queue_seconds)
            print(
                f"   GET /queue?limit=50 x{len(queue)}: p50 {_ms(np.percentile(queue, 50))} ms, "
                f"p99 {_ms(np.percentile(queue, 99))} ms",
                flush=True,
            )
            seconds = args.minutes * 60
            run = offer_load(url, pid, args.rate, seconds, database.wal)
    window = min(60.0, seconds / 2)
    first = run.latencies[run.offsets < window]
    last = run.latencies[run.offsets >= seconds - window]
    row: dict[str, object] = {
        "backend": backend,
        "code": version,
        "offered/s": args.rate,
        "achieved/s": round(float(run.ok.sum()) / run.elapsed, 1),
        "errors": int((~run.ok).sum()),
        "p50 ms": _ms(float(np.percentile(run.latencies, 50))),
        "p99 ms": _ms(float(np.percentile(run.latencies, 99))),
        "p50 first/last min ms": f"{_ms(float(np.median(first)))} / {_ms(float(np.median(last)))}",
        "last/first": round(float(np.median(last) / np.median(first)), 2),
        "service CPU": f"{100 * run.cpu / run.elapsed:.0f}%",
        "GET /queue p50/p99 ms": (
            f"{_ms(float(np.percentile(queue, 50)))} / {_ms(float(np.percentile(queue, 99)))}"
        ),
        "WAL max / end": f"{_mib(run.wal_max)} / {_mib(run.wal_end)}",
    }
    print("   " + ", ".join(f"{k}: {v}" for k, v in row.items()), flush=True)
    print(f"   statuses {run.statuses}, load average {os.getloadavg()}", flush=True)
    return row


@contextmanager
def worktree(commit: str) -> Iterator[Path]:
    """The code of ``commit`` in a temporary git worktree, removed after."""
    path = Path(tempfile.mkdtemp(prefix="leadscore-before-"))
    shutil.rmtree(path)
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), commit],
        check=True,
        capture_output=True,
    )
    try:
        yield path
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False
        )


def _exit_on_term(_signum: int, _frame: object) -> None:
    raise SystemExit(143)  # so that the servers, databases and the worktree are cleaned up


def main() -> None:
    signal.signal(signal.SIGTERM, _exit_on_term)
    if len(sys.argv) == 4 and sys.argv[1] == "seed":
        seed(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=50.0, help="leads/s offered")
    parser.add_argument("--queued", type=int, default=20_000, help="open leads seeded")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--before", default="0b2b6e7", help="the commit to compare with")
    parser.add_argument("--skip-before", action="store_true")
    parser.add_argument("--queue-requests", type=int, default=500)
    parser.add_argument("--queue-seconds", type=float, default=30.0, help="at most, per run")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="PostgreSQL admin URL")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    print(f"load average at start {os.getloadavg()}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, _versions(args) as versions:
        for backend in backends:
            for version, code in versions:
                workdir = Path(tmp) / f"{backend}-{version}"
                workdir.mkdir()
                rows.append(measure(version, code, backend, args, workdir))
    load = os.getloadavg()
    table = pd.DataFrame(rows)
    print()
    print(table.to_string(index=False))
    print(f"load average at the end {load}")
    if args.no_docs:
        return
    targets = ", ".join(f"{k} {v}" for k, v in TARGETS.items())
    body = (
        f"{args.queued:,} open queued leads seeded (arrivals over the past {SEED_DAYS:g} days, "
        f"{FRESH_SHARE:.0%} fresh), then `POST /leads` offered open loop at {args.rate:g}/s for "
        f"{args.minutes:g} min (latency from each request's scheduled time; a request over "
        f"{TIMEOUT_SECONDS:g} s is an error) and, before it, `GET /queue?limit=50` "
        f"{args.queue_requests} times in a row (at most {args.queue_seconds:g} s). The real "
        "service (uvicorn, 1 worker, fallback rule) and the client share the 2 cores; the "
        f"client's {CONNECTIONS} connections are made before the clock starts; "
        f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}. `before` is "
        f"commit {args.before} (the whole queue ranked in Python), `after` this checkout.\n\n"
        f"Targets: {targets}.\n\n" + markdown_table(table, digits=1)
    )
    write_section("load", "Queue under load (`benchmarks/load.py`)", body)


@contextmanager
def _versions(args: argparse.Namespace) -> Iterator[list[tuple[str, Path]]]:
    if args.skip_before:
        yield [("after", ROOT)]
        return
    with worktree(args.before) as before:
        yield [("before", before), ("after", ROOT)]


if __name__ == "__main__":
    main()
