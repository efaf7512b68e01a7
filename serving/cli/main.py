"""The `leadscore` command: every sub-command of features, training and serving in one place."""

from __future__ import annotations

import typer

from serving.cli.console import safe_url
from serving.cli.data import app as data_app
from serving.cli.models import app as training_app
from serving.cli.report import app as report_app
from serving.cli.retrain import app as retraining_app
from serving.cli.service import app as run_app

app = typer.Typer(
    name="leadscore",
    help="Lead scoring for B2B sales teams: demo data, training, the scoring service.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(data_app)
app.add_typer(training_app)
app.add_typer(run_app)
app.add_typer(retraining_app)
app.add_typer(report_app, name="report")


@app.command()
def version() -> None:
    """Print the installed leadscore version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("leadscore"))


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    reload_models_every: float | None = typer.Option(
        None,
        "--reload-models-every",
        min=0,
        help="Seconds between checks for a new champion model "
        "(default: LEADSCORE_MODEL_CHECK_SECONDS, 60; 0 disables).",
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Run the scoring service (FastAPI on uvicorn) with the LEADSCORE_* settings."""
    import os

    import uvicorn

    from serving.api.auth import KeyConfigError, KeyRing
    from serving.settings import ServingSettings

    if reload_models_every is not None:
        os.environ["LEADSCORE_MODEL_CHECK_SECONDS"] = str(reload_models_every)
    settings = ServingSettings()
    try:
        KeyRing.configured(settings.api_keys, settings.api_keys_file, settings.demo)
    except KeyConfigError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(2) from error
    typer.echo(f"leadscore: lead store {safe_url(settings.store_url)}, listening on {host}:{port}")
    uvicorn.run("serving.app:create_app", factory=True, host=host, port=port, log_level=log_level)
