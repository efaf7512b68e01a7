"""Wall time and peak memory of training on 100k and 1M demo leads (features + model + calibration).

Usage: .venv/bin/python benchmarks/training_speed.py [--sizes 100000,1000000]

Each size runs in a fresh process so peak memory (max RSS) is its own. Generating the demo
data is not timed. Target: 1M leads end to end in <= 90 s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import pandas as pd
from report import markdown_table, write_section


def _child(rows: int, stage: str) -> None:
    from features.dataset import prepare_frame
    from features.demo import generate_leads
    from features.spec import KnownAt, load_spec
    from training.trainer import TrainOptions, fit_final

    frame, _ = generate_leads(n=rows, seed=42)
    data = prepare_frame(load_spec("demo"), frame, source=f"demo n={rows}")
    del frame
    started = time.perf_counter()
    model = fit_final(data, TrainOptions(known_at=KnownAt(stage), target="sql"))
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    boosters = [b for m in model.members for b in getattr(m.estimator, "boosters", [])]
    rounds = sum(b.current_iteration() for b in boosters)
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "rounds": rounds}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(int(args.child[0]), args.child[1])
        return
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        for stage in ("arrival", "qualified"):
            out = (
                subprocess.run(
                    [sys.executable, __file__, "--child", str(size), stage],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            result = json.loads(out)
            rows.append(
                {
                    "leads": size,
                    "model": f"{stage}/sql",
                    "seconds": result["seconds"],
                    "peak memory MB": result["peak_mb"],
                    "boosting rounds": result["rounds"],
                    "target": "<= 90 s" if size == 1_000_000 else "",
                }
            )
            print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    body = (
        "One production fit (feature pipeline fitted and applied, LightGBM with early stopping "
        "on the most recent 20%, calibration, then below 200k rows the refit on all rows) on "
        "demo leads, all cores; each in a fresh process, so peak memory includes the data "
        "set itself. Data generation is not timed.\n\n" + markdown_table(table, digits=1)
    )
    write_section("training_speed", "Training speed (`benchmarks/training_speed.py`)", body)


if __name__ == "__main__":
    main()
