"""CLI commands about data: demo data and dataset specs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from features.dataset import LeadData

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
