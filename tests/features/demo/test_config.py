"""The demo defaults: one config that the generator and the command line both read."""

from __future__ import annotations

import inspect
import subprocess
import sys

from typer.testing import CliRunner

from features.demo import DEFAULTS, STEPS, generate_leads, write_demo_data
from serving.cli.main import app


def test_cli_defaults_are_the_generators() -> None:
    result = CliRunner().invoke(app, ["demo-data", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    help_text = " ".join(result.output.split())
    assert f"[default: {DEFAULTS.n}]" in help_text
    assert f"[default: {DEFAULTS.seed}]" in help_text
    generate = inspect.signature(generate_leads).parameters
    assert generate["months"].default == DEFAULTS.months
    write = inspect.signature(write_demo_data).parameters
    assert (write["n"].default, write["seed"].default) == (DEFAULTS.n, DEFAULTS.seed)


def test_the_defaults_are_the_documented_ones() -> None:
    assert (DEFAULTS.n, DEFAULTS.seed, DEFAULTS.months) == (60_000, 42, 20)
    assert DEFAULTS.end.isoformat() == "2026-10-31"
    assert f"({DEFAULTS.arrival_redraws} redraws)" in STEPS[2]


def test_the_command_line_reads_the_defaults_without_the_generator() -> None:
    probe = (
        "import sys, serving.cli.data; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'pandas', 'yaml')"
        " or m.startswith('features.demo.') and m != 'features.demo.config'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
