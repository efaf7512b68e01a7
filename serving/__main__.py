"""``python -m serving``: the same command line as ``leadscore``."""

from serving.cli.main import app

app(prog_name="leadscore")
