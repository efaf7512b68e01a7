"""Structure figures of the code base, today and at an earlier commit, side by side.

    python benchmarks/structure.py [--before REV]

Per checkout: pairs of duplicated places (the `duplicates` command, when it is on PATH),
functions over 60 lines and files over 600 lines in the packages, and the path of one
`POST /leads` (request_trace.py): the project modules it runs, the package boundaries its
calls cross, and how many calls go from a lower layer up to a higher one. The earlier
commit is checked out in a temporary git worktree. Writes the table to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.report import publish  # noqa: E402

LAYERS = ("features", "training", "serving")
LONG_FUNCTION = 60
LONG_FILE = 600


@dataclass(frozen=True)
class Trace:
    """The path of one ``POST /leads``: the modules it runs, the package boundaries its
    calls cross, the calls from a lower layer up, the packages entered in call order."""

    modules: int
    edges: list[str]
    upward_calls: int
    entered: list[str]


@dataclass(frozen=True)
class Figures:
    label: str
    duplicates: str
    long_functions: list[str]
    long_files: list[str]
    trace: Trace


def _sources(tree: Path) -> list[Path]:
    return sorted(p for layer in LAYERS for p in (tree / layer).rglob("*.py"))


def _long_units(tree: Path) -> tuple[list[str], list[str]]:
    functions: list[str] = []
    files: list[str] = []
    for path in _sources(tree):
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(tree))
        if len(text.splitlines()) > LONG_FILE:
            files.append(f"{name} ({len(text.splitlines())})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > LONG_FUNCTION:
                    functions.append(f"{name}:{node.name} ({length})")
    return functions, files


def _duplicates(tree: Path) -> str:
    command = shutil.which("duplicates")
    if command is None:
        return "n/a (no `duplicates` command)"
    done = subprocess.run(
        [command, "--repo", str(tree), "--seconds", "120"],
        capture_output=True,
        text=True,
        check=False,
    )
    first = done.stdout.strip().splitlines()[0] if done.stdout.strip() else ""
    return first.split(" ")[0] if first and first[0].isdigit() else first or "n/a"


def _traced_calls(tree: Path) -> list[tuple[str, str]]:
    """The (caller, callee) module pairs of one ``POST /leads`` (request_trace.py)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    env.update(PYTHONPATH=str(tree), OMP_NUM_THREADS="1")
    script = (ROOT / "benchmarks" / "request_trace.py").read_text(encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"request trace failed in {tree}:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return [(str(a), str(b)) for a, b in report["calls"]]


def _layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def _trace(calls: list[tuple[str, str]]) -> Trace:
    modules = {m for call in calls for m in call}
    crossing = sorted(
        {f"{a.split('.')[0]} -> {b.split('.')[0]}" for a, b in calls if _layer(a) != _layer(b)}
    )
    path = _collapsed([b.split(".")[0] for a, b in calls if _layer(a) != _layer(b)])
    upward = sum(1 for a, b in calls if _layer(b) > _layer(a))
    return Trace(len(modules), crossing, upward, path)


def measure(tree: Path, label: str) -> Figures:
    functions, files = _long_units(tree)
    trace = _trace(_traced_calls(tree))
    return Figures(label, _duplicates(tree), functions, files, trace)


def _collapsed(packages: list[str]) -> list[str]:
    """Consecutive repeats folded: the packages entered, in the order calls cross into them."""
    return [p for i, p in enumerate(packages) if i == 0 or packages[i - 1] != p]


def _table(figures: list[Figures]) -> str:
    rows = [
        ("duplicated places (pairs)", [f.duplicates for f in figures]),
        (f"functions over {LONG_FUNCTION} lines", [str(len(f.long_functions)) for f in figures]),
        (f"files over {LONG_FILE} lines", [str(len(f.long_files)) for f in figures]),
        ("modules one POST /leads runs", [str(f.trace.modules) for f in figures]),
        ("package boundaries its calls cross", [", ".join(f.trace.edges) for f in figures]),
        (
            "calls from a lower layer up to a higher one",
            [str(f.trace.upward_calls) for f in figures],
        ),
        (
            "packages entered across a boundary, in call order",
            [f"{len(f.trace.entered)}: " + " > ".join(f.trace.entered) for f in figures],
        ),
    ]
    lines = ["| figure | " + " | ".join(f.label for f in figures) + " |"]
    lines.append("|---|" + "---|" * len(figures))
    lines += [f"| {name} | " + " | ".join(values) + " |" for name, values in rows]
    for f in figures:
        lines.append("")
        lines.append(
            f"{f.label}: long functions: {', '.join(f.long_functions) or 'none'}; "
            f"long files: {', '.join(f.long_files) or 'none'}"
        )
    return "\n".join(lines)


def _worktree(rev: str, folder: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), rev],
        check=True,
        capture_output=True,
    )
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", help="an earlier commit to measure beside today's tree")
    args = parser.parse_args()
    figures: list[Figures] = []
    if args.before:
        with tempfile.TemporaryDirectory() as tmp:
            tree = _worktree(args.before, Path(tmp) / "before")
            try:
                print(f"measuring {args.before} ...", flush=True)
                figures.append(measure(tree, f"at {args.before[:10]}"))
            finally:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                    check=False,
                )
    print("measuring the working tree ...", flush=True)
    figures.append(measure(ROOT, "now"))
    body = _table(figures)
    command = "python benchmarks/structure.py" + (f" --before {args.before}" if args.before else "")
    publish("structure", f"Code structure (`{command}`)", body)


if __name__ == "__main__":
    main()
