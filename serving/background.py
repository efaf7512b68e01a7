"""What the service does by itself, in the background: the model check and the sweeper.

Both are a :class:`Periodic`: a job run on its own daemon thread every so many seconds,
retried sooner after a failure, logged once per outage (:class:`Outage`), never per
attempt. The lifespan (``serving/app.py``) starts them and stops them.

* **The model check** (``serving.modelset.check_models``) swaps in new champions. It makes
  the first load too, so start-up waits for the registry at most
  ``LEADSCORE_REGISTRY_WAIT_SECONDS``: a registry that does not answer leaves the service
  degraded (the fallback rule scores) and the check retries every
  ``LEADSCORE_REGISTRY_RETRY_SECONDS`` until the champions are in.
* **The CRM jobs** (:func:`crm_jobs`, with connectors configured): the intake of stored
  webhook events and the delivery of the outbox (``serving/connectors``), every
  ``LEADSCORE_CRM_POLL_SECONDS``.
* **The sweeper** (:class:`Sweep`) scores stored leads that have no arrival score (an
  arrival cut short by a crash or a database outage), at most ``LEADSCORE_SWEEP_BATCH``
  every ``LEADSCORE_SWEEP_SECONDS``, and truncates SQLite's write-ahead log every
  ``LEADSCORE_CHECKPOINT_SECONDS``. Start-up recovery is its first sweep.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from serving.api.deps import Services
from serving.api.workflows import rescore_unscored
from serving.connectors.delivery import run_delivery
from serving.connectors.intake import work_due
from serving.connectors.jobs import CrmJobs
from serving.modelset import ModelHolder, ModelLoader, check_models

log = logging.getLogger(__name__)

Clock = Callable[[], float]


@dataclass
class Outage:
    """Logs a job that keeps failing once when it starts failing and once when it works
    again, so a database or registry outage is two log lines, not one per attempt."""

    what: str
    clock: Clock = time.monotonic
    since: float | None = None
    failures: int = 0

    def failed(self, error: BaseException) -> None:
        self.failures += 1
        if self.since is None:
            self.since = self.clock()
            log.error(
                "%s failed: %s; retrying quietly until it works again",
                self.what,
                error,
                exc_info=error,
            )

    def succeeded(self) -> None:
        if self.since is None:
            return
        log.warning(
            "%s works again (%d failed attempts over %.0f s)",
            self.what,
            self.failures,
            self.clock() - self.since,
        )
        self.since, self.failures = None, 0

    @property
    def failing(self) -> bool:
        return self.since is not None


class Periodic:
    """``job`` on a daemon thread, every ``every`` seconds; ``retry_every`` seconds after a
    failure. With ``every <= 0`` it runs only until it first succeeds. ``stop`` waits at
    most ``stop_wait`` seconds for a run in progress, then leaves the thread behind."""

    def __init__(
        self,
        what: str,
        job: Callable[[], object],
        every: float,
        retry_every: float | None = None,
        stop_wait: float = 10.0,
    ) -> None:
        self.what = what
        self.job = job
        self.every = every
        self.retry_every = every if retry_every is None else retry_every
        self.stop_wait = stop_wait
        self.outage = Outage(what)
        self.first_done = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> bool:
        """Run the job now, in this thread; True when it succeeded."""
        try:
            self.job()
        except Exception as error:
            self.outage.failed(error)
            return False
        self.outage.succeeded()
        return True

    def start(self, first_after: float = 0.0) -> None:
        """Start the thread; its first run ``first_after`` seconds from now."""
        if self._thread is not None:
            return
        name = "leadscore-" + self.what.replace(" ", "-")
        self._thread = threading.Thread(target=self._run, args=(first_after,), name=name)
        self._thread.daemon = True
        self._thread.start()

    def _run(self, first_after: float) -> None:
        if first_after > 0 and self._stop.wait(first_after):
            return
        ok = self.run_once()
        self.first_done.set()
        while True:
            delay = self.every if ok else self.retry_every
            if delay <= 0 or self._stop.wait(delay):
                return
            ok = self.run_once()

    def stop(self) -> bool:
        """Stop after the run in progress (waiting at most ``stop_wait``); True when stopped."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(self.stop_wait)
        return not thread.is_alive()


@dataclass
class Sweep:
    """One sweep: score up to ``batch`` stored leads without an arrival score; checkpoint
    the store when ``checkpoint_every`` seconds have passed since the last one."""

    services: Services
    batch: int
    checkpoint_every: float
    clock: Clock = time.monotonic
    scored: int = 0
    checkpoints: int = 0
    _last_checkpoint: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._last_checkpoint = self.clock()

    def __call__(self) -> int:
        store, holder = self.services.store, self.services.models
        if store is None or holder is None:
            return 0
        done = rescore_unscored(self.services, store, holder.current, self.batch)
        if done:
            log.warning("scored %d stored leads that had no arrival score", done)
            self.scored += done
        if (
            self.checkpoint_every > 0
            and self.clock() - self._last_checkpoint >= self.checkpoint_every
        ):
            store.checkpoint()
            self._last_checkpoint = self.clock()
            self.checkpoints += 1
        return done


def crm_jobs(jobs: CrmJobs) -> list[Periodic]:
    """The CRM intake and the outbox delivery (serving/connectors) as background jobs, every
    ``crm_poll_seconds``; none when no connector is configured."""
    every = jobs.services.settings.crm_poll_seconds
    if not jobs.connectors.by_name or every <= 0:
        return []
    return [
        Periodic("crm intake", lambda: work_due(jobs), every),
        Periodic("crm delivery", lambda: run_delivery(jobs), every),
    ]


def model_check(holder: ModelHolder, loader: ModelLoader, every: float, retry: float) -> Periodic:
    """The periodic champion check (also the first load) as a background job. Shutdown
    does not wait for a check stuck on a registry that does not answer."""
    return Periodic("model check", lambda: check_models(holder, loader), every, retry, 1.0)


def sweeper(services: Services) -> Periodic:
    """The sweeper of the settings (``sweep_seconds``, ``sweep_batch``, ``checkpoint_seconds``)."""
    settings = services.settings
    sweep = Sweep(services, settings.sweep_batch, settings.checkpoint_seconds)
    return Periodic("lead sweep", sweep, settings.sweep_seconds)
