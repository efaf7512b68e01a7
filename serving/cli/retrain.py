"""`leadscore retrain` and `leadscore drift`: monthly retraining and drift from the lead store.

Both read the settled outcomes from the lead store (``LEADSCORE_DATABASE_URL``) or from a
CRM export through its dataset spec (``--data``); the retraining cycle does the work. The
defaults shown and used are the retraining's own (its config module). Exit codes: 0 when
every model was handled (promoted, refused, cold start or unchanged: all normal outcomes),
1 when something failed (bad data, a model that could not be trained or logged), 2 for a
wrong command line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from features.i18n import N_
from serving.cli.console import CANNOT_OPEN_STORE, fail, known_ats_or_exit, safe_url, spec_or_exit
from serving.cli.words import say
from training.retraining.config import (
    DEFAULT_EVAL_MONTHS,
    DEFAULT_MATURITY_DAYS,
    DEFAULT_MIN_SETTLED_SHARE,
    Gates,
)

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

    from features.spec import DatasetSpec, KnownAt
    from serving.settings import ServingSettings
    from training.registry import VersionedModel
    from training.retraining.cycle import RetrainConfig
    from training.retraining.drift import DriftReport
    from training.retraining.gates import Decision
    from training.retraining.report import ModelReport

app = typer.Typer(no_args_is_help=True)

#: The default promotion gates, shown and used by `leadscore retrain`.
GATES = Gates()
_DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]

SUMMARY_COLUMNS = (N_("model"), N_("window"), N_("AUC"), N_("champion"), N_("ECE"), N_("action"))
GATE_COLUMNS = (N_("gate"), N_("result"), N_("value"), N_("threshold"), N_("reason"))
TITLE = N_("Retrain as of {moment} UTC from {source}")
DRY_TITLE = N_("Retrain as of {moment} UTC from {source} (dry run)")

# --------------------------------------------------------------------------- options

SpecName = Annotated[
    str,
    typer.Option("--spec", help="Spec YAML or shipped name; default: LEADSCORE_DATASET (demo)."),
]
AsOf = Annotated[
    datetime | None,
    typer.Option("--as-of", formats=_DATE_FORMATS, help="As of this moment (UTC); default: now."),
]
MaturityDays = Annotated[
    int,
    typer.Option(
        "--maturity-days", min=0, help="Open leads older than this count as not converted."
    ),
]
FromStore = Annotated[
    bool,
    typer.Option("--from-store", help="Read leads and outcomes from the lead store (the default)."),
]
RetrainData = Annotated[
    Path | None,
    typer.Option("--data", help="Read a CRM export (CSV/Parquet) through the spec instead."),
]
EvalMonths = Annotated[
    int,
    typer.Option(
        "--eval-months", min=1, max=12, help="Months in the out-of-time evaluation window."
    ),
]
MinSettledShare = Annotated[
    float,
    typer.Option(
        "--min-settled-share",
        min=0.0,
        max=1.0,
        help="Share of a window's leads that must be settled; else an earlier month is used.",
    ),
]
KnownAtOption = Annotated[
    list[str] | None,
    typer.Option(
        "--known-at",
        "--stage",
        help="Moment the model scores: arrival and/or qualified (repeat the option); default: all.",
    ),
]
Targets = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        help="Targets from the spec, e.g. sql, won, and outlook (time to conversion and deal "
        "value, one per moment); default: all.",
    ),
]
DryRun = Annotated[
    bool,
    typer.Option("--dry-run", help="Train and judge, but log, register and promote nothing."),
]
Force = Annotated[
    bool,
    typer.Option("--force", help="Retrain even when nothing changed since the last retrain."),
]
AucTolerance = Annotated[
    float,
    typer.Option("--auc-tolerance", min=0.0, help="Challenger ROC-AUC may trail by this much."),
]
MaxEce = Annotated[
    float,
    typer.Option(
        "--max-ece",
        min=0.0001,
        max=1.0,
        help="Largest calibration error on the window, above what sampling noise gives.",
    ),
]
MinPositives = Annotated[
    int,
    typer.Option(
        "--min-positives", min=1, help="Settled positives needed in training (cold start)."
    ),
]
MinNegatives = Annotated[
    int, typer.Option("--min-negatives", min=1, help="Settled negatives needed in training.")
]
MinWindowPositives = Annotated[
    int,
    typer.Option(
        "--min-window-positives", min=1, help="Positives needed in the evaluation window."
    ),
]
MaxPsi = Annotated[
    float,
    typer.Option("--max-psi", min=0.0001, help="Largest feature PSI between training and window."),
]
AllowDrift = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-drift", help="Feature (output or source field) exempt from the PSI gate."
    ),
]
Params = Annotated[
    list[str] | None,
    typer.Option("--param", help="LightGBM parameter KEY=VALUE over the defaults (repeatable)."),
]
JsonOut = Annotated[
    Path | None, typer.Option("--json", help="Also write every decision as JSON to this file.")
]
ModelOption = Annotated[
    str,
    typer.Option(
        "--model", help="Registered model name; default: the arrival model of the queue target."
    ),
]
DriftData = Annotated[
    Path | None,
    typer.Option("--data", help="Read a CRM export (CSV/Parquet) instead of the lead store."),
]
ReportFolder = Annotated[
    Path | None,
    typer.Option("--out", help="Folder for drift-*.md/.html; default: <data_dir>/reports."),
]
LogReport = Annotated[bool, typer.Option("--log/--no-log", help="Also log the report to MLflow.")]


# --------------------------------------------------------------------------- inputs


def _as_of(value: datetime | None) -> pd.Timestamp:
    from training.retraining.labels import utc_timestamp

    return utc_timestamp(value if value is not None else datetime.now(UTC))


def _lead_frame(
    spec: DatasetSpec, data: Path | None, settings: ServingSettings
) -> tuple[pd.DataFrame, str]:
    """The raw lead frame: a CRM export through its spec, or every lead in the store."""
    from features.dataset import DatasetError, read_raw
    from serving.store.outcomes import StoreUnavailableError, read_store

    if data is not None:
        try:
            return read_raw(data, spec), str(data)
        except DatasetError as exc:
            raise fail(str(exc)) from None
    shown = safe_url(settings.store_url)
    columns = [c for f in spec.features for c in f.input_columns]
    try:
        frame = read_store(settings.store_url, settings.db_busy_timeout_ms, columns)
    except StoreUnavailableError as exc:
        raise fail(say(CANNOT_OPEN_STORE, store=shown, reason=exc)) from None
    return frame, say("lead store {store}", store=shown)


def _as_read(spec: DatasetSpec, data: Path | None) -> DatasetSpec:
    """``spec`` reading deals as :func:`_lead_frame`'s frame holds them: an export's own
    columns, or the store's (every export's deals as deal_value in deal_currency)."""
    from features.deal import as_stored

    return spec if data is not None else as_stored(spec)


def _pairs(spec: DatasetSpec, known_at: list[str], target: list[str]) -> list[tuple[KnownAt, str]]:
    """Every (moment, target) to retrain; a wrong one exits 2."""
    from training.runner import plan_models

    try:
        return plan_models(spec, known_ats_or_exit(known_at, 2), target or None)
    except ValueError as exc:
        raise fail(str(exc), 2) from None


def _asked(
    spec: DatasetSpec, known_at: list[str], target: list[str]
) -> tuple[list[tuple[KnownAt, str]], list[KnownAt]]:
    """The (moment, target) models and the moments whose outlooks to retrain: every one
    unless ``--target`` names some (``outlook`` names the outlooks)."""
    from training.outlook import OUTLOOK

    models = [t for t in target if t != OUTLOOK]
    pairs = _pairs(spec, known_at, models) if models or not target else []
    moments = list(dict.fromkeys(k for k, _target in _pairs(spec, known_at, [])))
    return pairs, moments if not target or OUTLOOK in target else []


def _gates(allow_drift: list[str], **thresholds: Any) -> Gates:
    """The gates asked for; wrong settings exit 2."""
    try:
        return Gates(allow_drift=tuple(allow_drift), **thresholds)
    except ValueError as exc:
        raise fail(str(exc), 2) from None


def _params(values: list[str]) -> dict[str, Any]:
    import yaml

    params: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise fail(
                say("--param takes KEY=VALUE (a LightGBM parameter), got '{item}'", item=item), 2
            )
        params[key.strip()] = yaml.safe_load(raw)
    return params


@contextmanager
def _progress(description: str) -> Iterator[Callable[[str], None]]:
    """A transient spinner; the callable yielded replaces its description."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(description, total=None)
        yield lambda message: bar.update(task, description=message)


