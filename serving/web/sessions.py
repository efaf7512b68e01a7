"""Signed session cookies: who is signed in, until when, and the form token (CSRF).

The cookie holds the key holder's name and role, a fingerprint of the key (an HMAC of its
SHA-256 digest under the session secret, so it reveals nothing about the key) and the
per-session CSRF token, signed with itsdangerous under the session secret; the signature's
timestamp ends it after ``session_minutes``. A session is honoured only while a configured
key still has that fingerprint, name and role: removing or changing a key ends its sessions.

The secret comes from ``LEADSCORE_SESSION_SECRET``; without it one is generated on first
use and kept in ``<data_dir>/session-secret`` (mode 0600), so sessions survive a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from serving.api.auth import PERMISSIONS, ApiKey, KeyRing, Permission, Role

SESSION_COOKIE = "leadscore_session"
SIGNIN_COOKIE = "leadscore_signin"
SECRET_FILE = "session-secret"
_SESSION_SALT = "leadscore-session"
_SIGNIN_SALT = "leadscore-signin"
#: The sign-in form's token lives this long (seconds).
SIGNIN_TOKEN_SECONDS = 3600


@dataclass(frozen=True)
class WebSession:
    """A signed-in person: the key's name and role, the key's fingerprint, the form token."""

    name: str
    role: Role
    fingerprint: str
    csrf: str

    @property
    def caller(self) -> ApiKey:
        return ApiKey(self.name, self.role)

    def may(self, action: Permission) -> bool:
        return self.role in PERMISSIONS[action]


def key_digest(key: str) -> bytes:
    """The SHA-256 digest of a key, as the key ring keeps it."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def fingerprint(secret: str, digest: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), digest, hashlib.sha256).hexdigest()[:32]


def fingerprint_index(secret: str, ring: KeyRing) -> dict[str, ApiKey]:
    """Each configured key's fingerprint -> its holder."""
    return {fingerprint(secret, digest): holder for digest, holder in ring.holders()}


def read_or_create_secret(directory: Path) -> str:
    """The secret kept in ``directory``, created (random, 0600) the first time."""
    path = directory / SECRET_FILE
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process wrote it first: read theirs
        else:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(secrets.token_urlsafe(48))
    secret = path.read_text(encoding="utf-8").strip()
    if len(secret) < 32:
        raise ValueError(f"{path}: the session secret must be at least 32 characters")
    return secret


class SessionCodec:
    """Session cookies and sign-in form tokens, signed with one secret."""

    def __init__(self, secret: str, ring: KeyRing, max_age_seconds: int) -> None:
        self._secret = secret
        self._sessions = URLSafeTimedSerializer(secret, salt=_SESSION_SALT)
        self._signin = URLSafeTimedSerializer(secret, salt=_SIGNIN_SALT)
        self._holders = fingerprint_index(secret, ring)
        self.max_age_seconds = max_age_seconds

    def start(self, key: str, holder: ApiKey) -> WebSession:
        """A new session for the holder of ``key`` (already identified by the key ring)."""
        return WebSession(
            name=holder.name,
            role=holder.role,
            fingerprint=fingerprint(self._secret, key_digest(key)),
            csrf=secrets.token_urlsafe(32),
        )

    def dump(self, session: WebSession) -> str:
        payload = {"n": session.name, "r": session.role.value, "f": session.fingerprint}
        return self._sessions.dumps({**payload, "c": session.csrf})

    def load(self, cookie: str | None) -> WebSession | None:
        """The session in ``cookie``; None when it is missing, forged, expired, or its key
        is no longer configured with the same name and role."""
        if not cookie:
            return None
        try:
            data: Any = self._sessions.loads(cookie, max_age=self.max_age_seconds)
            session = WebSession(
                name=str(data["n"]),
                role=Role(data["r"]),
                fingerprint=str(data["f"]),
                csrf=str(data["c"]),
            )
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        holder = self._holders.get(session.fingerprint)
        if holder is None or holder != session.caller:
            return None
        return session

    def signin_token(self) -> tuple[str, str]:
        """(the token for the sign-in form, the signed cookie that vouches for it)."""
        token = secrets.token_urlsafe(32)
        return token, self._signin.dumps(token)

    def signin_token_valid(self, cookie: str | None, presented: str | None) -> bool:
        if not cookie or not presented:
            return False
        try:
            token = self._signin.loads(cookie, max_age=SIGNIN_TOKEN_SECONDS)
        except BadSignature:
            return False
        return isinstance(token, str) and hmac.compare_digest(token, presented)


def tokens_match(expected: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(expected, presented)


class SessionKeeper:
    """The codec, made on first use (the secret may need the data dir) and then kept."""

    def __init__(self, ring: KeyRing, secret: str | None, data_dir: Path, minutes: int) -> None:
        self._ring, self._secret, self._data_dir = ring, secret, data_dir
        self._seconds = minutes * 60
        self._codec: SessionCodec | None = None
        self._lock = threading.Lock()

    @property
    def codec(self) -> SessionCodec:
        with self._lock:
            if self._codec is None:
                secret = self._secret or read_or_create_secret(self._data_dir)
                self._codec = SessionCodec(secret, self._ring, self._seconds)
            return self._codec
