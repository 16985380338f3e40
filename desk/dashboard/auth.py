"""Who is looking at the dashboard: logins, sessions and CSRF tokens.

A login names a Slack member id and gives the dashboard's token (``dashboard.token``, from
``DESK_DASHBOARD__TOKEN``), compared in constant time. The member must be on the same allow-list as Slack's
(``slack.operators`` or ``slack.readers``); the command core then decides what that member may do, as it does for
Slack. A session lives in this process only (a restart logs everyone out), is an unguessable cookie (HttpOnly,
SameSite=Strict) and carries its own CSRF token, which every form and action must send back. Failed logins are
slowed down: after ``MAX_FAILURES`` within ``LOCKOUT_S`` seconds, logins are refused until it passes.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from desk.config import Settings
from graph.config import SLACK_USER

COOKIE = "desk_session"
MAX_FAILURES = 5
LOCKOUT_S = 60.0


class LoginRefused(Exception):
    """A login that did not succeed; the message says why without saying which part was wrong to a guesser."""


@dataclass
class Session:
    sid: str
    who: str
    csrf: str
    expires: float
    role: str  # operator or reader: what the allow-list says (the core decides each command again)


class Sessions:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self.clock = settings, clock
        self.ttl = settings.dashboard.session_minutes * 60.0
        self._sessions: dict[str, Session] = {}
        self._failures: list[float] = []
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether a login can succeed at all: a token is configured."""
        token = self.settings.dashboard.token
        return token is not None and bool(token.get_secret_value())

    def login(self, who: str, token: str) -> Session:
        now = self.clock()
        with self._lock:
            self._failures = [t for t in self._failures if now - t < LOCKOUT_S]
            if len(self._failures) >= MAX_FAILURES:
                raise LoginRefused(f"too many failed logins: wait {LOCKOUT_S:.0f} s")
        expected = self.settings.dashboard.token
        if expected is None or not expected.get_secret_value():
            raise LoginRefused("no dashboard token is set on the desk: set DESK_DASHBOARD__TOKEN and restart")
        good = hmac.compare_digest(token.encode("utf-8"), expected.get_secret_value().encode("utf-8"))
        who = who.strip()
        slack = self.settings.slack
        role = "operator" if who in slack.operators else "reader" if who in slack.readers else None
        if not good or role is None or not SLACK_USER.match(who):
            with self._lock:
                self._failures.append(now)
            raise LoginRefused("login refused: the member id must be in slack.operators or slack.readers, and the "
                               "token the desk's DESK_DASHBOARD__TOKEN")
        session = Session(sid=secrets.token_urlsafe(32), who=who, csrf=secrets.token_urlsafe(32),
                          expires=now + self.ttl, role=role)
        with self._lock:
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}
            self._sessions[session.sid] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        """The live session of a cookie, its life extended; None for an unknown or expired one."""
        if not sid:
            return None
        now = self.clock()
        with self._lock:
            found = self._sessions.get(sid)
            if found is None or found.expires <= now:
                self._sessions.pop(sid, None)
                return None
            found.expires = now + self.ttl
            return found

    def logout(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)


def csrf_ok(session: Session | None, given: str | None) -> bool:
    return session is not None and given is not None and hmac.compare_digest(session.csrf.encode(), given.encode())