# --------------------------------------------------------------------------- output


def _number(value: float | None, digits: int = 4) -> str:
    if value is None or value != value:
        return "-"
    if float(value).is_integer() and abs(value) >= 1:
        return str(int(value))
    return f"{value:.{digits}f}"


def _summary_table(reports: list[ModelReport], title: str) -> Table:
    from rich.table import Table

    summary = Table(title=title)
    model, window, *numbers, action = (say(column) for column in SUMMARY_COLUMNS)
    summary.add_column(model, no_wrap=True)
    summary.add_column(window, no_wrap=True)
    for column in numbers:
        summary.add_column(column)
    summary.add_column(action, min_width=22)
    for r in reports:
        challenger = "-" if r.challenger is None else f"{r.challenger.roc_auc:.4f}"
        if r.challenger_kind and r.challenger_kind != "lightgbm":
            challenger += f" ({r.challenger_kind})"
        champion = say("none")
        if r.champion_version is not None:
            auc = _number(r.champion.roc_auc) if r.champion else "n/a"
            champion = f"{auc} (v{r.champion_version})"
        window = r.window.window.label if r.window else "-"
        ece = _number(r.challenger.ece if r.challenger else None)
        action = r.action.value + (f" (v{r.version})" if r.version else "")
        summary.add_row(r.name, window, challenger, champion, ece, action)
    return summary


