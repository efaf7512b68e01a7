"""What the CRM jobs share: the running services, the connectors, and the retry schedule.

:func:`backoff` is the wait before the next try of a failed CRM call: exponential
(``crm_backoff_seconds`` doubled per try, at most ``crm_backoff_max_seconds``) with "equal
jitter" (a random half of it), so CRMs recovering from an outage are not hit by every
retry at once; a CRM's own ``Retry-After`` (HTTP 429) is waited at least.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from serving.api.deps import Services
from serving.connectors.hub import Connectors

log = logging.getLogger(__name__)

#: Threads that work just-received webhook events at once (the periodic jobs do the rest):
#: several, so that one waiting for the CRM does not hold up the others.
KICK_WORKERS = 4
#: Most pieces of such work queued; each takes whatever is due, so more would add nothing.
KICK_BACKLOG = 2 * KICK_WORKERS
#: Events one piece of such work claims at a time (small: the threads share the backlog).
KICK_BATCH = 4


def backoff(
    attempt: int,
    base: float,
    cap: float,
    draw: Callable[[], float] = random.random,
    retry_after: float | None = None,
) -> float:
    """Seconds to wait after the ``attempt``-th failed try (1 = the first)."""
    full = min(cap, base * 2 ** max(0, attempt - 1))
    wait = full / 2 + full / 2 * draw()
    if retry_after is not None:
        wait = max(wait, min(retry_after, cap))
    return wait


@dataclass
class CrmJobs:
    """The intake and delivery jobs' context (one per running app), and the few threads
    that work a webhook's events right after its answer (:meth:`kick`), so that neither
    the answer nor the connection waits for the CRM."""

    services: Services
    connectors: Connectors
    draw: Callable[[], float] = field(default_factory=lambda: random.Random().random)
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _waiting: int = field(default=0, init=False)
    _closed: bool = field(default=False, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def kick(self, work: Callable[[], object]) -> bool:
        """Run ``work`` soon on one of the kick threads; False (nothing queued) once closed
        or when KICK_BACKLOG pieces already wait (they take whatever is due, these events
        too; nothing stored is lost either way: the periodic jobs take what is left)."""
        with self._lock:
            if self._closed or self._waiting >= KICK_BACKLOG:
                return False
            if self._pool is None:
                self._pool = ThreadPoolExecutor(KICK_WORKERS, thread_name_prefix="leadscore-crm")
            self._waiting += 1
            self._pool.submit(self._run, work)
        return True

    def _run(self, work: Callable[[], object]) -> None:
        try:
            work()
        except Exception:
            log.exception("CRM work right after a webhook failed; the periodic job retries it")
        finally:
            with self._lock:
                self._waiting -= 1

    def close(self) -> None:
        """Stop taking work; wait for the piece in progress (bounded by the CRM timeouts)."""
        with self._lock:
            self._closed, pool = True, self._pool
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.services.settings.crm_lease_seconds)

    def now(self) -> datetime:
        return self.services.clock()

    def retry_at(self, attempt: int, retry_after: float | None = None) -> datetime | None:
        """When to try again after the ``attempt``-th failure; None: it was the last try."""
        settings = self.services.settings
        if attempt >= settings.crm_max_attempts:
            return None
        wait = backoff(
            attempt,
            settings.crm_backoff_seconds,
            settings.crm_backoff_max_seconds,
            self.draw,
            retry_after,
        )
        return self.now() + timedelta(seconds=wait)
