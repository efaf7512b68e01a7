"""The `leadscore` command: the root that composes every verb group's sub-app.

Each module of this package owns one group of verbs and its Typer app: data (demo data,
checks), models (train, evaluate, list, promote, roll back), retrain (monthly retraining,
drift), report (marketing's channel review), service (serve, up, simulate, version) and
backup (backup and restore of the SQLite lead store).
"""

from __future__ import annotations

import typer

from serving.cli.backup import app as backup_app
from serving.cli.data import app as data_app
from serving.cli.imports import app as imports_app
from serving.cli.models import app as models_app
from serving.cli.outbox import app as outbox_app
from serving.cli.report import app as report_app
from serving.cli.retrain import app as retrain_app
from serving.cli.score import app as score_app
from serving.cli.service import app as service_app

app = typer.Typer(
    name="leadscore",
    help="Lead scoring for B2B sales teams: demo data, training, the scoring service.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(service_app)
app.add_typer(data_app)
app.add_typer(models_app)
app.add_typer(retrain_app)
app.add_typer(report_app, name="report")
app.add_typer(backup_app)
app.add_typer(score_app)
app.add_typer(outbox_app, name="outbox")
app.add_typer(imports_app)
