"""Rate limits: failed authentication per client address, lead intake per API key.

* **Failed authentication**: every unknown API key counts against the client's address
  (a moving window, LEADSCORE_AUTH_FAILURE_LIMIT, default 20 a minute). Once the address
  has used them up, every key-protected request from it gets 429 with ``Retry-After``,
  good keys included (else the answer would tell a guessed key from a wrong one), until
  the oldest failure leaves the window. Successful requests only read the count.
* **Lead intake**: ``POST /leads`` per API key (a sliding window counter,
  LEADSCORE_INTAKE_LIMIT, default 12000 a minute: one CRM integration posting 50 leads/s
  is far below it).

Counts live in the storage named by LEADSCORE_RATE_LIMIT_STORAGE (``memory://``: each
process counts on its own; ``redis://`` shares them). A storage that fails lets the
request through and logs it: a rate limit never turns into a 5xx.

The client's address is the socket peer; a proxy's ``X-Forwarded-For`` is believed only
when the peer is one of LEADSCORE_TRUSTED_PROXIES (:func:`client_address`).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.errors import ConfigurationError, StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import (
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)

from serving.settings import ServingSettings

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
OFF = "off"


class RateLimitConfigError(ValueError):
    """Rate-limit settings that cannot be used; says which setting and why."""


def limit_item(text: str) -> RateLimitItem | None:
    """A limit in the notation of the ``limits`` library ('20/minute'); None for 'off'."""
    return None if text == OFF else parse(text)


def seconds_until(reset_time: float, now: float) -> int:
    """Whole seconds to wait (at least 1) until ``reset_time`` (epoch seconds)."""
    return max(1, math.ceil(reset_time - now))


@dataclass(frozen=True)
class Limit:
    """One limit: the item (amount per window) and the strategy that counts it."""

    item: RateLimitItem
    limiter: RateLimiter

    def wait(self, identity: str) -> int | None:
        """Seconds until ``identity`` may go on, or None when it is within the limit."""
        if self.limiter.test(self.item, identity):
            return None
        stats = self.limiter.get_window_stats(self.item, identity)
        return seconds_until(stats.reset_time, time.time())

    def hit(self, identity: str) -> int | None:
        """Count one for ``identity``; seconds to wait when that went over the limit."""
        if self.limiter.hit(self.item, identity):
            return None
        stats = self.limiter.get_window_stats(self.item, identity)
        return seconds_until(stats.reset_time, time.time())


class RateLimits:
    """The service's limits on one storage (``Services.rate_limits``)."""

    def __init__(
        self, storage: Storage, auth_failures: RateLimitItem | None, intake: RateLimitItem | None
    ) -> None:
        self.storage = storage
        self._auth = None if auth_failures is None else Limit(auth_failures, _moving(storage))
        self._intake = None if intake is None else Limit(intake, _sliding(storage))

    @classmethod
    def from_settings(cls, settings: ServingSettings) -> RateLimits:
        """The limits of the settings; :class:`RateLimitConfigError` if the storage is unusable."""
        uri = settings.rate_limit_storage
        try:
            storage = storage_from_string(uri, wrap_exceptions=True)
        except ConfigurationError as error:
            raise RateLimitConfigError(f"LEADSCORE_RATE_LIMIT_STORAGE {uri}: {error}") from None
        if not isinstance(storage, Storage):
            raise RateLimitConfigError(
                f"LEADSCORE_RATE_LIMIT_STORAGE {uri}: expected a synchronous storage "
                "such as memory:// or redis://host:6379"
            )
        return cls(
            storage, limit_item(settings.auth_failure_limit), limit_item(settings.intake_limit)
        )

    def auth_blocked(self, address: str) -> int | None:
        """Seconds the address must wait after too many failed keys, or None."""
        return _safely(self._auth, Limit.wait, address)

    def auth_failed(self, address: str) -> None:
        """One more unknown key presented from ``address``."""
        _safely(self._auth, Limit.hit, address)

    def intake(self, caller: str) -> int | None:
        """Count one lead posted by ``caller``; seconds to wait when over the limit."""
        return _safely(self._intake, Limit.hit, caller)


def _moving(storage: Storage) -> RateLimiter:
    return MovingWindowRateLimiter(storage)


def _sliding(storage: Storage) -> RateLimiter:
    return SlidingWindowCounterRateLimiter(storage)


def _safely(
    limit: Limit | None, count: Callable[[Limit, str], int | None], identity: str
) -> int | None:
    if limit is None:
        return None
    try:
        return count(limit, identity)
    except StorageError as error:
        log.warning("rate-limit storage failed (%s); the request goes through", error)
        return None


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client's address: the socket ``peer``, unless the peer is a trusted proxy; then
    the right-most address of ``X-Forwarded-For`` that is not itself a trusted proxy (the
    left-most entries are whatever the client claimed and are never believed alone)."""
    address = peer or "unknown"
    if not forwarded_for or not _trusted(address, trusted):
        return address
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_ip(hop):
            return address
        address = hop
        if not _trusted(hop, trusted):
            return hop
    return address


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
