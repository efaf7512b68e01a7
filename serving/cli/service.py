"""Running the service: `leadscore serve`, `leadscore up` (what `make run` runs: demo
data, demo models, the API), `leadscore simulate` (demo traffic) and `leadscore version`."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import time
from typing import TYPE_CHECKING, Any

import typer

from features.demo.config import DEFAULTS as DEMO_DEFAULTS
from serving.api.auth import DEMO_KEYS, Role
from serving.cli.console import port_free_or_exit, safe_url, without_mlflow_chatter
from serving.cli.words import in_language, say

if TYPE_CHECKING:
    from features.lead import Lead
    from serving.settings import ServingSettings

app = typer.Typer(no_args_is_help=True)

#: The demo SDR key: what `simulate` posts with unless told otherwise.
DEMO_SDR_KEY = next(key for key, role, _name in DEMO_KEYS if role is Role.SDR)


def _missing_champions(settings: ServingSettings) -> list[str]:
    from features.spec import load_spec
    from training.registry import champion_version, model_name

    spec = load_spec(settings.dataset)
    targets = list(spec.targets)
    names = [model_name(s.value, t, spec.name) for s in spec.known_ats for t in targets]
    return [n for n in names if champion_version(settings.tracking_uri, n) is None]


def _ensure_demo_data(settings: ServingSettings, rows: int) -> None:
    from rich.console import Console

    from features.demo import write_demo_data

    path = settings.demo_data_path
    if path.exists():
        typer.echo(say("demo data: {path} (already there)", path=path))
        return
    with Console().status(
        say("generating {count} demo leads into {path} ...", count=rows, path=path)
    ):
        summary = write_demo_data(path, n=rows, seed=DEMO_DEFAULTS.seed)
    typer.echo(say("demo data: {path} ({count} leads)", path=path, count=summary.rows))


#: Measured seconds of the first run at 60k demo leads on 2 threads of a quiet machine
#: (docs/benchmarks.md, "First run"): generating the demo data, training one demo model.
DEMO_DATA_S_60K = 15.0
DEMO_MODEL_S_60K = 27.0


def first_run_estimate(rows: int, models: int, threads: int, with_data: bool) -> float:
    """Seconds the first `up` should take before it serves (pure): data generation and
    training scale with the rows; training with the threads, sub-linearly."""
    scale = rows / 60_000
    data = DEMO_DATA_S_60K * scale if with_data else 0.0
    speed = (max(1, threads) / 2) ** 0.7
    return data + models * DEMO_MODEL_S_60K * scale / speed


def _say_estimate(settings: ServingSettings, rows: int, threads: int, missing: list[str]) -> None:
    """Before any work: what the first run will do and about how long it takes."""
    with_data = not settings.demo_data_path.exists()
    if not missing and not with_data:
        return
    seconds = first_run_estimate(rows, len(missing), threads, with_data)
    models = say(
        "{count} demo model(s) on {threads} thread(s)", count=len(missing), threads=threads
    )
    work = ([say("demo data")] if with_data else []) + ([models] if missing else [])
    first = say(
        "first run: {work}, about {minutes} minute(s) on a quiet machine (longer when other "
        "work shares its cores); later starts take seconds",
        work=say(" and ").join(work),
        minutes=max(1, round(seconds / 60)),
    )
    typer.echo(first)


def _ensure_models(settings: ServingSettings, missing: list[str]) -> None:
    """Train the demo models when a champion is missing: stored parameters, no search, the
    evaluation fit kept as the final model (no second fit; `leadscore train` refits)."""
    from features.dataset import load_dataset
    from features.spec import load_spec
    from serving.cli.console import steps
    from training.runner import file_digest, plan_models, train_and_register
    from training.trainer import TrainOptions

    if not missing:
        typer.echo(say("models: every demo model has a champion in the registry"))
        return
    data = load_dataset(load_spec("demo"), settings.demo_data_path)
    pairs = plan_models(data.spec, None, None)
    options = TrainOptions(trials=0, refit=False, outlook_rows=settings.train_outlook_rows)
    training = say("training {count} demo models", count=len(pairs))
    with without_mlflow_chatter(), steps(training) as step:
        trained = train_and_register(
            data,
            file_digest(settings.demo_data_path),
            settings,
            pairs,
            options,
            progress=step,
            accept_baseline=True,  # the demo serves what it trained; a flag is printed
        )
    for item in trained:
        version = item.version.version if item.version else "-"
        auc = item.result.headline.roc_auc
        flag = say(" (flagged: a baseline won, see its model card)") if item.result.flagged else ""
        shown = dict(name=item.name, version=version, auc=f"{auc:.3f}", flag=flag)
        typer.echo(say("models: {name} v{version}, out-of-time ROC-AUC {auc}{flag}", **shown))


@app.command()
def up(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    demo_rows: int = typer.Option(
        DEMO_DEFAULTS.n, "--demo-rows", min=1000, help="Demo leads to create."
    ),
    threads: int | None = typer.Option(
        None,
        "--threads",
        min=1,
        help="LightGBM threads for the demo training; default: the cores this process may "
        "use (affinity, cgroup quota, OMP_NUM_THREADS).",
    ),
) -> None:
    """Everything on embedded defaults: demo data, train if no champion, serve the API."""
    from serving.settings import ServingSettings
    from training.threads import prepare_process

    chosen_threads = prepare_process(threads)  # before LightGBM loads
    port_free_or_exit(host, port)
    settings = ServingSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with without_mlflow_chatter():  # a fresh store: MLflow announces its tables
        missing = _missing_champions(settings)
    _say_estimate(settings, demo_rows, chosen_threads, missing)
    _ensure_demo_data(settings, demo_rows)
    _ensure_models(settings, missing)
    keys = say("your configured API keys")
    if not (settings.api_keys or settings.api_keys_file):
        os.environ["LEADSCORE_DEMO"] = "true"
        typer.echo(say("API keys (demo mode, never use in production):"))
        for key, role, _name in DEMO_KEYS:
            typer.echo(f"  {role.value:<10} X-API-Key: {key}")
        keys = say("one of the keys above")
    base = f"http://{host}:{port}"
    typer.echo(say("pages: sign in at {base}/signin with {keys}", base=base, keys=keys))
    typer.echo(say("API on {base} (docs: {base}/docs); MLflow: `leadscore mlflow-ui`", base=base))
    typer.echo(say("demo traffic: `.venv/bin/leadscore simulate --rate 2 --url {base}`", base=base))
    _run_api(host, port, "info")


@app.command()
def simulate(
    rate: float = typer.Option(1.0, "--rate", min=0.01, max=500, help="Leads per second."),
    count: int = typer.Option(100, "--count", min=1, help="How many leads to post."),
    url: str = typer.Option("http://127.0.0.1:8000", "--url", help="The running service."),
    api_key: str = typer.Option(DEMO_SDR_KEY, "--api-key", help="An sdr or admin key."),
    seed: int | None = typer.Option(
        None, "--seed", help="Seed for the generated leads (default: a fresh one, printed)."
    ),
) -> None:
    """Post realistic demo leads to a running service, so the SDR queue fills up."""
    import uuid

    import httpx
    from rich.console import Console
    from rich.markup import escape

    from features.demo import frame_row_to_lead, generate_leads

    if seed is None:
        seed = secrets.randbelow(2**31)
    typer.echo(say("seed {seed} (post the same leads again with --seed {seed})", seed=seed))
    frame, _truth = generate_leads(n=max(count, 1000), seed=seed)
    rows = frame.sample(n=count, random_state=seed).to_dict(orient="records")
    console = Console()
    run = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=url, headers={"X-API-Key": api_key}, timeout=10) as client:
        for i, row in enumerate(rows, start=1):
            started = time.monotonic()
            lead = _as_new(frame_row_to_lead(row), f"sim-{run}-{i}")
            try:
                response = client.post(
                    "/leads",
                    content=lead.model_dump_json(),
                    headers={"Content-Type": "application/json"},
                )
            except httpx.HTTPError as exc:
                unreachable = say(
                    "cannot reach {url}: {reason}; is `leadscore up` running?", url=url, reason=exc
                )
                console.print(f"[red]{escape(unreachable)}[/red]")
                raise typer.Exit(1) from None
            if response.status_code >= 400:
                console.print(f"[red]{response.status_code}: {escape(response.text)}[/red]")
                raise typer.Exit(1)
            console.print(f"{i:>4}/{count} {_answer_line(lead.source.channel, response.json())}")
            time.sleep(max(0.0, 1.0 / rate - (time.monotonic() - started)))


def _as_new(lead: Lead, external_id: str) -> Lead:
    """A demo lead as it arrives now: no answers, no history, no deal yet."""
    from datetime import UTC, datetime

    update: dict[str, Any] = {
        "bant": None,
        "questionnaire": None,
        "status_history": [],
        "deal_value": None,
    }
    return lead.model_copy(
        update={**update, "external_id": external_id, "arrived_at": datetime.now(UTC)}
    )


def _answer_line(channel: str, body: dict[str, Any]) -> str:
    model = body.get("model") or {}
    probability = body.get("probability")
    tier, queue = say("tier"), say("queue")
    return (
        f"{channel:<16} {tier} {body.get('tier') or '?'} "
        f"p={probability if probability is not None else float('nan'):.3f} "
        f"{model.get('name', '')} v{model.get('version', '?')} "
        f"{queue} #{body.get('queue_position')}"
    )


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
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        max=64,
        help="Worker processes, each with its own models and connection pool (about one "
        "per core). On SQLite they share the one writer; PostgreSQL takes more load.",
    ),
) -> None:
    """Run the scoring service (FastAPI on uvicorn) with the LEADSCORE_* settings."""
    from serving.api.auth import KeyConfigError, KeyRing
    from serving.api.ratelimit import RateLimitConfigError, RateLimits
    from serving.settings import ServingSettings

    port_free_or_exit(host, port)
    if reload_models_every is not None:
        os.environ["LEADSCORE_MODEL_CHECK_SECONDS"] = str(reload_models_every)
    settings = ServingSettings()
    try:
        KeyRing.configured(settings.api_keys, settings.api_keys_file, settings.demo)
        RateLimits.from_settings(settings)
    except (KeyConfigError, RateLimitConfigError) as error:
        typer.echo(say("Error: {reason}", reason=in_language(str(error))), err=True)
        raise typer.Exit(2) from error
    processes = say(", {count} worker processes", count=workers) if workers > 1 else ""
    store = safe_url(settings.store_url)
    listening = dict(store=store, host=host, port=port, processes=processes)
    typer.echo(
        say("leadscore: lead store {store}, listening on {host}:{port}{processes}", **listening)
    )
    _run_api(host, port, log_level, workers)


def _run_api(host: str, port: int, log_level: str, workers: int = 1) -> None:
    """The app factory on uvicorn (the settings are read by the factory, in each worker
    process). No ``Server`` header, and uvicorn's own proxy-header rewriting off:
    LEADSCORE_TRUSTED_PROXIES alone decides when X-Forwarded-For names the client.

    Several workers share one listening socket bound here, as ``uvicorn.run`` does, but
    through :func:`tcp_listener`, so that every accepted connection gets TCP_NODELAY."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    options: dict[str, Any] = dict(
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        server_header=False,
        proxy_headers=False,
    )
    if workers == 1:
        uvicorn.run("serving.app:create_app", **options)
        return
    config = uvicorn.Config("serving.app:create_app", workers=workers, **options)
    listener = tcp_listener(config.bind_socket())
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C: the workers stop, so do we
        Multiprocess(config, sockets=[listener]).run()


def tcp_listener(sock: socket.socket) -> socket.socket:
    """The same listening socket, its protocol named (IPPROTO_TCP) when it was left 0.

    uvicorn binds the socket its workers share with ``socket.socket(family)``, protocol 0;
    the connections it accepts inherit that 0, and asyncio sets TCP_NODELAY only on
    sockets whose protocol is IPPROTO_TCP. Without it every keep-alive response waits for
    the client's delayed ACK (about 40 ms on Linux): two workers answered at half the rate
    of one (uvicorn issue #3149, open for 0.54). Re-wrapping the descriptor with the
    protocol named fixes it, and the workers receive the protocol with the socket."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.proto != 0:
        return sock
    named = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    named.set_inheritable(True)
    return named
