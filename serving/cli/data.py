"""CLI commands about data: demo data and dataset specs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

# the demo generator's defaults, from its config: cheap, loads neither the generator nor numpy
from features.demo.config import DEFAULTS as DEMO_DEFAULTS
from features.i18n import N_
from serving.cli.words import in_language, say

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from features.dataset import LeadData
    from features.demo import DemoSummary
    from features.joins import JoinMatch
    from features.profile import DataProfile

app = typer.Typer(no_args_is_help=True)


#: A test window with fewer positives than this gives a noisy ROC-AUC: check-data warns.
MIN_TEST_POSITIVES = 20
#: The headers of check-data's feature table and of demo-data's channel table.
FEATURE_COLUMNS = (N_("feature"), N_("type"), N_("known at"), N_("missing"), N_("distinct"))
DEMO_COLUMNS = (N_("channel"), N_("leads"), N_("share"), N_("SQL rate"), N_("won rate"))


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
        err.print(in_language(str(exc)))
        raise typer.Exit(1) from None
    except DatasetError as exc:
        err.print(say("{count} problem(s) in the data:", count=len(exc.problems)))
        for problem in exc.problems:
            err.print(f"  {in_language(str(problem))}")
        raise typer.Exit(1) from None
    _print_data_summary(loaded)
    deal_problem = _deal_problem(loaded)
    if deal_problem is not None:
        err.print(in_language(deal_problem))
        raise typer.Exit(1)
    split_problems = _print_split(loaded)
    if split_problems:
        err.print(say("{count} problem(s) with the split:", count=len(split_problems)))
        for message in split_problems:
            err.print(f"  {message}")
        raise typer.Exit(1)


def _deal_problem(loaded: LeadData) -> str | None:
    """What is wrong with the deal columns the spec names (in the data file, or in the file
    of deals its deal section names); None when nothing is."""
    from features.dataset import DatasetError, read_raw
    from features.deal import missing_columns

    if loaded.spec.deal.path is None:
        if not loaded.columns_read:
            return None
        return missing_columns(loaded.spec, loaded.columns_read)
    try:
        read_raw(Path(loaded.source), loaded.spec)
    except DatasetError as error:
        return "; ".join(str(p) for p in error.problems)
    return None


def _print_data_summary(data: LeadData) -> None:
    from rich.console import Console

    from features.profile import profile

    console = Console(soft_wrap=True, highlight=False)
    facts = profile(data)
    _print_data_facts(console, data, facts)
    console.print(_feature_table(facts))
    _print_columns_left(console, facts)
    console.print(_channel_table(data))
    for warning in data.warnings:
        console.print(say("warning: {warning}", warning=in_language(str(warning))), markup=False)


def _print_data_facts(console: Console, data: LeadData, facts: DataProfile) -> None:
    """The data set's name, size, notes, rules, joins, time range and targets."""
    from rich.markup import escape

    name, source = f"[bold]{escape(data.spec.name)}[/]", escape(data.source)
    read = say(" ({rows} rows read)", rows=facts.rows_read) if facts.rows_read != facts.rows else ""
    console.print(
        say("{name}: {count} leads from {source}", name=name, count=len(data), source=source) + read
    )
    for note in data.notes:
        console.print(say("note: {note}", note=in_language(note)), markup=False)
    for rule in data.left_out:
        console.print(
            say("left out: {rows} rows by {rule}", rows=rule.rows, rule=rule.rule), markup=False
        )
    for match in data.joins:
        console.print(_join_line(match), markup=False)
    if data.times is not None:
        first, last = f"{data.times.min():%Y-%m-%d}", f"{data.times.max():%Y-%m-%d}"
        console.print(say("time range: {first} .. {last}", first=first, last=last))
    for target, values in data.targets.items():
        share = f"{values.mean():.1%}"
        console.print(
            say(
                "target {name}: {count} positive ({share})",
                name=target,
                count=int(values.sum()),
                share=share,
            )
        )


def _feature_table(facts: DataProfile) -> Table:
    """Each feature's type, moment, missing share and distinct values."""
    from rich.markup import escape
    from rich.table import Table

    features = Table(*(say(column) for column in FEATURE_COLUMNS))
    for feature in facts.features:
        features.add_row(
            escape(feature.column),
            feature.type,
            feature.known_at,
            f"{feature.missing:.1%}",
            str(feature.distinct),
        )
    return features


def _print_columns_left(console: Console, facts: DataProfile) -> None:
    """The columns read but unused, without a display label, or dropped."""
    if facts.unused:
        console.print(
            say("read but not used: {columns}", columns=", ".join(facts.unused)), markup=False
        )
    if facts.unlabelled:
        unlabelled = say(
            "no display label (reasons use a readable default; add "
            "`label: {{en: ..., ru: ...}}`): {columns}",
            columns=", ".join(facts.unlabelled),
        )
        console.print(unlabelled, markup=False)
    if facts.dropped:
        dropped = "; ".join(f"{column} ({reason})" for column, reason in facts.dropped)
        console.print(say("dropped: {columns}", columns=dropped), markup=False)


