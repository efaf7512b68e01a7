"""What every `leadscore` command shares: printing errors, loading a spec and its data,
showing a database URL without its password, reporting the steps of a long command (a
live line on a terminal, plain timestamped lines otherwise), tables that keep their full
text when piped, and MLflow's own chatter kept off the user's screen.

Imports stay inside the functions so that `leadscore --help` starts fast.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import typer

from features.i18n import N_
from serving.cli.words import in_language, say

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from features.dataset import LeadData
    from features.spec import DatasetSpec, KnownAt
    from training.settings import TrainingSettings


CANNOT_OPEN_STORE = N_("cannot open the lead store {store}: {reason}")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` on stderr as plain text (a text of another layer in the
    installation's language when its template is known) and return the exit to raise."""
    from rich.console import Console

    shown = in_language(message)
    Console(stderr=True, soft_wrap=True, markup=False, highlight=False).print(shown)
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
        choices = say(" or ").join(k.value for k in KnownAt)
        given = ", ".join(values)
        raise fail(
            say("--known-at/--stage takes {choices}, got: {given}", choices=choices, given=given),
            code,
        ) from None


def port_free_or_exit(host: str, port: int) -> None:
    """Exit (code 2) before any start-up work when ``host:port`` is taken, saying by whom
    when this machine can tell, and what to do."""
    import errno
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                shown = say(
                    "cannot listen on {host}:{port}: {reason}",
                    host=host,
                    port=port,
                    reason=error.strerror,
                )
                raise fail(shown, 2) from None
            holder = port_holder(port)
            by = say(" by {holder}", holder=holder) if holder else ""
            taken = say(
                "port {port} on {host} is already in use{by}; stop it or choose another "
                "port with --port",
                port=port,
                host=host,
                by=by,
            )
            raise fail(taken, 2) from None


def port_holder(port: int) -> str | None:
    """``pid N (command)`` of the local process listening on ``port`` (Linux /proc; None
    when it cannot be told)."""
    sockets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    for proc in Path("/proc").glob("[0-9]*") if sockets else ():
        if sockets & _open_links(proc):
            try:
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            except OSError:
                continue
            return f"pid {proc.name} ({command[:80]})"
    return None


def _open_links(proc: Path) -> set[str]:
    """What the open file descriptors of a process point at (those it lets us read)."""
    links: set[str] = set()
    try:
        descriptors = list((proc / "fd").iterdir())
    except OSError:
        return links
    for descriptor in descriptors:
        try:
            links.add(str(descriptor.readlink()))
        except OSError:
            continue
    return links


def _listening_inodes(port: int) -> set[str]:
    found: set[str] = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if (
                len(fields) > 9
                and fields[3] == "0A"
                and int(fields[1].rsplit(":", 1)[1], 16) == port
            ):
                found.add(fields[9])
    return found


def load_data(spec_name: str, data: Path | None, settings: TrainingSettings) -> LeadData:
    """Spec + data file, with errors printed for people (exits 1)."""
    from features.dataset import DatasetError, load_dataset

    spec = spec_or_exit(spec_name)
    if data is not None and not data.exists():
        raise fail(say("no such data file: {path} (check the path given with --data)", path=data))
    path = data or spec.data_path()
    if path is None and spec.name == "demo":
        path = settings.demo_data_path
    if path is None or not path.exists():
        hint = (
            say("run `leadscore demo-data` first")
            if spec.name == "demo"
            else say("pass --data PATH")
        )
        shown = path or say("none given")
        raise fail(
            say(
                "no data file for spec '{spec}' ({path}): {hint}",
                spec=spec.name,
                path=shown,
                hint=hint,
            )
        )
    try:
        return load_dataset(spec, path)
    except DatasetError as exc:
        raise fail(str(exc)) from None


# ------------------------------------------------------------------ long commands

#: Seconds without a new step after which plain output repeats the current one.
HEARTBEAT_S = 30.0

#: What MLflow writes on its own while a model is logged and registered: its INFO lines,
#: the registration echo, the CloudPickle warning of every pyfunc it saves, the notice
#: that a model logged without a signature (the outlook, on purpose) has none, download bars.
_CHATTER = re.compile(
    r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d INFO mlflow"
    r"|\d{4}/\d\d/\d\d \d\d:\d\d:\d\d WARNING mlflow\.pyfunc: .*CloudPickle"
    r"|\d{4}/\d\d/\d\d \d\d:\d\d:\d\d WARNING mlflow\.pyfunc: Failed to infer model "
    r"signature: Type hint .* input example is not provided"
    r"|Successfully registered model '|Registered model '.*' already exists\. Creating a new"
    r"|Created version '\d+' of model '|Downloading artifacts)"
)


def is_chatter(line: str) -> bool:
    """A line of MLflow's own chatter (kept from the user), not a real problem."""
    return bool(_CHATTER.match(line.lstrip("\r")))


class _ChatterFilter:
    """A text stream that forwards whole lines to ``target``, except MLflow's chatter."""

    def __init__(self, target: TextIO) -> None:
        self._target = target
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if not is_chatter(line):
                self._target.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending and not is_chatter(self._pending):
            self._target.write(self._pending)
        self._pending = ""
        self._target.flush()

    def isatty(self) -> bool:
        return False


@contextmanager
def without_mlflow_chatter() -> Iterator[None]:
    """Standard error without MLflow's chatter (its real warnings and errors still pass)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    stream = _ChatterFilter(sys.stderr)
    with redirect_stderr(stream):
        try:
            yield
        finally:
            stream.flush()


def is_terminal() -> bool:
    return sys.stdout.isatty()


def plain_line(started: float, message: str, now: float | None = None) -> str:
    """A step as a log line: the wall-clock time, the elapsed seconds, the step."""
    now = time.monotonic() if now is None else now
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    return f"{stamp} [{now - started:5.0f}s] {message}"


@contextmanager
def steps(title: str, heartbeat_s: float = HEARTBEAT_S) -> Iterator[Callable[[str], None]]:
    """A reporter for the steps of a long command: a live line with a spinner and the
    elapsed time on a terminal; otherwise a plain log line per step, and the current step
    repeated when nothing new was said for ``heartbeat_s`` seconds."""
    if is_terminal():
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns) as bar:
            task = bar.add_task(title, total=None)
            yield lambda message: bar.update(task, description=message)
        return
    started = time.monotonic()
    current, said = title, started
    lock, done = threading.Lock(), threading.Event()

    def tell(message: str, again: bool = False) -> None:
        nonlocal current, said
        with lock:
            current, said = message, time.monotonic()
            text = say("{step} (still running)", step=message) if again else message
            print(plain_line(started, text), flush=True)

    def beat() -> None:
        while not done.wait(min(heartbeat_s, 5.0)):
            if time.monotonic() - said >= heartbeat_s:
                tell(current, again=True)

    tell(title)
    beater = threading.Thread(target=beat, name="leadscore-heartbeat", daemon=True)
    beater.start()
    try:
        yield tell
    finally:
        done.set()
        beater.join()


def output_console() -> Console:
    """The console tables go to: the terminal's width on a terminal; piped, wide enough
    that no cell is cut."""
    from rich.console import Console

    return Console() if is_terminal() else Console(width=400, no_color=True)


def print_table(table: Table, console: Console | None = None) -> None:
    """Print ``table`` with every cell in full: piped, at its natural width; on a narrow
    terminal, cells wrap (never an ellipsis)."""
    for column in table.columns:
        column.overflow = "fold"
    (console or output_console()).print(table)
