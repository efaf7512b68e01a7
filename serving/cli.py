"""The `leadscore` command: every sub-command of features, training and serving in one place."""

from __future__ import annotations

import typer

from features.cli import app as data_app
from training.cli import app as training_app

app = typer.Typer(
    name="leadscore",
    help="Lead scoring for B2B sales teams: demo data, training, the scoring service.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(data_app)
app.add_typer(training_app)


@app.command()
def version() -> None:
    """Print the installed leadscore version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("leadscore"))
