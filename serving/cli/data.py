"""CLI commands about data: demo data and dataset specs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

# the demo generator's defaults, from its config: cheap, loads neither the generator nor numpy
from features.demo.config import DEFAULTS as DEMO_DEFAULTS

if TYPE_CHECKING:
    from rich.table import Table

    from features.dataset import LeadData
    from features.demo import DemoSummary

app = typer.Typer(no_args_is_help=True)


@app.command("check-data")
def check_data(
    spec: str = typer.Option(
        ..., "--spec", help="Spec YAML file, or a shipped spec name: demo, x_education, olist."
    ),
    data: Path | None = typer.Option(
        None, "--data", help="Data file (CSV or Parquet). Default: the file the spec names."
    ),
) -> None:
    """Validate a data set against its spec; print a summary, or every problem and exit 1."""
    from rich.console import Console

    from features.dataset import DatasetError, load_dataset
    from features.spec import SpecError, load_spec

    try:
        loaded = load_dataset(load_spec(spec), data)
    except SpecError as exc:
        Console(stderr=True, soft_wrap=True, markup=False, highlight=False).print(str(exc))
        raise typer.Exit(1) from None
    except DatasetError as exc:
        err = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)
        err.print(f"{len(exc.problems)} problem(s) in the data:")
        for problem in exc.problems:
            err.print(f"  {problem}")
        raise typer.Exit(1) from None
    _print_data_summary(loaded)


def _print_data_summary(data: LeadData) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from features.dataset import channel_counts

    console = Console(soft_wrap=True, highlight=False)
    console.print(
        f"[bold]{escape(data.spec.name)}[/]: {len(data)} leads from {escape(data.source)}"
    )
    if data.times is not None:
        console.print(f"time range: {data.times.min():%Y-%m-%d} .. {data.times.max():%Y-%m-%d}")
    for name, values in data.targets.items():
        console.print(f"target {name}: {int(values.sum())} positive ({values.mean():.1%})")
    table = Table("channel", "leads", *(f"{name} rate" for name in data.targets))
    for row in channel_counts(data):
        rates = (f"{row.positives[name] / row.leads:.1%}" for name in data.targets)
        table.add_row(escape(row.channel), str(row.leads), *rates)
    console.print(table)
    for warning in data.warnings:
        console.print(f"warning: {warning}", markup=False)


@app.command("demo-data")
def demo_data(
    n: int = typer.Option(DEMO_DEFAULTS.n, "--n", min=1, help="How many leads to generate."),
    seed: int = typer.Option(
        DEMO_DEFAULTS.seed,
        "--seed",
        help="Random seed: the same --n and --seed give the same data.",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        dir_okay=False,
        help=(
            "Output file, Parquet (.parquet) or CSV (.csv) by extension. The ground truth is "
            "written beside it as <stem>.ground_truth.json. "
            "Default: <LEADSCORE_DATA_DIR>/demo/leads.parquet."
        ),
    ),
) -> None:
    """Generate synthetic B2B leads with full status histories and a known ground truth."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from features.demo import DATA_FORMATS, STEPS, write_demo_data
    from training.settings import TrainingSettings

    path = out if out is not None else TrainingSettings().demo_data_path
    if path.suffix.lower() not in DATA_FORMATS:
        raise typer.BadParameter(
            f"'{path}' has extension '{path.suffix}'; expected one of: " + ", ".join(DATA_FORMATS),
            param_hint="--out",
        )
    console = Console()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"{n:,} leads", total=len(STEPS))

        def advance(step: str) -> None:
            done = STEPS.index(step) if step in STEPS else 0
            progress.update(task, completed=done, description=f"{n:,} leads: {step}")

        summary = write_demo_data(path, n, seed, progress=advance)
        progress.update(task, completed=len(STEPS))
    console.print(_demo_summary_table(summary))
    console.print(f"{summary.months} months of arrivals; {_demo_auc_line(summary)}")
    console.print(f"wrote {summary.path} and {summary.ground_truth_path} in {summary.seconds:.1f}s")


def _demo_summary_table(summary: DemoSummary) -> Table:
    from rich.table import Table

    table = Table(title=f"{summary.rows:,} demo leads, {summary.start} .. {summary.end}")
    table.add_column("channel")
    table.add_column("leads", justify="right")
    table.add_column("share", justify="right")
    table.add_column("SQL rate", justify="right")
    table.add_column("won rate", justify="right")
    for channel in summary.channels:
        table.add_row(
            channel.name,
            f"{channel.leads:,}",
            f"{channel.leads / summary.rows:.1%}",
            f"{channel.sql_rate:.1%}",
            f"{channel.won_rate:.1%}",
        )
    table.add_section()
    table.add_row(
        "all", f"{summary.rows:,}", "100%", f"{summary.sql_rate:.1%}", f"{summary.won_rate:.1%}"
    )
    return table


def _demo_auc_line(summary: DemoSummary) -> str:
    def show(key: str) -> str:
        value = summary.oracle_auc.get(key)
        return "n/a" if value is None else f"{value:.3f}"

    return (
        f"oracle ROC-AUC  SQL: qualified {show('sql_qualified')}, arrival {show('sql_arrival')}"
        f"  |  won: qualified {show('won_qualified')}, arrival {show('won_arrival')}"
    )
