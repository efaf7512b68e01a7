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


#: A test window with fewer positives than this gives a noisy ROC-AUC: check-data warns.
MIN_TEST_POSITIVES = 20


@app.command("check-data")
def check_data(
    spec: str = typer.Option(
        ...,
        "--spec",
        help=(
            "Spec YAML file, or a shipped spec name: demo, x_education, olist, "
            "bank_marketing, crm_sales."
        ),
    ),
    data: Path | None = typer.Option(
        None, "--data", help="Data file (CSV or Parquet). Default: the file the spec names."
    ),
) -> None:
    """Validate a data set against its spec and its split; print a profile, or every
    problem and exit 1."""
    from rich.console import Console

    from features.dataset import DatasetError, load_dataset
    from features.spec import SpecError, load_spec

    err = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)
    try:
        loaded = load_dataset(load_spec(spec), data)
    except SpecError as exc:
        err.print(str(exc))
        raise typer.Exit(1) from None
    except DatasetError as exc:
        err.print(f"{len(exc.problems)} problem(s) in the data:")
        for problem in exc.problems:
            err.print(f"  {problem}")
        raise typer.Exit(1) from None
    _print_data_summary(loaded)
    split_problems = _print_split(loaded)
    if split_problems:
        err.print(f"{len(split_problems)} problem(s) with the split:")
        for message in split_problems:
            err.print(f"  {message}")
        raise typer.Exit(1)


def _print_data_summary(data: LeadData) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from features.dataset import channel_counts
    from features.profile import profile

    console = Console(soft_wrap=True, highlight=False)
    facts = profile(data)
    console.print(
        f"[bold]{escape(data.spec.name)}[/]: {len(data)} leads from {escape(data.source)}"
        + (f" ({facts.rows_read} rows read)" if facts.rows_read != facts.rows else "")
    )
    for note in data.notes:
        console.print(f"note: {note}", markup=False)
    for rule in data.left_out:
        console.print(f"left out: {rule.rows} rows by {rule.rule}", markup=False)
    for match in data.joins:
        no_key = f", {match.missing_key} without a key" if match.missing_key else ""
        console.print(
            f"join {', '.join(match.keys)} -> {match.file}: {match.matched} of {match.rows} "
            f"rows matched ({match.rate:.1%}{no_key}); adds {', '.join(match.columns)}",
            markup=False,
        )
    if data.times is not None:
        console.print(f"time range: {data.times.min():%Y-%m-%d} .. {data.times.max():%Y-%m-%d}")
    for name, values in data.targets.items():
        console.print(f"target {name}: {int(values.sum())} positive ({values.mean():.1%})")
    features = Table("feature", "type", "known at", "missing", "distinct")
    for feature in facts.features:
        features.add_row(
            escape(feature.column),
            feature.type,
            feature.known_at,
            f"{feature.missing:.1%}",
            str(feature.distinct),
        )
    console.print(features)
    if facts.unused:
        console.print("read but not used: " + ", ".join(facts.unused), markup=False)
    if facts.unlabelled:
        console.print(
            "no display label (reasons use a readable default; add `label: {en: ..., ru: ...}`): "
            + ", ".join(facts.unlabelled),
            markup=False,
        )
    if facts.dropped:
        dropped = "; ".join(f"{column} ({reason})" for column, reason in facts.dropped)
        console.print(f"dropped: {dropped}", markup=False)
    table = Table("channel", "leads", *(f"{name} rate" for name in data.targets))
    for row in channel_counts(data):
        rates = (f"{row.positives[name] / row.leads:.1%}" for name in data.targets)
        table.add_row(escape(row.channel), str(row.leads), *rates)
    console.print(table)
    for warning in data.warnings:
        console.print(f"warning: {warning}", markup=False)


def _print_split(data: LeadData) -> list[str]:
    """The split each target would be trained with, window by window; its problems."""
    from rich.console import Console

    from training.options import TrainOptions
    from training.splits import TrainingError, plan_split

    console = Console(soft_wrap=True, highlight=False, markup=False)
    problems: list[str] = []
    for target, y in data.targets.items():
        try:
            plan = plan_split(data, target, TrainOptions(target=target))
        except TrainingError as exc:
            problems.append(f"target {target}: {exc}")
            continue
        console.print(f"split for {target}: {plan.description}")
        for number, fold in enumerate(plan.folds, start=1):
            positives = int(y[fold.test].sum())
            label = f"window {number}" if len(plan.folds) > 1 else "test"
            console.print(
                f"  {label}: train {len(fold.train)} rows ({int(y[fold.train].sum())} "
                f"positive), test {len(fold.test)} rows ({positives} positive)"
            )
            if positives < MIN_TEST_POSITIVES:
                console.print(
                    f"  warning: {label} of {target} has {positives} positives (fewer than "
                    f"{MIN_TEST_POSITIVES}): its ROC-AUC will be noisy"
                )
    return problems


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
