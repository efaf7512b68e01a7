"""The helpers every command shares: moments from the command line, printable URLs."""

from __future__ import annotations

import pytest
import typer

from features.spec import KnownAt
from serving.cli.console import known_ats_or_exit, safe_url


def test_moments_from_the_command_line() -> None:
    assert known_ats_or_exit([]) is None
    assert known_ats_or_exit(["qualified", "arrival"]) == [KnownAt.QUALIFIED, KnownAt.ARRIVAL]


def test_a_wrong_moment_exits_naming_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as raised:
        known_ats_or_exit(["arrival", "closing"], code=2)
    assert raised.value.exit_code == 2
    assert "--known-at takes arrival, qualified, got: arrival, closing" in capsys.readouterr().err


def test_a_database_url_is_printed_without_its_password() -> None:
    shown = safe_url("postgresql+psycopg://leadscore:s3cret@db.local/leads")
    assert "s3cret" not in shown
    assert shown == "postgresql+psycopg://leadscore:***@db.local/leads"
