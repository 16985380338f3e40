"""One writer at a time per desk: a lock released by itself when its holder dies, never left behind by a kill.

``desk_lock(settings, "book", what)`` guards the live book (a run of the night or the morning, a data load): a
second process that asks for it while it is held is refused at once with one line naming the holder.

- On the embedded SQLite desk it is ``HomeLock``: an ``flock`` on ``$DESK_HOME/locks/<name>.lock``; the kernel drops
  it when the holding process exits or is killed (the file's text only says who held it last).
- On a PostgreSQL desk, shared by several hosts, it is ``ServerLock``: a session advisory lock
  (``pg_try_advisory_lock``) held on a connection of its own for the run's life; the server drops it when that
  session ends (the process exits, is killed, or its host goes away), and the session's ``application_name`` says
  who holds it (host, pid, what), so a refusal on another host names the holder.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from memory.db import is_postgres, pg_error, safe_url, schema_of
from memory.store import StoreError


class LockHeld(StoreError):
    """Another live process holds the lock."""


class HomeLock:
    def __init__(self, home: Path | str, name: str, what: str) -> None:
        self.path = Path(home) / "locks" / f"{name}.lock"
        self.name, self.what = name, what
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock now or raise LockHeld saying who has it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot take the lock {self.path} ({exc.strerror}): make DESK_HOME writable") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise LockHeld(f"another desk process is already {holder.get('what', 'working')} on this home "
                           f"(pid {holder.get('pid', '?')}, since {holder.get('since', '?')}); wait for it to "
                           f"finish and run again") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "what": self.what,
                                 "since": datetime.now(UTC).isoformat(timespec="seconds")}).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> HomeLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


class ServerLock:
    """A session advisory lock in the store's PostgreSQL database (see the module's docstring)."""

    NAMESPACE = 0x6465736B   # "desk": the advisory locks' first key, so the desk's never meet another program's

    def __init__(self, url: str, name: str, what: str) -> None:
        self.url, self.name, self.what = url, name, what
        self.scope = f"{schema_of(url) or ''}:{name}"   # one desk per schema: its locks are its own
        self._conn: Any = None

    def acquire(self) -> None:
        import psycopg

        label = f"desk|{os.getpid()}|{socket.gethostname()}|{self.what}"[:63]
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10, application_name=label)
        except psycopg.Error as exc:
            raise StoreError(pg_error(exc, safe_url(self.url))) from None
        try:
            got = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [self.NAMESPACE, self.scope]
                               ).fetchone()[0]
            holder = None if got else conn.execute(
                "SELECT a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = %s "
                "AND l.objid::bigint = hashtext(%s)::oid::bigint AND l.objsubid = 2 AND l.database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())",
                [self.NAMESPACE, self.scope]).fetchone()
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(pg_error(exc, safe_url(self.url))) from None
        if not got:
            conn.close()
            raise LockHeld(_held_line(holder))
        self._conn = conn

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()   # the session's end releases the lock (an unlock first would change nothing)
            self._conn = None

    def __enter__(self) -> ServerLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _held_line(holder: tuple[str, Any] | None) -> str:
    parts = (holder[0] if holder and holder[0] else "").split("|", 3)
    if len(parts) == 4 and parts[0] == "desk":
        _, pid, host, what = parts
        since = holder[1].astimezone(UTC).isoformat(timespec="seconds") if holder and holder[1] else "?"
        return (f"another desk process is already {what} on this desk (host {host}, pid {pid}, since {since}); "
                f"wait for it to finish and run again")
    return "another desk process holds this desk's lock; wait for it to finish and run again"


class LockPlace(Protocol):
    """What a lock needs of a desk's settings (a ``DeskConfig``)."""

    @property
    def home(self) -> Path: ...

    @property
    def store_location(self) -> Path | str: ...


def desk_lock(place: LockPlace, name: str, what: str) -> HomeLock | ServerLock:
    """The lock ``name`` of a desk: across hosts on PostgreSQL, on the home's files on SQLite."""
    location = place.store_location
    if is_postgres(location):
        return ServerLock(str(location), name, what)
    return HomeLock(place.home, name, what)


def _read(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return json.loads(os.read(fd, 4096).decode() or "{}")
    except (OSError, ValueError):
        return {}
