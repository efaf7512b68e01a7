"""The helpers every command shares: moments from the command line, printable URLs."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from features.spec import KnownAt
from serving.cli.console import known_ats_or_exit, port_holder, safe_url
from serving.cli.main import app as cli


def test_moments_from_the_command_line() -> None:
    assert known_ats_or_exit([]) is None
    assert known_ats_or_exit(["qualified", "arrival"]) == [KnownAt.QUALIFIED, KnownAt.ARRIVAL]


def test_a_wrong_moment_exits_naming_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as raised:
        known_ats_or_exit(["arrival", "closing"], code=2)
    assert raised.value.exit_code == 2
    assert (
        "--known-at/--stage takes arrival or qualified, got: arrival, closing"
        in capsys.readouterr().err
    )


def test_a_database_url_is_printed_without_its_password() -> None:
    shown = safe_url("postgresql+psycopg://leadscore:s3cret@db.local/leads")
    assert "s3cret" not in shown
    assert shown == "postgresql+psycopg://leadscore:***@db.local/leads"


def test_a_missing_data_file_is_named_as_given(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    result = CliRunner().invoke(cli, ["train", "--data", str(missing)])
    assert result.exit_code == 1
    assert f"no such data file: {missing}" in result.output
    assert "demo-data" not in result.output


@pytest.mark.parametrize("command", ["serve", "up"])
def test_a_port_in_use_is_said_before_start_up(command: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, [command, "--port", str(port)])
    assert result.exit_code == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.output
    assert "--port" in result.output


def test_the_holder_of_a_port_is_named() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        holder = port_holder(taken.getsockname()[1])
    assert holder is not None
    assert holder.startswith(f"pid {os.getpid()} ")


def test_simulate_draws_a_fresh_seed_and_says_it() -> None:
    # nothing listens on port 9 of the loopback: the command stops after saying its seed
    args = ["simulate", "--count", "1", "--url", "http://127.0.0.1:9"]
    seeds = set()
    for _ in range(2):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1
        first = result.output.splitlines()[0]
        assert first.startswith("seed ")
        assert "--seed" in first
        seeds.add(first.split()[1])
    assert len(seeds) == 2
