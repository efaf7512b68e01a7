"""`leadscore retrain` and `leadscore drift`: monthly retraining and drift from the lead store.

Both read the settled outcomes from the lead store (``LEADSCORE_DATABASE_URL``) or from a
CRM export through its dataset spec (``--data``); the work is done by
``training.retraining.cycle``. Exit codes: 0 when every model was handled (promoted, refused,
cold start or unchanged: all normal outcomes), 1 when something failed (bad data, a model
that could not be trained or logged), 2 for a wrong command line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    import pandas as pd

    from features.spec import DatasetSpec, KnownAt
    from serving.settings import ServingSettings
    from training.retraining.cycle import ModelReport

app = typer.Typer(no_args_is_help=True)

_DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


def _fail(message: str, code: int = 1) -> typer.Exit:
    from rich.console import Console

    Console(stderr=True, soft_wrap=True, markup=False, highlight=False).print(message)
    return typer.Exit(code)


def _as_of(value: datetime | None) -> pd.Timestamp:
    from training.retraining.policy import utc_timestamp

    return utc_timestamp(value if value is not None else datetime.now(UTC))


def _spec(name: str) -> DatasetSpec:
    from features.spec import SpecError, load_spec

    try:
        return load_spec(name)
    except SpecError as exc:
        raise _fail(str(exc)) from None


def _lead_frame(
    spec: DatasetSpec, data: Path | None, settings: ServingSettings
) -> tuple[pd.DataFrame, str]:
    """The raw lead frame: a CRM export through its spec, or every lead in the store."""
    from features.dataset import DatasetError, read_table

    if data is not None:
        try:
            return read_table(data, spec.format), str(data)
        except DatasetError as exc:
            raise _fail(str(exc)) from None
    from serving.store.leads import Store
    from serving.store.outcomes import store_frame

    columns = [c for f in spec.features for c in f.input_columns]
    try:
        store = Store.open(settings.store_url, settings.db_busy_timeout_ms)
    except Exception as exc:
        raise _fail(f"cannot open the lead store {_safe_url(settings.store_url)}: {exc}") from None
    try:
        return store_frame(store, columns), f"lead store {_safe_url(settings.store_url)}"
    finally:
        store.close()


def _safe_url(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def _pairs(spec: DatasetSpec, stage: list[str], target: list[str]) -> list[tuple[KnownAt, str]]:
    from features.spec import KnownAt

    try:
        stages = [KnownAt(s) for s in stage] or spec.known_ats
    except ValueError:
        raise _fail(f"--stage takes arrival or qualified, got: {', '.join(stage)}", 2) from None
    for chosen in stages:
        if chosen not in spec.known_ats:
            raise _fail(f"spec '{spec.name}' has no features for stage '{chosen.value}'", 2)
    targets = target or list(spec.targets)
    unknown = [t for t in targets if t not in spec.targets]
    if unknown:
        known = ", ".join(spec.targets)
        raise _fail(f"unknown target {', '.join(unknown)}; the spec defines: {known}", 2)
    return [(s, t) for s in stages for t in targets]


def _params(values: list[str]) -> dict[str, Any]:
    import yaml

    params: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise _fail(f"--param takes KEY=VALUE (a LightGBM parameter), got '{item}'", 2)
        params[key.strip()] = yaml.safe_load(raw)
    return params


# --------------------------------------------------------------------------- output


def _number(value: float | None, digits: int = 4) -> str:
    if value is None or value != value:
        return "-"
    if float(value).is_integer() and abs(value) >= 1:
        return str(int(value))
    return f"{value:.{digits}f}"


def _print_reports(reports: list[ModelReport], title: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(soft_wrap=True)
    summary = Table(title=title)
    summary.add_column("model", no_wrap=True)
    summary.add_column("window", no_wrap=True)
    for column in ("AUC", "champion", "ECE"):
        summary.add_column(column)
    summary.add_column("action", min_width=22)
    for r in reports:
        challenger = "-" if r.challenger is None else f"{r.challenger.roc_auc:.4f}"
        if r.challenger_kind and r.challenger_kind != "lightgbm":
            challenger += f" ({r.challenger_kind})"
        champion = "none"
        if r.champion_version is not None:
            auc = _number(r.champion.roc_auc) if r.champion else "n/a"
            champion = f"{auc} (v{r.champion_version})"
        summary.add_row(
            r.name,
            r.window.window.label if r.window else "-",
            challenger,
            champion,
            _number(r.challenger.ece if r.challenger else None),
            r.action.value + (f" (v{r.version})" if r.version else ""),
        )
    console.print(summary)
    for r in reports:
        console.print(f"\n[bold]{escape(r.name)}[/bold]: {escape(r.action.value)}")
        if r.settled is not None:
            console.print("  " + escape(r.settled.summary()))
        if r.window is not None:
            console.print("  " + escape(r.window.summary()))
        if r.tiers is not None:
            console.print("  " + escape(r.tiers.summary()))
        if r.decision is not None:
            gates = Table(show_header=True, header_style="bold")
            gates.add_column("gate", no_wrap=True)
            for column in ("result", "value", "threshold", "reason"):
                gates.add_column(column)
            for g in r.decision.reasons:
                result = "[green]pass[/green]" if g.passed else "[red]FAIL[/red]"
                gates.add_row(
                    g.name, result, _number(g.value), _number(g.threshold), escape(g.message)
                )
            console.print(gates)
        for note in [*r.notes, *(r.settled.notes if r.settled else [])]:
            console.print(f"  [yellow]note:[/yellow] {escape(note)}")
        console.print("  " + escape(r.message))


def _write_json(path: Path, reports: list[ModelReport], extra: dict[str, Any]) -> None:
    import json

    payload = {**extra, "models": [r.as_json() for r in reports]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- retrain


@app.command()
def retrain(
    spec: str = typer.Option(
        "", "--spec", help="Spec YAML or shipped name; default: LEADSCORE_DATASET (demo)."
    ),
    from_store: bool = typer.Option(
        False, "--from-store", help="Read leads and outcomes from the lead store (the default)."
    ),
    data: Path | None = typer.Option(
        None, "--data", help="Read a CRM export (CSV/Parquet) through the spec instead."
    ),
    as_of: datetime | None = typer.Option(
        None,
        "--as-of",
        formats=_DATE_FORMATS,
        help="Retrain as of this moment (UTC); default: now.",
    ),
    maturity_days: int = typer.Option(
        90, "--maturity-days", min=0, help="Open leads older than this count as not converted."
    ),
    eval_months: int = typer.Option(
        1, "--eval-months", min=1, max=12, help="Months in the out-of-time evaluation window."
    ),
    min_settled_share: float = typer.Option(
        0.9,
        "--min-settled-share",
        min=0.0,
        max=1.0,
        help="Share of a window's leads that must be settled; else an earlier month is used.",
    ),
    stage: list[str] = typer.Option(
        [], "--stage", help="arrival and/or qualified (repeat the option); default: all."
    ),
    target: list[str] = typer.Option(
        [], "--target", help="Targets from the spec, e.g. sql, won; default: all."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Train and judge, but log, register and promote nothing."
    ),
    force: bool = typer.Option(
        False, "--force", help="Retrain even when nothing changed since the last retrain."
    ),
    auc_tolerance: float = typer.Option(
        0.005, "--auc-tolerance", min=0.0, help="Challenger ROC-AUC may trail by this much."
    ),
    max_ece: float = typer.Option(
        0.03,
        "--max-ece",
        min=0.0001,
        max=1.0,
        help="Largest calibration error on the window, above what sampling noise gives.",
    ),
    min_positives: int = typer.Option(
        40, "--min-positives", min=1, help="Settled positives needed in training (cold start)."
    ),
    min_negatives: int = typer.Option(
        40, "--min-negatives", min=1, help="Settled negatives needed in training."
    ),
    min_window_positives: int = typer.Option(
        10, "--min-window-positives", min=1, help="Positives needed in the evaluation window."
    ),
    max_psi: float = typer.Option(
        0.25, "--max-psi", min=0.0001, help="Largest feature PSI between training and window."
    ),
    allow_drift: list[str] = typer.Option(
        [], "--allow-drift", help="Feature (output or source field) exempt from the PSI gate."
    ),
    param: list[str] = typer.Option(
        [], "--param", help="LightGBM parameter KEY=VALUE over the defaults (repeatable)."
    ),
    json_out: Path | None = typer.Option(
        None, "--json", help="Also write every decision as JSON to this file."
    ),
) -> None:
    """Retrain from settled outcomes; promote each challenger only if every gate passes."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from features.dataset import DatasetError
    from serving.settings import ServingSettings
    from training.retraining.cycle import MlflowTarget, RetrainConfig
    from training.retraining.cycle import retrain as run_retrain
    from training.retraining.policy import Gates
    from training.tiers import Tiers

    if data is not None and from_store:
        raise _fail("give --from-store or --data PATH, not both", 2)
    settings = ServingSettings()
    chosen = _spec(spec or settings.dataset)
    pairs = _pairs(chosen, stage, target)
    try:
        gates = Gates(
            auc_tolerance=auc_tolerance,
            max_ece=max_ece,
            min_positives=min_positives,
            min_negatives=min_negatives,
            min_eval_positives=min_window_positives,
            max_psi=max_psi,
            allow_drift=tuple(allow_drift),
        )
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    config = RetrainConfig(
        as_of=_as_of(as_of),
        maturity_days=maturity_days,
        eval_months=eval_months,
        min_settled_share=min_settled_share,
        gates=gates,
        tiers=Tiers(settings.tier_a, settings.tier_b, settings.tier_c),
        params=_params(param),
        dry_run=dry_run,
        force=force,
    )
    frame, source = _lead_frame(chosen, data, settings)
    target_store = MlflowTarget(
        settings.tracking_uri, settings.mlflow_experiment, settings.artifact_root
    )
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(f"retraining {len(pairs)} model(s) from {source}", total=None)
        try:
            reports = run_retrain(
                frame,
                chosen,
                pairs,
                config,
                target_store,
                source=source,
                progress=lambda message: bar.update(task, description=message),
            )
        except (DatasetError, ValueError) as exc:
            raise _fail(f"cannot retrain from {source}: {exc}") from None
    mode = " (dry run)" if dry_run else ""
    title = f"Retrain as of {config.as_of:%Y-%m-%d %H:%M} UTC from {source}{mode}"
    _print_reports(reports, title)
    if json_out is not None:
        from training.retraining.cycle import config_summary

        _write_json(json_out, reports, {"source": source, "config": config_summary(config)})
    if any(r.failed for r in reports):
        raise typer.Exit(1)


