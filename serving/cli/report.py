"""`leadscore report ...`: marketing's reports as files (and MLflow artifacts)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from features.i18n import N_
from serving.cli.words import say

if TYPE_CHECKING:
    from serving.settings import ServingSettings
    from training.channels.leads import Period
    from training.channels.report import ChannelReport
    from training.channels.review import LeadFrame, ReviewOptions, SavedReview
    from training.registry import VersionedModel

app = typer.Typer(
    name="report",
    help="Marketing's reports: the channel review (drivers and funnel per channel).",
    no_args_is_help=True,
)

COLUMNS = (
    N_("channel"),
    N_("leads"),
    N_("conversions"),
    N_("rate"),
    N_("predicted"),
    N_("top driver"),
)


def _period(text: str | None) -> Period:
    from serving.cli.console import fail
    from training.channels.leads import Period, ReportError

    try:
        return Period.parse(text)
    except ReportError as error:
        raise fail(str(error)) from None


def _language(lang: str | None, settings: ServingSettings) -> str:
    """The HTML page's language: ``--lang``, else ``LEADSCORE_LOCALE``."""
    from features.i18n import LOCALES
    from serving.cli.console import fail

    if lang is None:
        return settings.locale
    if lang not in LOCALES:
        raise fail(
            say(
                "--lang: expected one of {languages}, got '{given}'",
                languages=", ".join(LOCALES),
                given=lang,
            )
        )
    return lang


def _leads(
    settings: ServingSettings, spec: str | None, data: Path | None, period: Period
) -> tuple[LeadFrame, str]:
    """The leads to review (a data file's when a spec or file is given, else the lead
    store's) and the report's title."""
    from serving.cli.console import load_data
    from serving.reports import STORE_TITLE, read_store_leads
    from training.channels.review import ExportLeads

    if spec is None and data is None:
        return read_store_leads(settings, period), STORE_TITLE
    loaded = load_data(spec or settings.dataset, data, settings)
    return ExportLeads(loaded), f"Channel review: {loaded.spec.name}"


def _model(
    settings: ServingSettings, reference: str | None, leads: LeadFrame
) -> VersionedModel | None:
    """The model named, else the data set's default champion (None, with a warning)."""
    from rich.console import Console
    from rich.markup import escape

    from serving.cli.console import fail
    from training.channels.review import PREFERRED_KNOWN_ATS, ExportLeads, registered_model
    from training.registry import ModelNotFoundError

    dataset, target = settings.dataset, settings.score_target
    known_ats: list[str] = list(PREFERRED_KNOWN_ATS)
    if isinstance(leads, ExportLeads):
        spec = leads.data.spec
        dataset, known_ats = spec.name, [k.value for k in spec.known_ats]
        target = target if target in spec.targets else next(iter(spec.targets))
    try:
        found = registered_model(
            settings.tracking_uri, reference, dataset=dataset, known_ats=known_ats, target=target
        )
    except ModelNotFoundError as error:
        raise fail(str(error)) from None
    if found is None:
        warning = say(
            "no champion model for data set '{dataset}' (target {target}): reporting the funnel "
            "only; train one with `leadscore train` or pass --model",
            dataset=dataset,
            target=target,
        )
        Console(stderr=True).print(f"[yellow]{escape(warning)}[/]")
    return found


def _print_summary(report: ChannelReport) -> None:
    from rich.console import Console
    from rich.table import Table

    title = say(
        "{title}, period {period} ({target})",
        title=report.title,
        period=report.period.label,
        target=report.target,
    )
    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(say(column))
    for row in report.summary.itertuples():
        judged = row.verdict == "ok"
        predicted = getattr(row, "mean_predicted", float("nan"))
        table.add_row(
            str(row.channel),
            f"{row.leads:,}",
            f"{row.conversions:,}",
            f"{row.conversion_rate:.1%}" if judged else "—",
            f"{predicted:.1%}" if judged and predicted == predicted else "—",
            str(row.top_drivers).split(" | ")[0] if judged else say("too few leads to judge"),
        )
    Console().print(table)


@contextmanager
def _steps(first: str) -> Iterator[Callable[[str], None]]:
    """A spinner showing ``first``; the callable given shows the next step."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()) as bar:
        task = bar.add_task(first, total=None)
        yield lambda step: bar.update(task, description=step)


def _review(
    leads: LeadFrame, model: VersionedModel | None, options: ReviewOptions, tracking_uri: str
) -> ChannelReport:
    """The review with the outlook champion of the model's moment, when there is one."""
    from serving.cli.console import fail
    from training.channels.leads import ReportError
    from training.channels.review import channel_review
    from training.registry import load_outlook, outlook_name

    outlook = None
    if model is not None:
        name = outlook_name(model.model.known_at, model.model.dataset)
        outlook = load_outlook(tracking_uri, name)
    try:
        return channel_review(leads, model, options, outlook)
    except ReportError as error:
        raise fail(str(error)) from None


def _print_saved(saved: SavedReview) -> None:
    files = saved.files
    typer.echo(
        say(
            "report: {html} (+ {count} CSV files in {folder})",
            html=files.html,
            count=len(files.csvs),
            folder=files.folder,
        )
    )
    if saved.run_id is not None:
        typer.echo(
            say("logged to MLflow run {run}: {uri}", run=saved.run_id, uri=saved.artifact_uri)
        )
        for earlier in saved.earlier:
            typer.echo(say("  earlier report on that run: {earlier}", earlier=earlier))


def _options(
    settings: ServingSettings,
    period: Period,
    title: str,
    locale: str,
    *,
    min_leads: int | None,
    min_conversions: int | None,
    explain_per_group: int | None,
) -> ReviewOptions:
    """The review of ``period`` as the settings ask for it, with the command's overrides,
    titled ``title`` and written in ``locale``."""
    from dataclasses import replace

    from serving.reports import review_options

    options = review_options(
        settings,
        period,
        min_leads=min_leads,
        min_conversions=min_conversions,
        explain_per_group=explain_per_group,
        title=title,
    )
    return replace(options, locale=locale)


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
    lang: str | None = typer.Option(
        None, "--lang", help="Language of the HTML page: en or ru (default: LEADSCORE_LOCALE)."
    ),
) -> None:
    """Channel review: what drives conversion per channel and campaign, and each funnel."""
    from serving.settings import ServingSettings
    from training.channels.review import save_review

    settings = ServingSettings()
    chosen = _period(period)
    locale = _language(lang, settings)
    with _steps(say("reading leads")) as step:
        leads, title = _leads(settings, spec, data, chosen)
        step(say("loading the model"))
        found = _model(settings, model, leads)
        step(say("explaining {count} leads", count=f"{len(leads):,}"))
        options = _options(
            settings,
            chosen,
            title,
            locale,
            min_leads=min_leads,
            min_conversions=min_conversions,
            explain_per_group=explain_per_group,
        )
        report = _review(leads, found, options, settings.tracking_uri)
        step(say("writing the report"))
        saved = save_review(report, out, found, settings.tracking_uri if log else None)
    _print_summary(report)
    _print_saved(saved)