def _gate_table(decision: Decision) -> Table:
    from rich.markup import escape
    from rich.table import Table

    gates = Table(show_header=True, header_style="bold")
    gate, *others = (say(column) for column in GATE_COLUMNS)
    gates.add_column(gate, no_wrap=True)
    for column in others:
        gates.add_column(column)
    passed, failed = say("pass"), say("FAIL")
    for g in decision.reasons:
        result = f"[green]{passed}[/green]" if g.passed else f"[red]{failed}[/red]"
        gates.add_row(g.name, result, _number(g.value), _number(g.threshold), escape(g.message))
    return gates


def _print_reports(reports: list[ModelReport], title: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(soft_wrap=True)
    console.print(_summary_table(reports, title))
    noted = say("note:")
    for r in reports:
        console.print(f"\n[bold]{escape(r.name)}[/bold]: {escape(r.action.value)}")
        summaries = [r.settled, r.window, r.tiers]
        for part in (item.summary() for item in summaries if item is not None):
            console.print("  " + escape(part))
        if r.decision is not None:
            console.print(_gate_table(r.decision))
        for note in [*r.notes, *(r.settled.notes if r.settled else [])]:
            console.print(f"  [yellow]{escape(noted)}[/yellow] {escape(note)}")
        console.print("  " + escape(r.message))


def _write_json(path: Path, reports: list[ModelReport], extra: dict[str, Any]) -> None:
    import json

    payload = {**extra, "models": [r.as_json() for r in reports]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- retrain


def _run(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    pairs: list[tuple[KnownAt, str]],
    config: RetrainConfig,
    settings: ServingSettings,
    source: str,
    outlooks: list[KnownAt],
) -> list[ModelReport]:
    """The retrain cycle with a spinner, then the ``outlooks`` of those moments; data that
    does not fit its spec exits 1."""
    from features.dataset import DatasetError
    from training.retraining.config import MlflowTarget
    from training.retraining.cycle import retrain as run_retrain
    from training.retraining.outlooks import retrain_outlooks

    where = MlflowTarget(settings.tracking_uri, settings.mlflow_experiment, settings.artifact_root)
    count = len(pairs) + len(outlooks)
    with _progress(
        say("retraining {count} model(s) from {source}", count=count, source=source)
    ) as step:
        try:
            reports = run_retrain(frame, spec, pairs, config, where, source=source, progress=step)
            return reports + retrain_outlooks(
                frame,
                spec,
                outlooks,
                config.gates,
                where,
                as_of=config.as_of,
                dry_run=config.dry_run,
                seed=config.seed,
                source=source,
                progress=step,
            )
        except (DatasetError, ValueError) as exc:
            raise fail(
                say("cannot retrain from {source}: {reason}", source=source, reason=exc)
            ) from None


def _title(config: RetrainConfig, source: str) -> str:
    title = DRY_TITLE if config.dry_run else TITLE
    return say(title, moment=f"{config.as_of:%Y-%m-%d %H:%M}", source=source)


@app.command()
def retrain(
    spec: SpecName = "",
    from_store: FromStore = False,
    data: RetrainData = None,
    as_of: AsOf = None,
    maturity_days: MaturityDays = DEFAULT_MATURITY_DAYS,
    eval_months: EvalMonths = DEFAULT_EVAL_MONTHS,
    min_settled_share: MinSettledShare = DEFAULT_MIN_SETTLED_SHARE,
    known_at: KnownAtOption = None,
    target: Targets = None,
    dry_run: DryRun = False,
    force: Force = False,
    auc_tolerance: AucTolerance = GATES.auc_tolerance,
    max_ece: MaxEce = GATES.max_ece,
    min_positives: MinPositives = GATES.min_positives,
    min_negatives: MinNegatives = GATES.min_negatives,
    min_window_positives: MinWindowPositives = GATES.min_eval_positives,
    max_psi: MaxPsi = GATES.max_psi,
    allow_drift: AllowDrift = None,
    param: Params = None,
    json_out: JsonOut = None,
) -> None:
    """Retrain from settled outcomes; promote each challenger only if every gate passes."""
    from serving.settings import ServingSettings
    from training.threads import prepare_process

    prepare_process()  # before LightGBM loads: threads for the cores there are, no spinning
    from features.tiers import Tiers
    from training.retraining.cycle import RetrainConfig

    if data is not None and from_store:
        raise fail(say("give --from-store or --data PATH, not both"), 2)
    settings = ServingSettings()
    chosen = spec_or_exit(spec or settings.dataset)
    pairs, outlooks = _asked(chosen, known_at or [], target or [])
    gates = _gates(
        allow_drift or [],
        auc_tolerance=auc_tolerance,
        max_ece=max_ece,
        min_positives=min_positives,
        min_negatives=min_negatives,
        min_eval_positives=min_window_positives,
        max_psi=max_psi,
    )
    config = RetrainConfig(
        as_of=_as_of(as_of),
        maturity_days=maturity_days,
        eval_months=eval_months,
        min_settled_share=min_settled_share,
        gates=gates,
        tiers=Tiers(settings.tier_a, settings.tier_b, settings.tier_c),
        params=_params(param or []),
        dry_run=dry_run,
        force=force,
    )
    frame, source = _lead_frame(chosen, data, settings)
    reports = _run(frame, _as_read(chosen, data), pairs, config, settings, source, outlooks)
    _finish(reports, config, source, json_out)


def _finish(
    reports: list[ModelReport], config: RetrainConfig, source: str, json_out: Path | None
) -> None:
    """Print the reports (and write them as JSON when asked); exit 1 when a model failed."""
    from training.retraining.cycle import config_summary

    _print_reports(reports, _title(config, source))
    if json_out is not None:
        _write_json(json_out, reports, {"source": source, "config": config_summary(config)})
    if any(r.failed for r in reports):
        raise typer.Exit(1)


# --------------------------------------------------------------------------- drift


def _champion_or_exit(tracking_uri: str, name: str) -> VersionedModel:
    from training.registry import load_champion

    loaded = load_champion(tracking_uri, name)
    if loaded is None:
        missing = say(
            "no champion of '{name}' in {registry}: the drift report compares a model's "
            "training data with recent leads (run `leadscore retrain` or `train` first)",
            name=name,
            registry=tracking_uri,
        )
        raise fail(missing)
    return loaded


def _write_drift(report: DriftReport, folder: Path, stem: str) -> dict[str, str]:
    """Write and print the report; its files by name (Markdown, HTML)."""
    from rich.console import Console
    from rich.markdown import Markdown

    from training.retraining.drift import render_html, render_markdown

    markdown, page = render_markdown(report), render_html(report)
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / stem
    base.with_suffix(".md").write_text(markdown, encoding="utf-8")
    base.with_suffix(".html").write_text(page, encoding="utf-8")
    Console().print(Markdown(markdown))
    typer.echo(
        say(
            "written: {markdown} and {html}",
            markdown=base.with_suffix(".md"),
            html=base.with_suffix(".html"),
        )
    )
    return {"drift.md": markdown, "drift.html": page}


def _log_drift(
    settings: ServingSettings, champion: VersionedModel, stamp: pd.Timestamp, files: dict[str, str]
) -> None:
    from training.tracking.runs import log_report_run

    tags = {
        "kind": "drift",
        "model": champion.name,
        "model_version": champion.version,
        "as_of": stamp.isoformat(),
    }
    run_id = log_report_run(
        settings.tracking_uri,
        settings.mlflow_experiment,
        settings.artifact_root,
        f"drift {champion.name}",
        tags,
        files,
    )
    typer.echo(
        say("logged to MLflow run {run} ({registry})", run=run_id, registry=settings.tracking_uri)
    )


@app.command()
def drift(
    model: ModelOption = "",
    spec: SpecName = "",
    data: DriftData = None,
    as_of: AsOf = None,
    maturity_days: MaturityDays = DEFAULT_MATURITY_DAYS,
    out: ReportFolder = None,
    log: LogReport = True,
) -> None:
    """PSI per feature and of the score, training data vs the last month; conversion per channel."""
    from features.dataset import DatasetError
    from features.spec import KnownAt
    from serving.settings import ServingSettings
    from training.registry import model_name
    from training.retraining.drift import drift_report
    from training.tracking.runs import trained_until

    settings = ServingSettings()
    chosen = spec_or_exit(spec or settings.dataset)
    name = model or model_name(KnownAt.ARRIVAL.value, settings.score_target, chosen.name)
    loaded = _champion_or_exit(settings.tracking_uri, name)
    stamp = _as_of(as_of)
    frame, source = _lead_frame(chosen, data, settings)
    reference_end = trained_until(settings.tracking_uri, name, loaded.version)
    title = f"Drift of {name} v{loaded.version} as of {stamp:%Y-%m-%d}"
    try:
        report = drift_report(
            frame, chosen, loaded.model, title, stamp, reference_end, maturity_days
        )
    except (DatasetError, ValueError) as exc:
        raise fail(
            say("cannot build the drift report from {source}: {reason}", source=source, reason=exc)
        ) from None
    folder = out or settings.data_dir / "reports"
    files = _write_drift(report, folder, f"drift-{name}-{stamp:%Y-%m-%d}")
    if log:
        _log_drift(settings, loaded, stamp, files)
