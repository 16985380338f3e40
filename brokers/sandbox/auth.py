"""Two-step login for the sandbox: user and password, then a one-time code (TOTP, RFC 6238).

The code is the standard 6-digit, 30-second TOTP of a base32 secret, so a client (the web broker, or an
authenticator app) computes it from the same secret (``brokers.otp.totp``). Sessions live in memory,
keyed by a random cookie; under the ``expire`` fault a session ends after that many pages.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Literal

from brokers.otp import totp

DEFAULT_TOTP_SECRET = "JBSWY3DPEHPK3PXP"  # the sandbox's published demo secret; pass your own for anything shared


@dataclass(frozen=True)
class SandboxCredentials:
    user: str = "desk"
    password: str = "sandbox"
    totp_secret: str = DEFAULT_TOTP_SECRET


@dataclass
class Session:
    stage: Literal["code", "in"]
    pages: int = 0


class Sessions:
    def __init__(self, credentials: SandboxCredentials) -> None:
        self.credentials = credentials
        totp(credentials.totp_secret)  # fail at start on a bad secret
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def password_ok(self, user: str, password: str) -> str | None:
        """A new session waiting for its code when user and password match, else None."""
        ok = hmac.compare_digest(user.encode(), self.credentials.user.encode()) & hmac.compare_digest(
            password.encode(), self.credentials.password.encode())
        if not ok:
            return None
        sid = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[sid] = Session("code")
        return sid

    def code_ok(self, sid: str | None, code: str) -> bool:
        """Promote a session to logged in when ``code`` is the current (or the previous/next) one-time code."""
        now = time.time()
        valid = {totp(self.credentials.totp_secret, now + d) for d in (-30, 0, 30)}
        with self._lock:
            session = self._sessions.get(sid or "")
            if session is None or session.stage != "code" or code.strip() not in valid:
                return False
            session.stage = "in"
            return True

    def stage(self, sid: str | None) -> str | None:
        with self._lock:
            session = self._sessions.get(sid or "")
            return session.stage if session else None

    def touch(self, sid: str | None, expire_after: int | None) -> Literal["ok", "expired", "none"]:
        """Count one page for a logged-in session; end it when it has used ``expire_after`` pages under the fault."""
        with self._lock:
            session = self._sessions.get(sid or "")
            if session is None or session.stage != "in":
                return "none"
            if expire_after is None:
                return "ok"
            session.pages += 1  # counted while the fault is on
            if session.pages > expire_after:
                del self._sessions[sid or ""]
                return "expired"
            return "ok"

    def end(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)
