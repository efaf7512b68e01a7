"""`leadscore outbox list` and `leadscore outbox retry`: the CRM write-backs waiting or given up.

The store side is :mod:`serving.store.outbox`; the running service's delivery job
(``serving/connectors/delivery.py``) sends what ``retry`` makes due again. See docs/crm.md,
"Troubleshooting".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from features.i18n import N_
from serving.cli.console import CANNOT_OPEN_STORE, fail, safe_url
from serving.cli.words import say

if TYPE_CHECKING:
    from serving.store.leads import Store

app = typer.Typer(
    name="outbox",
    help="The CRM outbox: score write-backs pending or dead-lettered (docs/crm.md).",
    no_args_is_help=True,
)

STATES = ("pending", "dead", "delivered", "superseded")

COLUMNS = (
    N_("id"), N_("lead"), N_("score"), N_("CRM"), N_("CRM id"), N_("state"), N_("tries"),
    N_("next try"), N_("last error"),
)  # fmt: skip


def _open_store() -> Store:
    from serving.settings import ServingSettings
    from serving.store.leads import Store

    settings = ServingSettings()
    try:
        return Store.open(settings.store_url, settings.db_busy_timeout_ms)
    except Exception as error:
        shown = say(CANNOT_OPEN_STORE, store=safe_url(settings.store_url), reason=error)
        raise fail(shown) from None


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
        shown = say(
            "unknown state {unknown}; expected some of {states}",
            unknown=", ".join(unknown),
            states=", ".join(STATES),
        )
        raise fail(shown, 2)
    store = _open_store()
    try:
        counts = outbox_counts(store)
        rows = outbox_entries(store, state, limit)
    finally:
        store.close()
    listed = ", ".join(f"{counts[s]} {s}" for s in STATES)
    typer.echo(
        say(
            "outbox: {counts}; {dead} webhook events dead",
            counts=listed,
            dead=counts["dead_events"],
        )
    )
    table = Table(*(say(column) for column in COLUMNS))
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
    typer.echo(
        say(
            "outbox: {done} dead write-back(s) due again; the service delivers them shortly",
            done=done,
        )
    )
    if ids and done < len(ids):
        typer.echo(
            say(
                "outbox: {count} of the ids given were not dead (left as they are)",
                count=len(ids) - done,
            )
        )
