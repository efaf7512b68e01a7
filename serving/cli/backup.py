"""`leadscore backup` and `leadscore restore` (copies of the SQLite lead store) and
`leadscore archive` (old closed leads moved out of any store into a file).

The store side is :mod:`serving.store.backup`; PostgreSQL stores are backed up with
``pg_dump`` (the commands are printed, and in docs/serving.md).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import typer

from serving.cli.console import fail, safe_url

app = typer.Typer(no_args_is_help=True)


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


def _sqlite_file_or_exit(url: str, verb: str) -> Path:
    from serving.store.backup import BackupError, pg_dump_commands, sqlite_path

    try:
        path = sqlite_path(url)
    except BackupError as error:
        raise fail(str(error), 2) from None
    if path is None:
        dump, load = pg_dump_commands(url)
        raise fail(
            f"the lead store is {safe_url(url)}, not SQLite: `leadscore {verb}` copies SQLite "
            f"files only. Use PostgreSQL's own tools:\n  back up:  {dump}\n  restore:  {load}\n"
            "(see docs/serving.md, 'Backup and restore')",
            2,
        )
    return path


@app.command()
def backup(
    out: Path | None = typer.Option(
        None,
        "--out",
        help="File to write (default: DATA_DIR/backups/leads-<UTC time>.db). Must not exist.",
    ),
) -> None:
    """Copy the SQLite lead store while the service runs (a consistent snapshot)."""
    from rich.console import Console

    from serving.settings import ServingSettings
    from serving.store.backup import BackupError, default_backup_path
    from serving.store.backup import backup as copy_store

    settings = ServingSettings()
    source = _sqlite_file_or_exit(settings.store_url, "backup")
    target = out or default_backup_path(settings.data_dir, datetime.now(UTC))
    typer.echo(f"backup: copying the lead store {source} to {target}")
    started = time.monotonic()
    try:
        with Console(stderr=True).status("copying (the service may keep running) ..."):
            copied = copy_store(source, target)
    except BackupError as error:
        raise fail(f"backup failed: {error}") from None
    seconds = time.monotonic() - started
    typer.echo(
        f"backup: {copied.leads} leads, {_mib(copied.size_bytes)}, schema {copied.revision}, "
        f"checked, in {seconds:.1f} s: {target}"
    )
    typer.echo(f"to restore it: stop the service, then `leadscore restore {target}`")


@app.command()
def restore(
    file: Path = typer.Argument(..., help="A backup made by `leadscore backup`."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace an existing lead store (it is saved to DATA_DIR/backups first).",
    ),
) -> None:
    """Make the SQLite lead store a copy of a backup (stop the service first)."""
    from serving.settings import ServingSettings
    from serving.store.backup import BackupError, default_backup_path
    from serving.store.backup import restore as restore_store

    settings = ServingSettings()
    target = _sqlite_file_or_exit(settings.store_url, "restore")
    now = datetime.now(UTC)
    saved = default_backup_path(settings.data_dir, now).with_stem(
        f"leads-before-restore-{now.strftime('%Y%m%dT%H%M%SZ')}"
    )
    typer.echo(f"restore: checking {file} and restoring it into {target}")
    try:
        restored = restore_store(file, target, force=force, saved=saved)
    except BackupError as error:
        raise fail(f"restore refused: {error}") from None
    if saved.exists():
        typer.echo(f"restore: the store it replaced is saved as {saved}")
    typer.echo(
        f"restore: {restored.leads} leads, schema {restored.revision}, into {target}; "
        "start the service (`leadscore serve`): it applies newer migrations and scores "
        "any lead left unscored"
    )


@app.command()
def archive(
    before: datetime = typer.Option(
        ...,
        "--before",
        formats=["%Y-%m-%d"],
        help="Move closed leads that arrived before this day (UTC), e.g. 2025-01-01.",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="File to write (gzip JSON lines; default: DATA_DIR/archive/leads-before-<day>"
        "-<UTC time>.jsonl.gz). Must not exist.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count them, move nothing."),
) -> None:
    """Move old closed leads out of the lead store into an archive file (retention).

    Open leads stay, whatever their age. Keep at least the months retraining reads
    (its window and the maturity of outcomes) in the store.
    """
    from serving.cli.console import steps
    from serving.settings import ServingSettings
    from serving.store.archive import ArchiveError, archivable
    from serving.store.archive import archive as move_leads
    from serving.store.leads import Store

    settings = ServingSettings()
    cut = before.replace(tzinfo=UTC)
    store = Store.open(settings.store_url, settings.db_busy_timeout_ms)
    try:
        count = archivable(store, cut)
        typer.echo(f"archive: {count} closed leads arrived before {cut:%Y-%m-%d}")
        if dry_run or count == 0:
            return
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = (
            out or settings.data_dir / "archive" / f"leads-before-{cut:%Y-%m-%d}-{stamp}.jsonl.gz"
        )
        with steps(f"archive: moving {count} leads to {target}") as say:
            try:
                moved = move_leads(
                    store,
                    cut,
                    target,
                    progress=lambda done: say(f"archive: {done} of {count} moved"),
                )
            except ArchiveError as error:
                raise fail(str(error), 2) from None
    finally:
        store.close()
    typer.echo(f"archive: {moved} leads moved to {target}; the store keeps the rest")
