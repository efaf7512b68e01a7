"""What every `leadscore` command shares: printing errors, loading a spec and its data,
showing a database URL without its password.

Imports stay inside the functions so that `leadscore --help` starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from features.dataset import LeadData
    from features.spec import DatasetSpec, KnownAt
    from training.settings import TrainingSettings


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` on stderr as plain text and return the exit to raise."""
    from rich.console import Console

    Console(stderr=True, soft_wrap=True, markup=False, highlight=False).print(message)
    return typer.Exit(code)


def safe_url(url: str) -> str:
    """A database URL as it may be printed: the password hidden."""
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def spec_or_exit(name: str, code: int = 1) -> DatasetSpec:
    """The spec named (a shipped name or a YAML path); its problems printed, then exit."""
    from features.spec import SpecError, load_spec

    try:
        return load_spec(name)
    except SpecError as exc:
        raise fail(str(exc), code) from None


def known_ats_or_exit(values: list[str], code: int = 1) -> list[KnownAt] | None:
    """`--known-at` values as moments (None: none given, meaning all); a wrong one exits."""
    from features.spec import KnownAt

    try:
        return [KnownAt(value) for value in values] or None
    except ValueError:
        choices = ", ".join(k.value for k in KnownAt)
        raise fail(f"--known-at takes {choices}, got: {', '.join(values)}", code) from None


def load_data(spec_name: str, data: Path | None, settings: TrainingSettings) -> LeadData:
    """Spec + data file, with errors printed for people (exits 1)."""
    from features.dataset import DatasetError, load_dataset

    spec = spec_or_exit(spec_name)
    path = data or spec.data_path()
    if path is None and spec.name == "demo":
        path = settings.demo_data_path
    if path is None or not path.exists():
        hint = "run `leadscore demo-data` first" if spec.name == "demo" else "pass --data PATH"
        raise fail(f"no data file for spec '{spec.name}' ({path or 'none given'}): {hint}")
    try:
        return load_dataset(spec, path)
    except DatasetError as exc:
        raise fail(str(exc)) from None
