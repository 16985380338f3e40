"""SQLite connections that say which file is wrong and what to do, instead of raising a bare sqlite3 error.

Every SQLite file of a desk (the store, the checkpointer, the paper broker's book) is opened through ``connect``:
an error from any statement on it — a damaged, truncated or non-database file, a missing table, a read-only or
locked file, a full disk — becomes one ``StoreError`` line naming the file and the remedy. A failed statement
inside a transaction leaves the transaction to roll back, so nothing is half-written.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


class StoreError(Exception):
    """A desk file is unusable (damaged, missing a table, newer schema, read-only, locked, disk full)."""


class FileOperationalError(StoreError, sqlite3.OperationalError):
    """A translated sqlite3.OperationalError: still one to code that handles those (LangGraph's migrations)."""


class FileDatabaseError(StoreError, sqlite3.DatabaseError):
    """A translated sqlite3.DatabaseError (a damaged or non-database file)."""


def explain(exc: sqlite3.Error, what: str, path: Path, damaged: str) -> str:
    """One line for a SQLite error on ``path`` (``what`` names the file; ``damaged`` says how to recover it)."""
    text = str(exc)
    low = text.lower()
    if isinstance(exc, sqlite3.DatabaseError) and ("not a database" in low or "malformed" in low):
        return f"{what} {path} is damaged ({text}): {damaged}"
    if "readonly" in low or "read-only" in low:
        return (f"{what} {path} is read-only ({text}): make it writable (chmod u+w) or set DESK_HOME to a "
                f"writable folder")
    if "locked" in low or "busy" in low:
        return f"{what} {path} is locked by another process: wait for it to finish, then run again"
    if "is full" in low:
        return (f"the disk holding {what} {path} is full: free space and run again "
                f"(the failed write was rolled back; nothing is half-written)")
    if "no such table" in low or "no such column" in low:
        return f"{what} {path} is missing part of its schema ({text}): {damaged}"
    if "disk i/o error" in low:
        return (f"{what} {path} could not be written or read (disk I/O error: the disk may be full or failing): "
                f"free space or check the disk, then run again")
    if "unable to open" in low:
        return f"cannot open {what} {path}: check that DESK_HOME exists and is writable"
    return f"{what} {path}: {text}"


def _translate(conn: Connection, exc: sqlite3.Error) -> Exception:
    if isinstance(exc, sqlite3.IntegrityError):
        return exc  # a constraint the caller relies on (an id already there), not a problem with the file
    kind = FileOperationalError if isinstance(exc, sqlite3.OperationalError) else \
        FileDatabaseError if isinstance(exc, sqlite3.DatabaseError) else StoreError
    error = kind(explain(exc, conn.desk_what, conn.desk_path, conn.desk_damaged))
    error.__cause__ = exc
    return error


class _Cursor(sqlite3.Cursor):
    # plain try/except on the hot path (a replay runs ~150 statements a night): no context manager per call
    def execute(self, *args, **kwargs):  # type: ignore[override]  # same call, errors translated
        try:
            return super().execute(*args, **kwargs)
        except sqlite3.Error as exc:
            raise _translate(self.connection, exc) from exc

    def executemany(self, *args, **kwargs):  # type: ignore[override]  # same call, errors translated
        try:
            return super().executemany(*args, **kwargs)
        except sqlite3.Error as exc:
            raise _translate(self.connection, exc) from exc

    def executescript(self, *args, **kwargs):  # type: ignore[override]  # same call, errors translated
        try:
            return super().executescript(*args, **kwargs)
        except sqlite3.Error as exc:
            raise _translate(self.connection, exc) from exc

    def fetchone(self):
        try:
            return super().fetchone()
        except sqlite3.Error as exc:
            raise _translate(self.connection, exc) from exc

    def fetchmany(self, *args, **kwargs):
        try:
            return super().fetchmany(*args, **kwargs)
        except sqlite3.Error as exc:
            raise _translate(self.connection, exc) from exc

    def fetchall(self):
        try:
            return super().fetchall()
        except sqlite3.Error as exc:
            raise _translate(self.connection, exc) from exc

    def __next__(self):
        try:
            return super().__next__()
        except sqlite3.Error as exc:
            raise _translate(self.connection, exc) from exc


class Connection(sqlite3.Connection):
    """A connection whose every statement raises StoreError (naming its file) instead of sqlite3.Error."""

    desk_what: str = "database"
    desk_path: Path = Path("?")
    desk_damaged: str = "restore it from a backup"

    def cursor(self, factory=_Cursor):  # type: ignore[override]  # the translating cursor by default
        return super().cursor(factory)

    def execute(self, *args, **kwargs):  # type: ignore[override]  # same call, errors translated
        return self.cursor().execute(*args, **kwargs)

    def executemany(self, *args, **kwargs):  # type: ignore[override]  # same call, errors translated
        return self.cursor().executemany(*args, **kwargs)

    def executescript(self, *args, **kwargs):  # type: ignore[override]  # same call, errors translated
        return self.cursor().executescript(*args, **kwargs)

    def commit(self) -> None:
        try:
            super().commit()
        except sqlite3.Error as exc:
            raise _translate(self, exc) from exc


def connect(path: Path | str, what: str, damaged: str, **kwargs) -> Connection:
    """Open ``path`` (``what``: "store", "checkpoint file", …; ``damaged``: what to do if it is)."""
    path = Path(path)
    try:
        conn = sqlite3.connect(str(path), factory=Connection, **kwargs)
    except sqlite3.Error as exc:
        raise StoreError(explain(exc, what, path, damaged)) from exc
    conn.desk_what, conn.desk_path, conn.desk_damaged = what, path, damaged
    return conn
