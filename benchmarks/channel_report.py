"""Channel review (issue 6) on the demo data and the two real data sets.

Usage: .venv/bin/python benchmarks/channel_report.py [--only demo,x_education,olist]
       [--demo-rows 60000] [--out DIR]

Trains each data set's model with its shipped spec (``train_model``), builds the channel
review (``build_channel_report``) and writes it (HTML + CSV) under ``--out``; the headline
tables go to docs/benchmarks.md. Which leads and predictions are reported:

* demo: every lead, the SQL model scoring at qualified, fitted on the training period; the
  generator's ground truth (drivers per channel) is compared with the report's ranking;
* X Education (no time column): every lead, the model scoring at qualified, with its pooled
  out-of-fold predictions for predicted vs actual;
* Olist: the out-of-time test period (2018-03..05), the model fitted before it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from report import markdown_table, write_section

from features.dataset import LeadData, load_dataset, prepare_frame
from features.demo import generate_leads
from features.spec import KnownAt, load_spec
from training.channels.funnel import ALL_LEADS, Thresholds
from training.channels.leads import Period, leads_from_data, leads_from_records
from training.channels.page import write_report
from training.channels.report import ChannelReport, build_channel_report
from training.trainer import TrainOptions, TrainResult, train_model

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _known_at(data: LeadData) -> KnownAt:
    return KnownAt.QUALIFIED if KnownAt.QUALIFIED in data.spec.known_ats else KnownAt.ARRIVAL


def _out_of_fold(data: LeadData, result: TrainResult) -> np.ndarray:
    predicted = np.full(len(data), np.nan)
    evaluation = result.evaluation
    predicted[evaluation.rows] = evaluation.predictions[result.chosen]
    return predicted


def _escape(text: Any) -> Any:
    return text.replace("|", "\\|") if isinstance(text, str) else text


def headline(report: ChannelReport) -> pd.DataFrame:
    """Per channel: volume, conversion, calibration and the first driver in words."""
    summary = report.summary
    table = pd.DataFrame(
        {
            "channel": summary["channel"],
            "leads": summary["leads"],
            "conv.": summary["conversions"],
            "rate": summary["conversion_rate"],
            "predicted": summary.get("mean_predicted", np.nan),
            "top driver (in words)": [
                str(t).split(" | ")[0] if v == "ok" else "too few leads to judge"
                for t, v in zip(summary["top_drivers"], summary["verdict"], strict=True)
            ],
            "next drivers": [
                ", ".join(
                    report.drivers.loc[
                        (report.drivers["channel"] == c)
                        & report.drivers["rank"].between(2, 3)
                        & report.drivers["varies"],
                        "field",
                    ]
                )
                if c != ALL_LEADS and not report.drivers.empty
                else ""
                for c in summary["channel"]
            ],
        }
    )
    return table.map(_escape)


def truth_agreement(report: ChannelReport, truth: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for channel, story in truth["channels"].items():
        mine = report.drivers[report.drivers["channel"] == channel].set_index("field")["rank"]
        first, second = (d["feature"] for d in story["drivers"][:2])
        rows.append(
            {
                "channel": channel,
                "true #1": first,
                "its rank": int(mine.get(first, -1)),
                "true #2": second,
                "its rank ": int(mine.get(second, -1)),
                "report top 3": ", ".join(mine.index[:3]),
            }
        )
    return pd.DataFrame(rows)


def _demo(rows: int) -> tuple[ChannelReport, dict[str, Any]]:
    frame, truth = generate_leads(n=rows, seed=42)
    spec = load_spec("demo")
    data = prepare_frame(spec, frame, source=f"demo n={rows}")
    options = TrainOptions(known_at=KnownAt.QUALIFIED, target="sql", refit=False)
    result = train_model(data, options)
    leads = leads_from_records(frame, spec=spec, source=f"demo n={rows} seed=42")
    report = build_channel_report(
        leads,
        result.model,
        model_name="leadscore-qualified-sql (training period fit)",
        title="Channel review: demo data",
    )
    return report, truth


def _x_education() -> ChannelReport:
    data = load_dataset(load_spec("x_education"))
    known_at = _known_at(data)
    result = train_model(data, TrainOptions(known_at=known_at, target="converted"))
    return build_channel_report(
        leads_from_data(data),
        result.model,
        predicted=_out_of_fold(data, result),
        model_name=f"x_education-{known_at.value}-converted (all rows; out-of-fold predictions)",
        title="Channel review: X Education",
    )


def _olist() -> ChannelReport:
    data = load_dataset(load_spec("olist"))
    result = train_model(data, TrainOptions(known_at=KnownAt.ARRIVAL, target="won", refit=False))
    return build_channel_report(
        leads_from_data(data),
        result.model,
        period=Period.parse("2018-03..2018-05"),
        thresholds=Thresholds(min_leads=100, min_conversions=10),
        model_name=f"olist-arrival-won ({result.chosen}, fitted before 2018-03)",
        title="Channel review: Olist (out-of-time test period)",
    )


def _available(name: str) -> bool:
    path = load_spec(name).data_path()
    if path is None or not path.exists():
        print(f"skipping {name}: {path} not found (needs {SHARED})", file=sys.stderr)
        return False
    return True


def _section(name: str, report: ChannelReport, seconds: float, html: Path) -> str:
    model = report.model
    lines = [
        f"### {name}",
        "",
        f"{report.source}; period {report.period.label}; outcome `{report.target}`; model "
        f"{model.name if model else 'none'} ({model.kind if model else '-'}); "
        f"{seconds:.0f} s; report: `{html.name}` ({html.stat().st_size // 1024} KB).",
        "",
        markdown_table(headline(report), digits=3),
        "",
        "Global drivers (all leads):",
        "",
        markdown_table(
            report.global_drivers[["rank", "field", "spread", "phrase"]].head(5).map(_escape),
            digits=3,
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-rows", type=int, default=60_000)
    parser.add_argument("--only", default="demo,x_education,olist")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "channel-reports")
    args = parser.parse_args()
    only = set(args.only.split(","))
    sections: list[str] = []
    builders = {"x_education": _x_education, "olist": _olist}
    if "demo" in only:
        started = time.perf_counter()
        report, truth = _demo(args.demo_rows)
        files = write_report(report, args.out / "demo")
        agreement = truth_agreement(report, truth)
        print(agreement.to_string(index=False))
        sections.append(_section("demo", report, time.perf_counter() - started, files.html))
        sections.append(
            "Ground truth (the generator's drivers per channel) against the report's ranking:"
            "\n\n" + markdown_table(agreement)
        )
    for name, build in builders.items():
        if name not in only or not _available(name):
            continue
        started = time.perf_counter()
        report = build()
        files = write_report(report, args.out / name)
        print(headline(report).to_string(index=False), flush=True)
        print(f"{name}: {files.html}", flush=True)
        sections.append(_section(name, report, time.perf_counter() - started, files.html))
    body = (
        "Per channel: leads, conversions, conversion rate and mean predicted probability (over "
        "decided leads), and the strongest driver inside the channel in words (SHAP on the "
        "channel's own leads, ranked by spread). Channels below 100 leads or 10 conversions "
        "are reported as too few leads to judge. HTML reports with every table are written to "
        "the `--out` folder.\n\n" + "\n\n".join(sections)
    )
    write_section("channels", "Channel review (`benchmarks/channel_report.py`)", body)


if __name__ == "__main__":
    main()
