"""`leadscore outbox list` and `leadscore outbox retry`: the CRM write-backs waiting or given up.

The store side is :mod:`serving.store.outbox`; the running service's delivery job
(``serving/connectors/delivery.py``) sends what ``retry`` makes due again. See docs/crm.md,
"Troubleshooting".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from serving.cli.console import fail, safe_url

if TYPE_CHECKING:
    from serving.store.leads import Store

app = typer.Typer(
    name="outbox",
    help="The CRM outbox: score write-backs pending or dead-lettered (docs/crm.md).",
    no_args_is_help=True,
)

STATES = ("pending", "dead", "delivered", "superseded")


def _open_store() -> Store:
    from serving.settings import ServingSettings
    from serving.store.leads import Store

    settings = ServingSettings()
    try:
        return Store.open(settings.store_url, settings.db_busy_timeout_ms)
    except Exception as error:
        raise fail(f"cannot open the lead store {safe_url(settings.store_url)}: {error}") from None


@app.command("list")
def list_rows(
    state: list[str] = typer.Option(
        ["pending", "dead"], "--state", help=f"states to show (repeatable): {', '.join(STATES)}"
    ),
    limit: int = typer.Option(100, "--limit", min=1, help="show at most this many, newest first"),
) -> None:
    """Show the outbox rows in STATE (pending and dead by default) with their last error."""
    from rich.table import Table

    from serving.cli.console import print_table
    from serving.store.outbox import outbox_counts, outbox_entries

    unknown = sorted(set(state) - set(STATES))
    if unknown:
        raise fail(f"unknown state {', '.join(unknown)}; expected some of {', '.join(STATES)}", 2)
    store = _open_store()
    try:
        counts = outbox_counts(store)
        rows = outbox_entries(store, state, limit)
    finally:
        store.close()
    typer.echo(
        "outbox: "
        + ", ".join(f"{counts[s]} {s}" for s in STATES)
        + f"; {counts['dead_events']} webhook events dead"
    )
    table = Table(
        "id", "lead", "score", "CRM", "CRM id", "state", "tries", "next try", "last error"
    )
    for row in rows:
        table.add_row(
            str(row.id),
            str(row.lead_id),
            str(row.score_id),
            row.connector,
            row.crm_id,
            row.state,
            str(row.attempts),
            row.next_attempt_at.strftime("%Y-%m-%d %H:%M:%S") if row.state == "pending" else "",
            row.last_error or "",
        )
    print_table(table)


@app.command()
def retry(
    ids: list[int] = typer.Argument(None, help="outbox row ids; none: every dead row"),
) -> None:
    """Make dead-lettered write-backs due again now (the running service sends them)."""
    from serving.store.outbox import retry_deliveries

    store = _open_store()
    try:
        done = retry_deliveries(store, datetime.now(UTC), ids or None)
    finally:
        store.close()
    typer.echo(f"outbox: {done} dead write-back(s) due again; the service delivers them shortly")
    if ids and done < len(ids):
        typer.echo(f"outbox: {len(ids) - done} of the ids given were not dead (left as they are)")
