"""Shared by the benchmark scripts: render a table and keep it in docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nEach section is written by the script named in it; rerun it to refresh.\n"


def markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    def cell(value: object) -> str:
        if isinstance(value, float):
            return "n/a" if pd.isna(value) else f"{value:.{digits}f}"
        return str(value)

    columns = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join(lines)


def machine() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores"


def write_section(key: str, title: str, body: str) -> None:
    """Replace (or append) the section ``key`` of docs/benchmarks.md."""
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"{start}\n## {title}\n\n_{stamp}, {machine()}_\n\n{body.strip()}\n{end}"
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else HEADER
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text, encoding="utf-8")


def load_average() -> str:
    """The machine's load average now, over 1 / 5 / 15 minutes."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def publish(key: str, title: str, body: str, *, write: bool = True) -> None:
    """Print ``body`` and, when ``write``, keep it as the section ``key`` of docs/benchmarks.md."""
    print(body)
    if write:
        write_section(key, title, body)


def before_tree(rev: str, folder: Path, package: str = "training") -> Path:
    """``package`` at commit ``rev``, unpacked into ``folder`` (git archive: read-only), to
    put first on a child process's PYTHONPATH so that it runs beside today's code."""
    archive = subprocess.run(
        ["git", "-C", str(DOCS.parents[1]), "archive", rev, package],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def short_rev(rev: str) -> str:
    """``rev`` as a short commit hash (a name such as HEAD moves; a table must not)."""
    return subprocess.run(
        ["git", "-C", str(DOCS.parents[1]), "rev-parse", "--short", rev],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
