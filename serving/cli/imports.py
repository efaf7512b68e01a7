"""`leadscore import`: a CRM's history (an export read through its dataset spec) into the
lead store, in batches, with a progress bar (plain log lines when not a terminal).

The work is the store's (``serving/store/imports.py``); this module reads the options and
the settings, shows progress and prints what was imported, what was stored already and
every refused row by line and column. Exit codes: 0 all rows stored (now or before), 1 the
export or some of its rows refused (the rest is imported), 2 a wrong option.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from serving.cli.console import (
    CANNOT_OPEN_STORE,
    fail,
    is_terminal,
    plain_line,
    safe_url,
    spec_or_exit,
)
from serving.cli.words import in_language, say

if TYPE_CHECKING:
    from datetime import datetime

    from features.checks import Problem
    from features.spec import DatasetSpec
    from serving.settings import ServingSettings
    from serving.store.imports import ImportPlan, ImportResult
    from serving.store.leads import Store

app = typer.Typer(no_args_is_help=True)

#: Refused rows printed in full; the rest are counted.
REFUSED_SHOWN = 50


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int, int], None]]:
    """A bar on a terminal; otherwise a log line per tenth of the leads (and the last)."""
    if is_terminal():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(say("storing leads"), *columns) as bar:
            task = bar.add_task("", total=total)
            yield lambda done, _total: bar.update(task, completed=done)
        return
    started = time.monotonic()
    step = max(1, total // 10)
    said = 0

    def tell(done: int, of: int) -> None:
        nonlocal said
        if done - said >= step or done == of:
            said = done
            stored = say("stored {done} of {of} leads", done=f"{done:,}", of=f"{of:,}")
            print(plain_line(started, stored), flush=True)

    yield tell


def _print_refused(refused: list[Problem]) -> None:
    from rich.console import Console

    err = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)
    count = f"{len(refused):,}"
    err.print(say("{count} row(s) refused (fix them and run the import again):", count=count))
    for problem in refused[:REFUSED_SHOWN]:
        err.print(f"  {in_language(str(problem))}")
    if len(refused) > REFUSED_SHOWN:
        err.print(say("  ... and {count} more", count=f"{len(refused) - REFUSED_SHOWN:,}"))


def _summary(plan: ImportPlan, result: ImportResult, where: str) -> str:
    lines = [
        say(
            "{rows} rows read from the export into {where}:",
            rows=f"{plan.rows_read:,}",
            where=where,
        ),
        say("  {count} leads imported", count=f"{result.imported:,}"),
        say(
            "  {count} already stored (skipped: same external_id)",
            count=f"{result.already_stored:,}",
        ),
        say("  {count} refused", count=f"{len(plan.refused):,}"),
    ]
    if plan.left_out:
        lines.append(
            say("  {count} left out by the spec's rows/ignore rules", count=f"{plan.left_out:,}")
        )
    if plan.undated:
        lines.append(say("  the spec has no time column: imported leads are dated now"))
    return "\n".join(lines)


@app.command("import")
def import_history(
    spec: str = typer.Option(
        ...,
        "--spec",
        help="Spec YAML file, or a shipped spec name: demo, x_education, olist, crm_sales.",
    ),
    data: Path | None = typer.Option(
        None, "--data", help="The CRM export (CSV, Parquet or .xlsx); default: the spec's file."
    ),
    batch_size: int = typer.Option(
        1_000, "--batch-size", min=1, max=50_000, help="Leads written per transaction."
    ),
    queue_within: float | None = typer.Option(
        None,
        "--queue-within",
        min=0,
        help=(
            "Minutes: an open, new lead that arrived this recently enters the SDR queue "
            "(default: the SLA, LEADSCORE_SLA_MINUTES); 0 keeps every imported lead out."
        ),
    ),
) -> None:
    """Import a CRM's history into the lead store: each lead with its status history and
    outcome, in batches, idempotent on the CRM's id (a re-run imports nothing twice).
    Rows that do not fit the spec are refused by line and column; the rest is imported.
    Imported leads are not scored here."""
    from datetime import UTC, datetime

    from serving.settings import ServingSettings

    chosen = spec_or_exit(spec)
    path = data or chosen.data_path()
    if path is None or not path.exists():
        shown = path or say("none given")
        raise fail(say("no such export: {path} (pass --data PATH)", path=shown))
    settings = ServingSettings()
    now = datetime.now(UTC)
    plan = _read_plan(chosen, path, now)
    where = safe_url(settings.store_url)
    store = _open_store(settings, where)
    window = settings.sla_minutes if queue_within is None else queue_within
    result = _store_plan(store, plan, now, settings, timedelta(minutes=window), batch_size)
    print(_summary(plan, result, where))
    if plan.refused:
        _print_refused(plan.refused)
        raise typer.Exit(1)


def _read_plan(spec: DatasetSpec, path: Path, now: datetime) -> ImportPlan:
    """The export read through ``spec``; exits 1 when the whole export is refused."""
    from serving.store.imports import ImportRefusedError, read_export

    try:
        return read_export(spec, path, now)
    except ImportRefusedError as exc:
        refused = in_language(str(exc))
        raise fail(
            say("the export cannot be imported; nothing was stored:\n{reason}", reason=refused)
        ) from None


def _open_store(settings: ServingSettings, where: str) -> Store:
    """The lead store of the settings; exits 1 naming it (``where``) when it cannot open."""
    from serving.store.leads import Store

    try:
        return Store.open(settings.store_url, settings.db_busy_timeout_ms)
    except Exception as exc:
        raise fail(say(CANNOT_OPEN_STORE, store=where, reason=exc)) from None


def _store_plan(
    store: Store,
    plan: ImportPlan,
    now: datetime,
    settings: ServingSettings,
    queue_within: timedelta,
    batch_size: int,
) -> ImportResult:
    """Write the plan's leads with progress, then close the store; a store failure exits 1
    saying how many leads were stored before it."""
    from sqlalchemy.exc import SQLAlchemyError

    from features.sla import read_working_hours
    from serving.queue import Sla
    from serving.store.imports import store_leads

    written = 0

    def track(progress: Callable[[int, int], None]) -> Callable[[int, int], None]:
        def seen(done: int, total: int) -> None:
            nonlocal written
            written = done
            progress(done, total)

        return seen

    try:
        with _progress(len(plan.leads)) as progress:
            return store_leads(
                store,
                plan.leads,
                now,
                sla=Sla(settings.sla_minutes, read_working_hours(settings.sla_calendar)),
                queue_within=queue_within,
                batch_size=batch_size,
                progress=track(progress),
            )
    except SQLAlchemyError as exc:
        message = say(
            "the lead store failed after {written} of {total} leads were stored (the failing "
            "batch was rolled back; run again to go on): {reason}",
            written=f"{written:,}",
            total=f"{len(plan.leads):,}",
            reason=exc,
        )
        raise fail(message) from None
    finally:
        store.close()
