"""`leadscore backup` / `leadscore restore`: the restore drill and every refusal.

The drill posts leads through the real app on a real SQLite store, backs it up with the
command while another thread keeps posting, restores the copy into a fresh data dir and
starts the app on it: every lead acknowledged before the backup started is there with its
scores.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text
from typer.testing import CliRunner

from serving.app import create_app
from serving.cli.main import app as cli
from serving.modelset import MemoryLoader
from serving.settings import ServingSettings
from serving.store.backup import BackupError, inspect_store, pg_dump_commands
from serving.store.leads import Store
from tests.serving.conftest import API_KEYS, PG_ENV, headers, make_lead


def app_settings(data_dir: Path) -> ServingSettings:
    return ServingSettings(data_dir=data_dir, api_keys=API_KEYS, model_check_seconds=0)


def run(monkeypatch: pytest.MonkeyPatch, data_dir: Path, *args: str) -> Any:
    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    return CliRunner().invoke(cli, list(args))


def make_store(data_dir: Path, leads: int) -> Path:
    """A lead store with ``leads`` leads (through the real app); returns its file."""
    with TestClient(create_app(app_settings(data_dir), loader=MemoryLoader())) as client:
        for _ in range(leads):
            assert client.post("/leads", json=make_lead(), headers=headers()).status_code == 201
    return data_dir / "leads.db"


def test_restore_drill_backup_while_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live, fresh = tmp_path / "live", tmp_path / "fresh"
    #: (sent, acknowledged, the answer) of every lead posted
    acknowledged: list[tuple[float, float, dict[str, Any]]] = []
    stop = threading.Event()
    with TestClient(create_app(app_settings(live), loader=MemoryLoader())) as client:

        def post_one() -> None:
            sent = time.monotonic()
            response = client.post("/leads", json=make_lead(), headers=headers())
            assert response.status_code == 201, response.text
            acknowledged.append((sent, time.monotonic(), response.json()))

        for _ in range(20):
            post_one()

        def keep_writing() -> None:
            while not stop.is_set():
                post_one()

        writer = threading.Thread(target=keep_writing)
        writer.start()
        try:
            while len(acknowledged) < 25:
                time.sleep(0.01)
            started = time.monotonic()
            result = run(monkeypatch, live, "backup", "--out", str(tmp_path / "copy.db"))
            ended = time.monotonic()
            count = len(acknowledged)
            while len(acknowledged) < count + 5:
                time.sleep(0.01)
        finally:
            stop.set()
            writer.join()
    assert result.exit_code == 0, result.output
    assert "leadscore restore" in result.output
    before = [body for _sent, acked, body in acknowledged if acked < started]
    # sent after the backup ended: a lead sent earlier may be committed before the copy and
    # answered after it
    after = [body for sent, _acked, body in acknowledged if sent > ended]
    assert len(before) >= 25
    assert after, "writes went on after the backup"

    restored = run(monkeypatch, fresh, "restore", str(tmp_path / "copy.db"))
    assert restored.exit_code == 0, restored.output
    with TestClient(create_app(app_settings(fresh), loader=MemoryLoader())) as client:
        for lead in before:
            stored = client.get(f"/leads/{lead['id']}", headers=headers())
            assert stored.status_code == 200, lead["id"]
            body = stored.json()
            assert body["external_id"] == lead["external_id"]
            assert [s["probability"] for s in body["scores"]] == [
                s["probability"] for s in lead["scores"]
            ]
        for lead in after:
            assert client.get(f"/leads/{lead['id']}", headers=headers()).status_code == 404
    copy = inspect_store(tmp_path / "copy.db")
    assert not (tmp_path / "copy.db-wal").exists()
    assert len(before) <= copy.leads < len(before) + len(after) + 100


def test_backup_goes_to_a_timestamped_file_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_store(tmp_path, 3)
    result = run(monkeypatch, tmp_path, "backup")
    assert result.exit_code == 0, result.output
    [made] = (tmp_path / "backups").glob("leads-*.db")
    assert inspect_store(made).leads == 3
    assert "3 leads" in result.output
    again = run(monkeypatch, tmp_path, "backup", "--out", str(made))
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_restore_refuses_to_overwrite_without_force_and_saves_the_old_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_store(tmp_path / "a", 2)
    run(monkeypatch, tmp_path / "a", "backup", "--out", str(tmp_path / "two.db"))
    existing = make_store(tmp_path / "b", 5)
    refused = run(monkeypatch, tmp_path / "b", "restore", str(tmp_path / "two.db"))
    assert refused.exit_code == 1
    assert "already exists" in refused.output
    assert "--force" in refused.output
    assert inspect_store(existing).leads == 5
    forced = run(monkeypatch, tmp_path / "b", "restore", "--force", str(tmp_path / "two.db"))
    assert forced.exit_code == 0, forced.output
    assert inspect_store(existing).leads == 2
    [saved] = (tmp_path / "b" / "backups").glob("leads-before-restore-*.db")
    assert inspect_store(saved).leads == 5
    with TestClient(create_app(app_settings(tmp_path / "b"), loader=MemoryLoader())) as client:
        assert len(client.get("/queue", headers=headers()).json()["items"]) == 2


def test_restore_refuses_a_store_in_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_store(tmp_path / "a", 1)
    run(monkeypatch, tmp_path / "a", "backup", "--out", str(tmp_path / "one.db"))
    existing = make_store(tmp_path / "b", 2)
    store = Store.open(f"sqlite:///{existing}")
    try:
        store.ping()  # the service holds a connection, as a running one does
        refused = run(monkeypatch, tmp_path / "b", "restore", "--force", str(tmp_path / "one.db"))
    finally:
        store.close()
    assert refused.exit_code == 1
    assert "in use" in refused.output
    assert inspect_store(existing).leads == 2


def test_restore_checks_the_file_is_a_leadscore_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = tmp_path / "notes.db"
    text.write_text("not a database")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE t (x)")
    future = tmp_path / "future.db"
    make_store(tmp_path / "src", 1)
    run(monkeypatch, tmp_path / "src", "backup", "--out", str(future))
    with sqlite3.connect(future) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    cases = {
        text: "not a SQLite database",
        other: "not a leadscore store",
        future: "does not know",
        tmp_path / "missing.db": "no such file",
    }
    for path, message in cases.items():
        result = run(monkeypatch, tmp_path / "target", "restore", str(path))
        assert result.exit_code == 1, path
        assert message in result.output, path
        assert not (tmp_path / "target" / "leads.db").exists()
    with pytest.raises(BackupError, match="not a leadscore store"):
        inspect_store(other)


def test_postgresql_stores_are_pointed_at_pg_dump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql+psycopg://leadscore:secret@db.internal:5432/leads"
    monkeypatch.setenv("LEADSCORE_DATABASE_URL", url)
    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(tmp_path))
    for args in (["backup"], ["restore", str(tmp_path / "x.db")]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2
        assert "pg_dump --format=custom" in result.output
        assert "pg_restore --clean --if-exists --no-owner" in result.output
        assert "secret" not in result.output
    dump, load = pg_dump_commands(url)
    assert "'postgresql://leadscore:***@db.internal:5432/leads'" in dump
    assert load.endswith("leadscore.dump")


@pytest.fixture
def fresh_databases() -> Iterator[tuple[str, str]]:
    """Two empty PostgreSQL databases (source, restore target) on the test server."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} not set")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump / pg_restore not installed")
    names = [f"bk_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        urls = [make_url(base).set(database=name).render_as_string(False) for name in names]
        yield urls[0], urls[1]
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_the_documented_pg_dump_and_pg_restore_commands_restore_every_lead(
    fresh_databases: tuple[str, str], tmp_path: Path
) -> None:
    source, target = fresh_databases

    def pg_settings(url: str) -> ServingSettings:
        return app_settings(tmp_path).model_copy(update={"database_url": url})

    with TestClient(create_app(pg_settings(source), loader=MemoryLoader())) as client:
        posted = [
            client.post("/leads", json=make_lead(), headers=headers()).json() for _ in range(3)
        ]
    dump_file = str(tmp_path / "leadscore.dump")
    dump, _ = pg_dump_commands(source, dump_file)
    _, load = pg_dump_commands(target, dump_file)
    for command in (dump, load):
        done = subprocess.run(shlex.split(command), capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{command}: {done.stderr}"
    with TestClient(create_app(pg_settings(target), loader=MemoryLoader())) as client:
        for lead in posted:
            body = client.get(f"/leads/{lead['id']}", headers=headers()).json()
            assert body["external_id"] == lead["external_id"]
            assert len(body["scores"]) == len(lead["scores"]) > 0


def test_archive_counts_then_moves_old_closed_leads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    with TestClient(create_app(app_settings(data), loader=MemoryLoader())) as client:
        old = client.post("/leads", json=make_lead(minutes_ago=500 * 24 * 60), headers=headers())
        lost = client.post(
            f"/leads/{old.json()['id']}/status", json={"status": "lost"}, headers=headers("admin")
        )
        assert lost.status_code == 200
        assert client.post("/leads", json=make_lead(), headers=headers()).status_code == 201
    counted = run(monkeypatch, data, "archive", "--before", "2026-01-01", "--dry-run")
    assert counted.exit_code == 0, counted.output
    assert "1 closed leads arrived before 2026-01-01" in counted.output
    out = tmp_path / "old.jsonl.gz"
    moved = run(monkeypatch, data, "archive", "--before", "2026-01-01", "--out", str(out))
    assert moved.exit_code == 0, moved.output
    assert f"1 leads moved to {out}" in moved.output
    assert inspect_store(data / "leads.db").leads == 1
    again = run(monkeypatch, data, "archive", "--before", "2026-01-01", "--out", str(out))
    assert again.exit_code == 0  # nothing left to move: the file is not touched
    assert "0 closed leads" in again.output
    bad = run(monkeypatch, data, "archive", "--before", "last year")
    assert bad.exit_code == 2
    assert "--before" in bad.output
