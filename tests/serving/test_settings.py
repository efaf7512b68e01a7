"""Settings for work started inside a checkout: the data folder is the checkout's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving.settings import project_root, settings_from


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "leadscore"\n', encoding="utf-8")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.delenv("LEADSCORE_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path / "notebooks")
    return tmp_path


def test_from_notebooks_the_data_folder_is_the_checkouts(checkout: Path) -> None:
    assert project_root(checkout / "notebooks") == checkout
    settings = settings_from()
    assert settings.data_dir == checkout / "data"
    assert settings.store_url == f"sqlite:///{(checkout / 'data' / 'leads.db').resolve()}"


def test_a_folder_given_or_set_wins(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings_from(checkout / "elsewhere").data_dir == checkout / "elsewhere"
    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(checkout / "set"))
    assert settings_from().data_dir == checkout / "set"


def test_outside_a_checkout_nothing_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEADSCORE_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert project_root(tmp_path) is None
    assert settings_from().data_dir == Path("data")
