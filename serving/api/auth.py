"""API keys, roles and who may do what (the matrix is documented in docs/serving.md).

Keys are configured as ``key:role`` or ``key:role:name`` entries (LEADSCORE_API_KEYS,
comma-separated, or LEADSCORE_API_KEYS_FILE, one per line). Only their SHA-256 digests
are kept in memory and a presented key is compared with every digest in constant time;
the app drops the raw value from its settings once the ring is built (``Services``).
The key's name identifies the caller (e.g. the SDR who claims a lead).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import SecretStr

log = logging.getLogger(__name__)

MIN_KEY_LENGTH = 12


class Role(StrEnum):
    SDR = "sdr"
    SALES = "sales"
    MARKETING = "marketing"
    ADMIN = "admin"


class Permission(StrEnum):
    """Everything an API caller can do, each allowed to some roles."""

    READ_LEADS = "read leads"
    CREATE_LEADS = "create leads"
    SCORE = "score leads"
    READ_QUEUE = "read the queue"
    CLAIM = "claim and release leads"
    QUALIFY = "record qualification answers"
    CHANGE_STATUS = "change a lead's status"
    READ_METRICS = "read metrics"
    READ_REPORTS = "read marketing reports"
    ADMIN = "administer the service"


_ALL = frozenset(Role)
PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.READ_LEADS: _ALL,
    Permission.CREATE_LEADS: frozenset({Role.SDR, Role.ADMIN}),
    Permission.SCORE: frozenset({Role.SDR, Role.SALES, Role.ADMIN}),
    Permission.READ_QUEUE: frozenset({Role.SDR, Role.MARKETING, Role.ADMIN}),
    Permission.CLAIM: frozenset({Role.SDR, Role.ADMIN}),
    Permission.QUALIFY: frozenset({Role.SDR, Role.SALES, Role.ADMIN}),
    Permission.CHANGE_STATUS: frozenset({Role.SDR, Role.SALES, Role.ADMIN}),
    Permission.READ_METRICS: _ALL,
    Permission.READ_REPORTS: frozenset({Role.MARKETING, Role.ADMIN}),
    Permission.ADMIN: frozenset({Role.ADMIN}),
}


def roles_allowed(action: Permission) -> list[str]:
    """The roles that may do ``action``, by name in alphabetical order (for refusals)."""
    return sorted(role.value for role in PERMISSIONS[action])


#: Accepted only in demo mode when no keys are configured: (key, role, name).
DEMO_KEYS: tuple[tuple[str, Role, str], ...] = (
    ("demo-sdr-key", Role.SDR, "demo-sdr"),
    ("demo-sales-key", Role.SALES, "demo-sales"),
    ("demo-marketing-key", Role.MARKETING, "demo-marketing"),
    ("demo-admin-key", Role.ADMIN, "demo-admin"),
)


@dataclass(frozen=True)
class ApiKey:
    """A caller: the key's name and role (never the key itself)."""

    name: str
    role: Role

    def may(self, action: Permission) -> bool:
        return self.role in PERMISSIONS[action]


class KeyConfigError(ValueError):
    """API key configuration that cannot be used; says which entry and why (never the key)."""


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def parse_entry(entry: str, where: str) -> tuple[str, ApiKey]:
    """One ``key:role[:name]`` entry. ``where`` names it in errors (e.g. 'entry 2')."""
    parts = [part.strip() for part in entry.split(":")]
    if len(parts) not in (2, 3) or not all(parts):
        raise KeyConfigError(f"{where}: expected 'key:role' or 'key:role:name'")
    key, role_text = parts[0], parts[1]
    if len(key) < MIN_KEY_LENGTH:
        raise KeyConfigError(f"{where}: the key must be at least {MIN_KEY_LENGTH} characters")
    try:
        role = Role(role_text.lower())
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise KeyConfigError(f"{where}: unknown role '{role_text}'; expected {roles}") from None
    name = parts[2] if len(parts) == 3 else f"{role.value}-{_digest(key).hex()[:8]}"
    return key, ApiKey(name, role)


def parse_keys(text: str, origin: str, separator: str = ",") -> list[tuple[str, ApiKey]]:
    entries: list[tuple[str, ApiKey]] = []
    for number, raw in enumerate(text.split(separator), start=1):
        entry = raw.split("#", 1)[0].strip() if separator == "\n" else raw.strip()
        if entry:
            entries.append(parse_entry(entry, f"{origin}, entry {number}"))
    return entries


class KeyRing:
    """Known keys as SHA-256 digests; ``identify`` compares in constant time."""

    def __init__(self, entries: Iterable[tuple[str, ApiKey]]) -> None:
        self._keys: list[tuple[bytes, ApiKey]] = []
        seen_names: set[str] = set()
        for key, api_key in entries:
            digest = _digest(key)
            if any(hmac.compare_digest(digest, known) for known, _ in self._keys):
                raise KeyConfigError(f"the key of '{api_key.name}' is configured twice")
            if api_key.name in seen_names:
                raise KeyConfigError(f"two keys are named '{api_key.name}'")
            seen_names.add(api_key.name)
            self._keys.append((digest, api_key))

    def __len__(self) -> int:
        return len(self._keys)

    def holders(self) -> list[tuple[bytes, ApiKey]]:
        """Each configured key's SHA-256 digest with its holder (name and role), in the
        order configured: what the pages need to list keys in use and to tie a session to
        its key. Never the keys themselves."""
        return list(self._keys)

    def identify(self, presented: str) -> ApiKey | None:
        digest = _digest(presented)
        found: ApiKey | None = None
        for known, api_key in self._keys:
            if hmac.compare_digest(digest, known):
                found = api_key
        return found

    @classmethod
    def configured(
        cls, keys: SecretStr | str | None, keys_file: Path | None, demo: bool
    ) -> KeyRing:
        """Keys from the settings; demo keys only in demo mode with nothing configured."""
        entries: list[tuple[str, ApiKey]] = []
        raw = keys.get_secret_value() if isinstance(keys, SecretStr) else keys
        if raw:
            entries += parse_keys(raw, "LEADSCORE_API_KEYS")
        if keys_file is not None:
            try:
                text = keys_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise KeyConfigError(f"LEADSCORE_API_KEYS_FILE {keys_file}: {exc}") from exc
            entries += parse_keys(text, str(keys_file), separator="\n")
        if not entries and demo:
            log.warning("demo mode: accepting the well-known demo API keys; never in production")
            entries = [(key, ApiKey(name, role)) for key, role, name in DEMO_KEYS]
        if not entries:
            raise KeyConfigError(
                "no API keys configured: set LEADSCORE_API_KEYS ('key:role:name,...') or "
                "LEADSCORE_API_KEYS_FILE, or LEADSCORE_DEMO=true for the demo keys"
            )
        return cls(entries)