def _channel_table(data: LeadData) -> Table:
    """Leads and each target's rate per channel."""
    from rich.markup import escape
    from rich.table import Table

    from features.dataset import channel_counts

    rates = (say("{target} rate", target=target) for target in data.targets)
    table = Table(say("channel"), say("leads"), *rates)
    for row in channel_counts(data):
        rates = (f"{row.positives[name] / row.leads:.1%}" for name in data.targets)
        table.add_row(escape(row.channel), str(row.leads), *rates)
    return table


def _join_line(match: JoinMatch) -> str:
    """How a joined file matched the data: keys, file, rows matched, columns added."""
    no_key = say(", {count} without a key", count=match.missing_key) if match.missing_key else ""
    return say(
        "join {keys} -> {file}: {matched} of {rows} rows matched ({rate}{no_key}); adds {columns}",
        keys=", ".join(match.keys),
        file=match.file,
        matched=match.matched,
        rows=match.rows,
        rate=f"{match.rate:.1%}",
        no_key=no_key,
        columns=", ".join(match.columns),
    )


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
            problems.append(
                say("target {name}: {reason}", name=target, reason=in_language(str(exc)))
            )
            continue
        console.print(say("split for {target}: {plan}", target=target, plan=plan.description))
        for number, fold in enumerate(plan.folds, start=1):
            positives = int(y[fold.test].sum())
            label = say("window {number}", number=number) if len(plan.folds) > 1 else say("test")
            console.print(
                say(
                    "  {label}: train {train} rows ({train_positives} positive), test {test} "
                    "rows ({test_positives} positive)",
                    label=label,
                    train=len(fold.train),
                    train_positives=int(y[fold.train].sum()),
                    test=len(fold.test),
                    test_positives=positives,
                )
            )
            if positives < MIN_TEST_POSITIVES:
                few = say(
                    "  warning: {label} of {target} has {positives} positives (fewer than "
                    "{minimum}): its ROC-AUC will be noisy",
                    label=label,
                    target=target,
                    positives=positives,
                    minimum=MIN_TEST_POSITIVES,
                )
                console.print(few)
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

    from features.demo import DATA_FORMATS
    from training.settings import TrainingSettings

    path = out if out is not None else TrainingSettings().demo_data_path
    if path.suffix.lower() not in DATA_FORMATS:
        raise typer.BadParameter(
            say(
                "'{path}' has extension '{suffix}'; expected one of: {formats}",
                path=path,
                suffix=path.suffix,
                formats=", ".join(DATA_FORMATS),
            ),
            param_hint="--out",
        )
    console = Console()
    summary = _generate_demo_data(console, path, n, seed)
    console.print(_demo_summary_table(summary))
    months = say("{months} months of arrivals", months=summary.months)
    console.print(f"{months}; {_demo_auc_line(summary)}")
    wrote = dict(
        data=summary.path, truth=summary.ground_truth_path, seconds=f"{summary.seconds:.1f}"
    )
    console.print(say("wrote {data} and {truth} in {seconds}s", **wrote))


def _generate_demo_data(console: Console, path: Path, n: int, seed: int) -> DemoSummary:
    """Write the demo data with a progress bar of the generator's steps."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from features.demo import STEPS, write_demo_data

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        count = f"{n:,}"
        task = progress.add_task(say("{count} leads", count=count), total=len(STEPS))

        def advance(step: str) -> None:
            done = STEPS.index(step) if step in STEPS else 0
            doing = say("{count} leads: {step}", count=count, step=step)
            progress.update(task, completed=done, description=doing)

        summary = write_demo_data(path, n, seed, progress=advance)
        progress.update(task, completed=len(STEPS))
    return summary


def _demo_summary_table(summary: DemoSummary) -> Table:
    from rich.table import Table

    title = say(
        "{rows} demo leads, {start} .. {end}",
        rows=f"{summary.rows:,}",
        start=summary.start,
        end=summary.end,
    )
    table = Table(title=title)
    first, *numbers = (say(column) for column in DEMO_COLUMNS)
    table.add_column(first)
    for column in numbers:
        table.add_column(column, justify="right")
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
        say("all"),
        f"{summary.rows:,}",
        "100%",
        f"{summary.sql_rate:.1%}",
        f"{summary.won_rate:.1%}",
    )
    return table


def _demo_auc_line(summary: DemoSummary) -> str:
    def show(key: str) -> str:
        value = summary.oracle_auc.get(key)
        return say("n/a") if value is None else f"{value:.3f}"

    return say(
        "oracle ROC-AUC  SQL: qualified {sql_qualified}, arrival {sql_arrival}  |  won: "
        "qualified {won_qualified}, arrival {won_arrival}",
        **{
            key: show(key)
            for key in ("sql_qualified", "sql_arrival", "won_qualified", "won_arrival")
        },
    )
