"""CLI commands about data: demo data and dataset specs."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)
