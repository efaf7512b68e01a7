"""Backing up and restoring the SQLite lead store (`leadscore backup`, `leadscore restore`).

A backup is a consistent copy made while the service runs: SQLite's online backup API
(:meth:`sqlite3.Connection.backup`) copies the store in one step inside a read
transaction, so it sees every transaction committed before it started and none after;
in WAL mode the service's writers go on meanwhile. The copy is written under a temporary
name, checked (integrity, the Alembic version table) and only then renamed into place:
a backup file that exists is complete. It is a single file (rollback journal, no WAL).

Restoring checks the file is a leadscore store (``alembic_version`` holds a revision of
this package's migrations) and copies it into the store through the same API. An
existing store is replaced only when asked (``force``), after a copy of it is saved, and
only when no one else has it open (the service must be stopped). PostgreSQL stores are
backed up with ``pg_dump`` (:func:`pg_dump_commands`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import make_url

SQLITE_HEADER = b"SQLite format 3\x00"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class StoreFile:
    """A SQLite file that is a leadscore lead store."""

    path: Path
    revision: str
    leads: int
    size_bytes: int


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite store URL; None for any other database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError(f"{url} is an in-memory SQLite database: there is no file to copy")
    return Path(parsed.database)


def pg_dump_commands(url: str, dump: str = "leadscore.dump") -> tuple[str, str]:
    """The ``pg_dump`` and ``pg_restore`` commands for a PostgreSQL store URL (password
    hidden: give it with PGPASSWORD or ~/.pgpass)."""
    parsed = make_url(url).set(drivername="postgresql")
    target = parsed.render_as_string(hide_password=True)
    return (
        f"pg_dump --format=custom --file {dump} '{target}'",
        f"pg_restore --clean --if-exists --no-owner --dbname '{target}' {dump}",
    )


def default_backup_path(data_dir: Path, now: datetime) -> Path:
    """``<data_dir>/backups/leads-<UTC timestamp>.db``."""
    return data_dir / "backups" / f"leads-{now.strftime('%Y%m%dT%H%M%SZ')}.db"


@contextmanager
def _connect(path: Path, timeout: float = 10.0) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(path, timeout=timeout, isolation_level=None)) as connection:
        yield connection


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from serving.store.tables import alembic_config

    return {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }


def inspect_store(path: Path) -> StoreFile:
    """``path`` as a leadscore store; :class:`BackupError` saying why it is not one."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    with path.open("rb") as file:
        if file.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise BackupError(f"{path} is not a SQLite database, so not a leadscore store")
    try:
        with _connect(path) as connection:
            integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
            if integrity != "ok":
                raise BackupError(f"{path} is damaged (integrity check: {integrity})")
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
            if "alembic_version" not in tables or "leads" not in tables:
                raise BackupError(
                    f"{path} is a SQLite database but not a leadscore store "
                    "(it has no alembic_version or leads table)"
                )
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            leads = connection.execute("SELECT count(*) FROM leads").fetchone()[0]
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} cannot be read as a lead store: {error}") from None
    revision = row[0] if row else ""
    if revision not in _known_revisions():
        raise BackupError(
            f"{path} is at schema revision '{revision}', which this leadscore does not know "
            "(made by a newer version?); restore it with that version"
        )
    return StoreFile(path, revision, int(leads), path.stat().st_size)


def backup(source: Path, target: Path) -> StoreFile:
    """A consistent copy of the store at ``source`` into the new file ``target``."""
    if not source.is_file():
        raise BackupError(f"there is no lead store at {source}: nothing to back up")
    if target.exists():
        raise BackupError(f"{target} already exists; choose another path with --out")
    inspect_store(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with _connect(source) as original, _connect(partial) as copy:
            original.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
        copied = inspect_store(partial)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return StoreFile(target, copied.revision, copied.leads, copied.size_bytes)


def restore(source: Path, target: Path, *, force: bool, saved: Path) -> StoreFile:
    """Make ``target`` (the store's file) a copy of the backup ``source``.

    An existing store is replaced only with ``force``, after it is backed up to ``saved``,
    and only when nothing else has it open."""
    backed_up = inspect_store(source)
    if target.exists() and target.stat().st_size > 0:
        if not force:
            raise BackupError(
                f"a lead store already exists at {target}; to replace it, stop the service "
                "and run again with --force (the current store is saved first)"
            )
        _ensure_unused(target)
        backup(target, saved)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _connect(source) as original, _connect(target) as store:
        original.backup(store)
    restored = inspect_store(target)
    return StoreFile(target, restored.revision, restored.leads, backed_up.size_bytes)


def _ensure_unused(path: Path) -> None:
    """Refuse when another connection (the running service) has the store open: leaving
    WAL mode needs it to be the only one."""
    with _connect(path, timeout=0.5) as connection:
        try:
            mode = connection.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        except sqlite3.OperationalError:
            mode = "wal"
    if mode != "delete":
        raise BackupError(
            f"the lead store {path} is in use (is the service running?); stop it, then restore"
        )
