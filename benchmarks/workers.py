"""HTTP throughput of `leadscore serve --workers N`: one worker against two, in one run.

Usage: .venv/bin/python benchmarks/workers.py [--train-rows 20000] [--rounds 5] [--seconds 10]

Two services on the same demo model (the arrival/sql model, logged to a temporary data
folder) are started side by side, one with one uvicorn worker and one with two, and load
is put on each in turns: ``wrk`` (a C load generator, so the client is not the bottleneck)
posts one lead per request to ``POST /score?stage=arrival`` over 16 connections, cycling
through 500 different leads, for ``--seconds`` per round. The figures are the medians of
the rounds: requests per second, p99 latency, and the ratio two workers / one. The load
average is printed before and after. ``wrk`` takes CPU of its own: on a 2-core machine
the two workers and the load generator share the cores, so the ratio is a floor for a
machine where the load comes from elsewhere.

Target (issue 14): the maximum sustained rate with 2 workers >= 1.6x one worker.
Needs ``wrk`` (Debian: ``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from latency import KEY, log_champion, score_body, start_server
from report import load_average, markdown_table, write_section

from features.dataset import prepare_frame
from features.demo import generate_leads
from features.spec import KnownAt, load_spec
from training.trainer import TrainOptions, train_model

CONNECTIONS = 16
WRK_THREADS = 1
#: wrk's script: cycle through the bodies file (one JSON body a line), each a POST /score.
LUA = """
local bodies = {}
for line in io.lines(os.getenv("LEADSCORE_BENCH_BODIES")) do bodies[#bodies + 1] = line end
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/score?stage=arrival",
    {["X-API-Key"] = "KEY", ["Content-Type"] = "application/json",
     ["Connection"] = os.getenv("LEADSCORE_BENCH_CONNECTION")}, bodies[i])
end
"""


def _log_model(data_dir: Path, rows: int) -> list[bytes]:
    """Train the arrival/sql demo model on ``rows`` leads, log it to ``data_dir``'s MLflow
    store as the champion, and give request bodies of 500 other leads."""
    frame, _ = generate_leads(n=rows, seed=42)
    data = prepare_frame(load_spec("demo"), frame, source="demo")
    print(f"training the arrival/sql demo model on {rows:,} leads ...", flush=True)
    options = TrainOptions(known_at=KnownAt.ARRIVAL, target="sql", refit=False)
    result = train_model(data, options)
    log_champion(result, data_dir, data.frame.head(500))
    leads, _ = generate_leads(n=500, seed=7)
    columns = set(result.model.input_columns)
    return [
        score_body({k: v for k, v in r.items() if k in columns})
        for r in leads.to_dict(orient="records")
    ]


def _seconds(text: str) -> float:
    """wrk's latency text ("812.00us", "4.51ms", "1.02s") in seconds."""
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def wrk_round(
    url: str, script: Path, bodies: Path, seconds: float, connection: str
) -> tuple[float, float, int]:
    """One wrk run: (requests/s, p99 seconds, non-2xx responses); ``connection``: the
    Connection header, "keep-alive" or "close" (a new connection per request)."""
    command = ["wrk", "-t", str(WRK_THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds:g}s"]
    command += ["--latency", "-s", str(script), url]
    env = {
        "LEADSCORE_BENCH_BODIES": str(bodies),
        "LEADSCORE_BENCH_CONNECTION": connection,
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = _seconds(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    failed = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rate, p99, int(failed.group(1)) if failed else 0


MODES = ("keep-alive", "close")
Round = tuple[float, float, int]


def _rounds(
    servers: dict[int, str], folder: Path, rounds: int, seconds: float
) -> dict[tuple[str, int], list[Round]]:
    """``rounds`` rounds, each every (connection mode, workers) pair once, in turns."""
    script, bodies = folder / "post.lua", folder / "bodies.jsonl"
    for url in servers.values():  # warm up every worker
        wrk_round(url, script, bodies, 5, "keep-alive")
    measured: dict[tuple[str, int], list[Round]] = {(m, n): [] for m in MODES for n in servers}
    for r in range(rounds):
        for mode in MODES:
            for n, url in servers.items():
                rate, p99, failed = wrk_round(url, script, bodies, seconds, mode)
                measured[mode, n].append((rate, p99, failed))
                print(
                    f"round {r + 1}: {mode:<10} {n} worker(s) {rate:,.0f} req/s, p99 "
                    f"{p99 * 1000:.1f} ms, {failed} failed",
                    flush=True,
                )
    return measured


def _table(measured: dict[tuple[str, int], list[Round]]) -> pd.DataFrame:
    rows = []
    for mode in MODES:
        one = statistics.median(x[0] for x in measured[mode, 1])
        for n in (1, 2):
            runs = measured[mode, n]
            per_round = [b[0] / a[0] for a, b in zip(measured[mode, 1], runs, strict=True)]
            rate = statistics.median(x[0] for x in runs)
            rows.append(
                {
                    "connections": mode,
                    "workers": n,
                    "req/s (median)": f"{rate:,.0f}",
                    "p99 (median)": f"{statistics.median(x[1] for x in runs) * 1000:.1f} ms",
                    "failed": sum(x[2] for x in runs),
                    "vs 1 worker": f"{rate / one:.2f}x",
                    "per round": ", ".join(f"{x:.2f}" for x in per_round),
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (Debian), then run this again")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bodies = _log_model(folder / "one", args.train_rows)
        shutil.copytree(folder / "one", folder / "two")
        (folder / "bodies.jsonl").write_bytes(b"\n".join(bodies) + b"\n")
        (folder / "post.lua").write_text(LUA.replace("KEY", KEY), encoding="utf-8")
        sides = ((1, "one"), (2, "two"))
        started = {n: start_server(folder / name, workers=n, cli=True) for n, name in sides}
        try:
            load_before = load_average()
            urls = {n: url for n, (_server, url) in started.items()}
            measured = _rounds(urls, folder, args.rounds, args.seconds)
            load_after = load_average()
        finally:
            for server, _url in started.values():
                server.terminate()
                server.wait(timeout=30)
    body = (
        markdown_table(_table(measured))
        + f"\n\n`wrk -t{WRK_THREADS} -c{CONNECTIONS}`, {args.rounds} rounds of "
        f"{args.seconds:g} s each, in turns, POST /score?stage=arrival of one lead (500 "
        f"different leads), the demo arrival/sql model trained on {args.train_rows:,} leads, "
        "both services started by `leadscore serve --workers N`. *keep-alive*: each of the "
        "16 connections stays with the worker that accepted it, and which worker that is "
        "is a race (the kernel wakes both; the first takes every pending connection), so "
        "the ratio swings by round between 1x (one worker took them all) and 2x. *close*: "
        "a new connection per request, so the idle worker accepts the next one: the "
        f"balanced rate. Load average before / after: {load_before} and {load_after}. "
        "Target: 2 workers >= 1.6x one. On a 2-core machine wrk shares the cores with the "
        "workers."
    )
    print(body)
    if not args.no_write:
        write_section("workers", "HTTP: one worker against two (`benchmarks/workers.py`)", body)


if __name__ == "__main__":
    main()
