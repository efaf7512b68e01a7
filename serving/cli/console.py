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
        choices = " or ".join(k.value for k in KnownAt)
        given = ", ".join(values)
        raise fail(f"--known-at/--stage takes {choices}, got: {given}", code) from None


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
                raise fail(f"cannot listen on {host}:{port}: {error.strerror}", 2) from None
            holder = port_holder(port)
            by = f" by {holder}" if holder else ""
            raise fail(
                f"port {port} on {host} is already in use{by}; stop it or choose another "
                "port with --port",
                2,
            ) from None


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
        raise fail(f"no such data file: {data} (check the path given with --data)")
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
