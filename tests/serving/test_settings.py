"""Settings for work started inside a checkout: the data folder is the checkout's own."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from serving.settings import ServingSettings, project_root, settings_from


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


def test_api_keys_are_secret_and_can_be_dropped(tmp_path: Path) -> None:
    settings = ServingSettings(data_dir=tmp_path, api_keys="raw-secret-key-01:sdr")
    assert "raw-secret-key-01" not in repr(settings)
    assert "raw-secret-key-01" not in settings.model_dump_json()
    assert settings.api_keys is not None
    assert settings.api_keys.get_secret_value() == "raw-secret-key-01:sdr"
    dropped = settings.without_api_keys()
    assert dropped.api_keys is None
    assert dropped.data_dir == settings.data_dir
    assert settings.api_keys is not None  # the original is left alone


def test_cors_origins_and_trusted_proxies_are_lists(tmp_path: Path) -> None:
    settings = ServingSettings(
        data_dir=tmp_path,
        cors_origins="https://crm.example.com/, http://localhost:3000",
        trusted_proxies="127.0.0.1, 10.0.0.0/8",
    )
    assert settings.cors_origin_list == ["https://crm.example.com", "http://localhost:3000"]
    assert [str(n) for n in settings.trusted_proxy_networks] == ["127.0.0.1/32", "10.0.0.0/8"]
    assert ServingSettings(data_dir=tmp_path).cors_origin_list == []
    with pytest.raises(ValidationError, match="expected origins such as"):
        ServingSettings(data_dir=tmp_path, cors_origins="crm.example.com")
