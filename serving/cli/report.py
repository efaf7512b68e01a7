"""`leadscore report ...`: marketing's reports as files (and MLflow artifacts)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from features.spec import DatasetSpec
    from serving.settings import ServingSettings
    from training.channels.analysis import ChannelReport, Period, ReportLeads
    from training.registry import VersionedModel

app = typer.Typer(
    name="report",
    help="Marketing's reports: the channel review (drivers and funnel per channel).",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    from rich.console import Console

    Console(stderr=True, soft_wrap=True, markup=False, highlight=False).print(message)
    return typer.Exit(1)


def _store_leads(settings: ServingSettings, period: Period) -> tuple[ReportLeads, str]:
    from serving.reports import dataset_spec, store_leads
    from serving.store.leads import Store

    store = Store.open(settings.store_url, settings.db_busy_timeout_ms)
    try:
        return store_leads(store, period, dataset_spec(settings.dataset)), settings.dataset
    finally:
        store.close()


def _file_leads(
    settings: ServingSettings, spec: str, data: Path | None
) -> tuple[ReportLeads, DatasetSpec]:
    from features.dataset import DatasetError, read_table
    from serving.cli.console import load_data
    from training.channels.analysis import leads_from_data

    loaded = load_data(spec, data, settings)
    try:
        raw = read_table(Path(loaded.source), loaded.spec.format)
    except DatasetError:
        raw = None
    return leads_from_data(loaded, raw), loaded.spec


def _model(
    settings: ServingSettings,
    reference: str | None,
    dataset: str,
    stages: list[str],
    target: str,
) -> VersionedModel | None:
    from rich.console import Console

    from serving.reports import default_reference
    from training.registry import ModelNotFoundError, resolve_model

    chosen = reference or default_reference(settings.tracking_uri, dataset, stages, target)
    if chosen is None:
        Console(stderr=True).print(
            f"[yellow]no champion model for data set '{dataset}' (target {target}): "
            "reporting the funnel only; train one with `leadscore train` or pass --model[/]"
        )
        return None
    try:
        return resolve_model(settings.tracking_uri, chosen)
    except ModelNotFoundError as error:
        raise _fail(str(error)) from None


def _print_summary(report: ChannelReport) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{report.title}, period {report.period.label} ({report.target})")
    for column in ("channel", "leads", "conversions", "rate", "predicted", "top driver"):
        table.add_column(column)
    for row in report.summary.itertuples():
        judged = row.verdict == "ok"
        predicted = getattr(row, "mean_predicted", float("nan"))
        table.add_row(
            str(row.channel),
            f"{row.leads:,}",
            f"{row.conversions:,}",
            f"{row.conversion_rate:.1%}" if judged else "—",
            f"{predicted:.1%}" if judged and predicted == predicted else "—",
            str(row.top_drivers).split(" | ")[0] if judged else "too few leads to judge",
        )
    Console().print(table)


@app.command("channels")
def channels(
    out: Path = typer.Option(..., "--out", help="Folder for the HTML page and the CSV files."),
    period: str | None = typer.Option(
        None, "--period", help="YYYY-MM or YYYY-MM..YYYY-MM (arrival months); default: all leads."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Registered model: NAME (its champion), NAME@ALIAS or NAME/VERSION; default: the "
        "champion of the qualified (else arrival) model of the data set.",
    ),
    spec: str | None = typer.Option(
        None, "--spec", help="Report on a data file with this spec instead of the lead store."
    ),
    data: Path | None = typer.Option(
        None, "--data", help="The data file (default: the spec's own data file)."
    ),
    min_leads: int | None = typer.Option(
        None, "--min-leads", min=1, help="Too few leads to judge below this (default: setting)."
    ),
    min_conversions: int | None = typer.Option(
        None, "--min-conversions", min=0, help="...or below this many conversions (setting)."
    ),
    explain_per_group: int | None = typer.Option(
        None, "--explain-per-group", min=10, help="Leads explained per channel/campaign (SHAP)."
    ),
    log: bool = typer.Option(
        True, "--log/--no-log", help="Log the report as an artifact of the model's MLflow run."
    ),
) -> None:
    """Channel review: what drives conversion per channel and campaign, and each funnel."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from serving.reports import thresholds_of
    from serving.settings import ServingSettings
    from training.channels.analysis import Period, ReportError, build_channel_report
    from training.channels.page import log_report, write_report

    settings = ServingSettings()
    try:
        chosen = Period.parse(period)
    except ReportError as error:
        raise _fail(str(error)) from None
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()) as bar:
        task = bar.add_task("reading leads", total=None)
        if spec is not None or data is not None:
            leads, loaded_spec = _file_leads(settings, spec or settings.dataset, data)
            dataset, stages = loaded_spec.name, [s.value for s in loaded_spec.known_ats]
            targets = list(loaded_spec.targets)
            target = settings.score_target if settings.score_target in targets else targets[0]
            title = f"Channel review: {loaded_spec.name}"
        else:
            leads, dataset = _store_leads(settings, chosen)
            stages, target = ["qualified", "arrival"], settings.score_target
            title = "Channel review: lead store"
        bar.update(task, description="loading the model")
        found = _model(settings, model, dataset, stages, target)
        bar.update(task, description=f"explaining {len(leads):,} leads")
        try:
            report = build_channel_report(
                leads,
                None if found is None else found.model,
                period=chosen,
                thresholds=thresholds_of(settings, min_leads, min_conversions),
                model_name=None if found is None else found.name,
                model_version=None if found is None else found.version,
                explain_per_group=explain_per_group or settings.report_explain_per_group,
                title=title,
            )
        except ReportError as error:
            raise _fail(str(error)) from None
        bar.update(task, description="writing the report")
        files = write_report(report, out)
    _print_summary(report)
    typer.echo(f"report: {files.html} (+ {len(files.csvs)} CSV files in {files.folder})")
    if log and found is not None and found.run_id is not None:
        label = chosen.label.replace("..", "_to_")
        uri = log_report(settings.tracking_uri, found.run_id, out, f"channel_report/{label}")
        typer.echo(f"logged to MLflow run {found.run_id}: {uri}")