# --------------------------------------------------------------------------- drift


@app.command()
def drift(
    model: str = typer.Option(
        "", "--model", help="Registered model name; default: the arrival model of the queue target."
    ),
    spec: str = typer.Option(
        "", "--spec", help="Spec YAML or shipped name; default: LEADSCORE_DATASET (demo)."
    ),
    data: Path | None = typer.Option(
        None, "--data", help="Read a CRM export (CSV/Parquet) instead of the lead store."
    ),
    as_of: datetime | None = typer.Option(
        None, "--as-of", formats=_DATE_FORMATS, help="Report as of this moment (UTC); default: now."
    ),
    maturity_days: int = typer.Option(
        90, "--maturity-days", min=0, help="Open leads older than this count as not converted."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for drift-*.md/.html; default: <data_dir>/reports."
    ),
    log: bool = typer.Option(True, "--log/--no-log", help="Also log the report to MLflow."),
) -> None:
    """PSI per feature and of the score, training data vs the last month; conversion per channel."""
    from rich.console import Console
    from rich.markdown import Markdown

    from features.dataset import DatasetError
    from serving.settings import ServingSettings
    from training.registry import load_champion, model_name
    from training.retraining.cycle import drift_report
    from training.retraining.drift import render_html, render_markdown
    from training.tracking.runs import log_report_run, trained_until

    settings = ServingSettings()
    chosen = _spec(spec or settings.dataset)
    name = model or model_name("arrival", settings.score_target, chosen.name)
    loaded = load_champion(settings.tracking_uri, name)
    if loaded is None:
        raise _fail(
            f"no champion of '{name}' in {settings.tracking_uri}: the drift report compares a "
            "model's training data with recent leads (run `leadscore retrain` or `train` first)"
        )
    stamp = _as_of(as_of)
    frame, source = _lead_frame(chosen, data, settings)
    reference_end = trained_until(settings.tracking_uri, name, loaded.version)
    title = f"Drift of {name} v{loaded.version} as of {stamp:%Y-%m-%d}"
    try:
        report = drift_report(
            frame, chosen, loaded.model, title, stamp, reference_end, maturity_days
        )
    except (DatasetError, ValueError) as exc:
        raise _fail(f"cannot build the drift report from {source}: {exc}") from None
    markdown, page = render_markdown(report), render_html(report)
    folder = out or settings.data_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / f"drift-{name}-{stamp:%Y-%m-%d}"
    base.with_suffix(".md").write_text(markdown, encoding="utf-8")
    base.with_suffix(".html").write_text(page, encoding="utf-8")
    Console().print(Markdown(markdown))
    typer.echo(f"written: {base.with_suffix('.md')} and {base.with_suffix('.html')}")
    if log:
        run_id = log_report_run(
            settings.tracking_uri,
            settings.mlflow_experiment,
            settings.artifact_root,
            f"drift {name}",
            {
                "kind": "drift",
                "model": name,
                "model_version": loaded.version,
                "as_of": stamp.isoformat(),
            },
            {"drift.md": markdown, "drift.html": page},
        )
        typer.echo(f"logged to MLflow run {run_id} ({settings.tracking_uri})")
