"""`leadscore backup` and `leadscore restore` (copies of the SQLite lead store) and
`leadscore archive` (old closed leads moved out of any store into a file).

The store side is :mod:`serving.store.backup`; PostgreSQL stores are backed up with
``pg_dump`` (the commands are printed, and in docs/serving.md).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from serving.cli.console import fail, safe_url
from serving.cli.words import say

if TYPE_CHECKING:
    from serving.settings import ServingSettings
    from serving.store.leads import Store

app = typer.Typer(no_args_is_help=True)


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


def _sqlite_store_or_exit(verb: str) -> tuple[ServingSettings, Path]:
    """The settings and the SQLite file of their lead store; exits 2 for another store."""
    from serving.settings import ServingSettings

    settings = ServingSettings()
    return settings, _sqlite_file_or_exit(settings.store_url, verb)


def _sqlite_file_or_exit(url: str, verb: str) -> Path:
    from serving.store.backup import BackupError, pg_dump_commands, sqlite_path

    try:
        path = sqlite_path(url)
    except BackupError as error:
        raise fail(str(error), 2) from None
    if path is None:
        dump, load = pg_dump_commands(url)
        shown = say(
            "the lead store is {store}, not SQLite: `leadscore {verb}` copies SQLite files only. "
            "Use PostgreSQL's own tools:\n  back up:  {dump}\n  restore:  {load}\n"
            "(see docs/serving.md, 'Backup and restore')",
            store=safe_url(url),
            verb=verb,
            dump=dump,
            load=load,
        )
        raise fail(shown, 2)
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

    from serving.store.backup import BackupError, default_backup_path
    from serving.store.backup import backup as copy_store

    settings, source = _sqlite_store_or_exit("backup")
    target = out or default_backup_path(settings.data_dir, datetime.now(UTC))
    typer.echo(
        say("backup: copying the lead store {source} to {target}", source=source, target=target)
    )
    started = time.monotonic()
    try:
        with Console(stderr=True).status(say("copying (the service may keep running) ...")):
            copied = copy_store(source, target)
    except BackupError as error:
        raise fail(say("backup failed: {reason}", reason=error)) from None
    seconds = f"{time.monotonic() - started:.1f}"
    size = _mib(copied.size_bytes)
    shown = dict(leads=copied.leads, size=size, revision=copied.revision, seconds=seconds)
    typer.echo(
        say(
            "backup: {leads} leads, {size}, schema {revision}, checked, in {seconds} s: {target}",
            **shown,
            target=target,
        )
    )
    typer.echo(
        say("to restore it: stop the service, then `leadscore restore {target}`", target=target)
    )


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
    from serving.store.backup import BackupError, default_backup_path
    from serving.store.backup import restore as restore_store

    settings, target = _sqlite_store_or_exit("restore")
    now = datetime.now(UTC)
    saved = default_backup_path(settings.data_dir, now).with_stem(
        f"leads-before-restore-{now.strftime('%Y%m%dT%H%M%SZ')}"
    )
    typer.echo(
        say("restore: checking {file} and restoring it into {target}", file=file, target=target)
    )
    try:
        restored = restore_store(file, target, force=force, saved=saved)
    except BackupError as error:
        raise fail(say("restore refused: {reason}", reason=error)) from None
    if saved.exists():
        typer.echo(say("restore: the store it replaced is saved as {saved}", saved=saved))
    typer.echo(
        say(
            "restore: {leads} leads, schema {revision}, into {target}; start the service "
            "(`leadscore serve`): it applies newer migrations and scores any lead left unscored",
            leads=restored.leads,
            revision=restored.revision,
            target=target,
        )
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
    from serving.settings import ServingSettings
    from serving.store.archive import archivable
    from serving.store.leads import Store

    settings = ServingSettings()
    cut = before.replace(tzinfo=UTC)
    store = Store.open(settings.store_url, settings.db_busy_timeout_ms)
    try:
        count = archivable(store, cut)
        typer.echo(
            say(
                "archive: {count} closed leads arrived before {day}",
                count=count,
                day=f"{cut:%Y-%m-%d}",
            )
        )
        if dry_run or count == 0:
            return
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = (
            out or settings.data_dir / "archive" / f"leads-before-{cut:%Y-%m-%d}-{stamp}.jsonl.gz"
        )
        moved = _move_to_archive(store, cut, target, count)
    finally:
        store.close()
    typer.echo(
        say(
            "archive: {moved} leads moved to {target}; the store keeps the rest",
            moved=moved,
            target=target,
        )
    )


def _move_to_archive(store: Store, cut: datetime, target: Path, count: int) -> int:
    """Move the ``count`` closed leads that arrived before ``cut`` into ``target``, with
    progress; the archive's refusal is the command's exit 2."""
    from serving.cli.console import steps
    from serving.store.archive import ArchiveError
    from serving.store.archive import archive as move_leads

    with steps(
        say("archive: moving {count} leads to {target}", count=count, target=target)
    ) as step:
        try:
            return move_leads(
                store,
                cut,
                target,
                progress=lambda done: step(
                    say("archive: {done} of {count} moved", done=done, count=count)
                ),
            )
        except ArchiveError as error:
            raise fail(str(error), 2) from None
