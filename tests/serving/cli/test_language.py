"""The commands speak the installation's language (LEADSCORE_LOCALE) through the serving
catalog: a refused command line, a failing store, a command's summary and a table's
headers in Russian on the real CLI (CliRunner, real SQLite store); English stays the
default. (That the serving catalog holds every message the commands ask for, in both
languages, is tests/serving/web/test_language.py's catalog check, over all of serving.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from serving.app import create_app
from serving.cli.main import app as cli
from serving.modelset import MemoryLoader
from serving.settings import ServingSettings
from tests.serving.cli.test_data import _files
from tests.serving.conftest import API_KEYS, headers, make_lead


def run(monkeypatch: pytest.MonkeyPatch, data_dir: Path, locale: str | None, *args: str) -> Any:
    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    if locale is None:
        monkeypatch.delenv("LEADSCORE_LOCALE", raising=False)
    else:
        monkeypatch.setenv("LEADSCORE_LOCALE", locale)
    return CliRunner().invoke(cli, list(args))


def test_a_refused_command_line_is_said_in_russian(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    russian = run(monkeypatch, tmp_path, "ru", "outbox", "list", "--state", "lost")
    assert russian.exit_code == 2
    assert "неизвестное состояние lost; ожидались: pending, dead" in russian.output
    english = run(monkeypatch, tmp_path, None, "outbox", "list", "--state", "lost")
    assert english.exit_code == 2
    assert "unknown state lost; expected some of pending, dead" in english.output


def test_a_store_that_is_not_sqlite_names_the_tools_in_russian(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSCORE_LOCALE", "ru")
    monkeypatch.setenv("LEADSCORE_DATABASE_URL", "postgresql+psycopg://u:secret@db/leads")
    result = CliRunner().invoke(cli, ["backup"])
    assert result.exit_code == 2
    assert "а не SQLite: `leadscore backup` копирует только файлы SQLite" in result.output
    assert "резервная копия:  pg_dump" in result.output
    assert "secret" not in result.output


def test_a_summary_and_a_tables_headers_in_russian(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = ServingSettings(data_dir=tmp_path, api_keys=API_KEYS, model_check_seconds=0)
    with TestClient(create_app(settings, loader=MemoryLoader())) as client:
        assert client.post("/leads", json=make_lead(), headers=headers()).status_code == 201
    backup = run(monkeypatch, tmp_path, "ru", "backup", "--out", str(tmp_path / "copy.db"))
    assert backup.exit_code == 0, backup.output
    assert re.search(r"резервная копия: лидов — 1, [\d.]+ MiB, схема \w+, проверена", backup.output)
    assert "чтобы восстановить её, остановите сервис" in backup.output
    listed = run(monkeypatch, tmp_path, "ru", "outbox", "list")
    assert listed.exit_code == 0, listed.output
    assert "очередь отправки: 0 pending" in listed.output
    assert "следующая попытка" in listed.output
    assert "последняя ошибка" in listed.output
    english = run(monkeypatch, tmp_path, "en", "outbox", "list")
    assert "webhook events dead" in english.output
    assert "last error" in english.output


def test_a_text_of_another_layer_is_put_into_russian_by_its_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The channel report's own refusal of a period (training/channels) reaches the
    command's user in Russian, through the API's templates."""
    result = run(monkeypatch, tmp_path, "ru", "report", "channels", "--out", str(tmp_path),
                 "--period", "2026-13")  # fmt: skip
    assert result.exit_code == 1
    assert "2026-13" in result.output
    assert "expected a month" not in result.output


def test_check_datas_profile_and_split_in_russian(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A summary of serving/cli/data.py: the profile, a join's match, the features' table
    headers and the split, each in Russian (a small CRM export with its spec)."""
    spec = _files(tmp_path)
    result = run(monkeypatch, tmp_path, "ru", "check-data", "--spec", str(spec), "--data",
                 str(tmp_path / "deals.csv"))  # fmt: skip
    assert result.exit_code == 0, result.output
    said = [
        "deals: лидов — 40, из",
        "products.csv: совпало 30 из 40 строк (75.0%); добавляет product_price",
        "известен на этапе",  # a table header
        "разбиение для won:",
        "  тест: обучение — 20 строк (10 положительных), тест — 20 строк",
    ]
    assert [text for text in said if text not in result.output] == []
    assert "leads from" not in result.output


def test_a_missing_export_and_a_wrong_moment_are_refused_in_russian(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refusals of serving/cli/imports.py and serving/cli/score.py."""
    missing = tmp_path / "nowhere.csv"
    imported = run(monkeypatch, tmp_path, "ru", "import", "--spec", "demo", "--data", str(missing))
    assert imported.exit_code == 1
    assert f"нет такой выгрузки: {missing} (укажите --data ПУТЬ)" in imported.output
    scored = run(monkeypatch, tmp_path, "ru", "score", "--data", str(missing), "--out",
                 str(tmp_path / "out.parquet"), "--known-at", "soon")  # fmt: skip
    assert scored.exit_code == 1
    assert "--known-at принимает arrival или qualified, получено: soon" in scored.output
    english = run(monkeypatch, tmp_path, "en", "import", "--spec", "demo", "--data", str(missing))
    assert f"no such export: {missing} (pass --data PATH)" in english.output
