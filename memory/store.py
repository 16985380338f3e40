"""The desk's store: one SQLite file per desk (the embedded default) or a PostgreSQL database (``store.url``).

Every statement is one text both backends run, through the adapter in ``memory.db`` (which holds what the two
dialects spell differently); the schema is ``memory.schema``'s versioned migrations on either.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from memory.agents import AgentRecord, AgentRecordStore
from memory.audit import Audit, AuditStore
from memory.bar_cache import BarCache
from memory.book import Book, BookStore
from memory.clock import now_utc
from memory.db import (
    Database,
    PostgresDatabase,
    ddl,
    is_postgres,
    open_database,
    safe_url,
    schema_name,
    schema_of,
    with_schema,
)
from memory.decisions import DecisionStore, Decisions
from memory.llm_record import LlmRecord, LlmRecordStore
from memory.market import BAR_COLUMNS, BARS_REVISION, Market, MarketData
from memory.runs import RunStore, Runs
from memory.schema import MIGRATIONS, SCHEMA_VERSION
from memory.sqlite import StoreError
from memory.trials import TrialStore, Trials

__all__ = ["BARS_REVISION", "BAR_COLUMNS", "DeskStore", "Store", "StoreError", "drop_store", "now_utc", "open_store", "replay_url"]
STORE_DAMAGED = ("restore it from a backup, or move it away and run `desk data load` to start a new store "
                 "(the old file keeps the book and the run history)")
TABLES = frozenset(re.findall(r"CREATE TABLE (\w+)", " ".join(MIGRATIONS.values())))



def _json(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


def _refuse_truncated(path: Path) -> None:
    """A store cut to 0 bytes beside the home's other files was truncated, not new: refuse it, do not start over."""
    wal = path.with_name(path.name + "-wal")
    if not path.is_file() or path.stat().st_size or (wal.is_file() and wal.stat().st_size):
        return
    others = [p.name for p in path.parent.glob("*.sqlite") if p != path and p.stat().st_size]
    if others:
        raise StoreError(f"store {path} is empty (0 bytes) while this home holds {', '.join(sorted(others))}: it was "
                         f"truncated. Restore it from a backup, or move the home's files away to start over")


class _DayMemo:
    """One table's rows by day, as read by one store object: the nights read a window of past days every night, so
    the days already read are kept (with their numpy columns) and each night fetches only the new ones. Every write
    of the table gives it a new revision (a meta row, in the write's transaction); a write through this store object
    updates its day (``rewrote``) and keeps what it holds if nobody else wrote since; a revision written by any other
    connection (another process, another host) drops everything kept, so nothing stale is served."""

    def __init__(self, table: str, cols: tuple[str, ...], types: Mapping[str, Any], where: str = "",
                 order: str = "") -> None:
        self.table, self.cols, self.types, self.where, self.order = table, cols, dict(types), where, order
        self.key = f"revision:{table}"
        self.version: str | None = None
        self.lo, self.until, self.by_day, self.arrays = "", "", {}, {}   # the days in [lo, until] are held

    def _columns(self, rows: list[tuple]) -> dict[str, np.ndarray]:
        c = list(zip(*rows, strict=True)) if rows else [()] * len(self.cols)
        return {n: np.array(v, dtype=self.types[n]) for n, v in zip(self.cols, c, strict=True)}

    def revision(self, db: Database) -> str:
        row = db.execute("SELECT value FROM meta WHERE key = ?", [self.key]).fetchone()
        return row[0] if row else ""

    def between(self, db: Database, start: date, end: date, arrays: bool) -> Any:
        version = self.revision(db)
        if version != self.version or not self.until or start.isoformat() < self.lo:  # (re)start at ``start``
            self.version, self.lo, self.by_day, self.arrays = version, start.isoformat(), {}, {}
            self.until = (start - timedelta(days=1)).isoformat()
        elif start.isoformat() > self.lo:   # the window moved on: what it left is dropped
            self.lo = start.isoformat()
            for d in [d for d in self.by_day if d < self.lo]:
                del self.by_day[d]
                self.arrays.pop(d, None)
        if end.isoformat() > self.until:
            fetched = db.execute(
                f"SELECT {', '.join(self.cols)} FROM {self.table} WHERE as_of > ? AND as_of <= ? {self.where} "
                f"ORDER BY as_of{self.order}", [self.until, end.isoformat()]).fetchall()
            for row in fetched:
                self.by_day.setdefault(row[0], []).append(tuple(row))
                self.arrays.pop(row[0], None)
            self.until = end.isoformat()
        lo, hi = start.isoformat(), end.isoformat()
        inside = sorted(d for d in self.by_day if lo <= d <= hi)
        if arrays:
            parts = [self.arrays[d] if d in self.arrays else self.arrays.setdefault(d, self._columns(self.by_day[d]))
                     for d in inside]
            return {c: np.concatenate([p[c] for p in parts]) if parts else self._columns([])[c] for c in self.cols}
        return [r for d in inside for r in self.by_day[d]]

    def forget(self) -> None:
        """Keep nothing: the next read starts afresh (a transaction this store object wrote in was rolled back)."""
        self.lo, self.until, self.by_day, self.arrays = "", "", {}, {}

    def write(self, db: Database) -> str | None:
        """Give the table a new revision (inside the write's transaction); the revision this object held, if it was
        still the table's (nobody else wrote since it read), else None."""
        held = self.version if self.version is not None and self.revision(db) == self.version else None
        self.version = uuid.uuid4().hex
        db.upsert("meta", [{"key": self.key, "value": self.version}], ["key"])
        if held is None:
            self.forget()
        return held

    def rewrote(self, day: date, rows: list[tuple]) -> None:
        """This store object replaced ``day``'s rows with ``rows`` (kept only if that day was read already)."""
        if self.lo <= day.isoformat() <= self.until:
            self.by_day[day.isoformat()] = rows
            self.arrays.pop(day.isoformat(), None)


class DeskStore(MarketData, RunStore, BookStore, AuditStore, DecisionStore, LlmRecordStore, AgentRecordStore,
                TrialStore, Protocol):
    """The store's whole interface, aggregate by aggregate (each ``Protocol`` lives beside its records); ``Store``
    implements it on SQLite and on PostgreSQL."""

    def transaction(self) -> Any: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str | None) -> None: ...
    def close(self) -> None: ...


class StorePlace(Protocol):
    """Where a desk keeps its store (a ``DeskConfig``): its location and its local cache folder."""

    @property
    def store_location(self) -> Path | str: ...

    @property
    def cache_dir(self) -> Path: ...


def open_store(place: StorePlace) -> Store:
    """The store of a desk (its SQLite file, or its PostgreSQL database), its bar frames cached under its home."""
    return Store(place.store_location, cache_dir=place.cache_dir / "bars")


def replay_url(url: str, folder: str) -> str:
    """The PostgreSQL location of a replay's own store: a schema of the desk's database named after the replay."""
    return with_schema(url, schema_name(f"{schema_of(url) or 'desk'}_replay_{folder}"))


def drop_store(url: str) -> None:
    """Remove a replay's store (its schema and everything in it); never the desk's own (a schema it was not given)."""
    schema = schema_of(url)
    if not schema or "_replay_" not in schema:
        raise ValueError(f"refusing to drop the schema of {safe_url(url)}: only a replay's own store is dropped")
    db = PostgresDatabase(url)
    try:
        db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        db.close()


class Store(Market, Runs, Book, Audit, Decisions, LlmRecord, AgentRecord, Trials):
    """Bars, runs, steps, decisions, orders, the book and the desk's state.

    ``location`` is the SQLite file's path, or a ``postgresql://`` URL (its ``options=-csearch_path=S`` puts the desk
    in schema S). ``cache_dir`` holds the wide bar frames as Parquet (default: ``cache/bars`` beside a SQLite file;
    none for PostgreSQL unless given).
    """

    def __init__(self, location: Path | str, *, cache_dir: Path | None = None) -> None:
        self.postgres = is_postgres(location)
        self.location: Path | str = str(location) if self.postgres else Path(location)
        self.path = Path(location) if not self.postgres else Path(schema_of(str(location)) or "public")
        self._agent_picks = _DayMemo("agent_picks", self._AGENT_PICK_COLS, {
            "as_of": "datetime64[D]", "agent": object, "symbol": str, "horizon_days": np.int64,
            "reference_price": float, "signal": float, "model_version": object}, order=", agent, symbol")
        self._picks = _DayMemo("picks", self._PICK_COLS, {
            "as_of": "datetime64[D]", "symbol": str, "horizon_days": np.int64, "reference_price": float,
            "score": float}, where="AND selected = 1")
        if not self.postgres:
            _refuse_truncated(self.path)
        self.db: Database = open_database(self.location, "store", STORE_DAMAGED)
        try:
            self._migrate()
            self._check_tables()
        except BaseException:
            self.db.close()
            raise
        self._frames: dict[str, pd.DataFrame] = {}
        if cache_dir is None and not self.postgres:
            cache_dir = self.path.parent / "cache" / "bars"
        self._bar_cache = BarCache(cache_dir, self.path.stem) if cache_dir is not None else None

    @property
    def where(self) -> str:
        """The store as a line names it (a PostgreSQL URL without its password)."""
        return self.db.where

    # ---------------------------------------------------------------- schema
    def _migrate(self) -> None:
        """Apply each pending migration in its own transaction, re-reading the version inside it under a writer's
        lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock), so two processes opening a
        new store at once apply each migration exactly once."""
        if isinstance(self.db, PostgresDatabase):
            with self.db.transaction():
                self._pg_migration_lock()
                if self.db.schema:
                    self.db.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.db.schema}"')
        for v in range(1, SCHEMA_VERSION + 1):
            if v not in MIGRATIONS or self.schema_version() >= v:
                continue
            with self._migration():
                if self.schema_version() < v:
                    for statement in (x.strip() for x in MIGRATIONS[v].split(";")):
                        if statement:
                            self.db.execute(ddl(statement) if self.postgres else statement)
                    self.db.upsert("meta", [{"key": "schema_version", "value": str(v)}], ["key"])
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(f"store {self.where} has schema v{version}, newer than this desk (v{SCHEMA_VERSION}); "
                             f"upgrade desk")

    def _pg_migration_lock(self) -> None:
        self.db.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [f"desk-migrate:{self.db.schema}"])

    def _migration(self) -> Any:
        if self.postgres:
            return _PgMigration(self)
        return _SqliteMigration(self.db)

    def _check_tables(self) -> None:
        missing = sorted(TABLES - self.db.table_names())
        if missing:
            raise StoreError(f"store {self.where} is missing the table(s) {', '.join(missing)}: {STORE_DAMAGED}")

    def schema_version(self) -> int:
        if "meta" not in self.db.table_names():
            return 0
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else 0

    _KEYS = {"runs": ("run_id",), "proposals": ("key",), "intents": ("intent_id",), "fills": ("fill_id",),
             "positions": ("symbol",), "snapshots": ("date",), "breakers": ("name",), "bars": ("symbol", "date"),
             "symbols": ("symbol",), "meta": ("key",)}

    def _insert(self, table: str, rows: list[Mapping[str, Any]], verb: str = "INSERT") -> None:
        """Plain executemany (the hot path of a replay writes thousands of small rows); ``verb`` "REPLACE" replaces
        the row of the same key."""
        if verb == "REPLACE":
            self.db.upsert(table, rows, self._KEYS[table])
        else:
            self.db.insert(table, rows)

    def _select(self, table: str, order: str, **equals: Any) -> list[dict[str, Any]]:
        """Rows of ``table`` whose columns equal the given values (None = any), ordered."""
        given = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in equals.items() if v is not None}
        where = ("WHERE " + " AND ".join(f"{k} = ?" for k in given)) if given else ""
        return self.db.query(f"SELECT * FROM {table} {where} ORDER BY {order}", list(given.values()))

    def transaction(self) -> Any:
        """A context manager: everything inside commits together or not at all (a rollback also empties the day
        memos, which may hold what it undid)."""
        return self.db.transaction(on_rollback=self._forget_days)

    def _forget_days(self) -> None:
        self._picks.forget()
        self._agent_picks.forget()

    def close(self) -> None:
        self.db.close()

    def discard_if_blank(self) -> bool:
        """Close a SQLite store that holds nothing of a desk (no bars, intents, orders or positions: a first load
        that failed) and remove its files, so a failed first run leaves no half-made store; True if it did. A
        PostgreSQL store is left as it is (its failed load rolled back; the schema is the server's)."""
        if self.postgres:
            return False
        try:
            blank = not any(self.db.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone()
                            for t in ("symbols", "bars", "intents", "orders", "positions"))
        except StoreError:
            blank = True  # not even readable: nothing of a desk in it either
        if not blank:
            return False
        self.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        return True

    # ---------------------------------------------------------------- meta
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            self.db.execute("DELETE FROM meta WHERE key=?", [key])
        else:
            self.db.upsert("meta", [{"key": key, "value": value}], ["key"])


class _SqliteMigration:
    """BEGIN IMMEDIATE … COMMIT: the writer's lock is taken before the version is read again."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")


class _PgMigration:
    """A transaction holding the store's migration lock (an advisory lock released at its end)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.tx = store.db.transaction()

    def __enter__(self) -> None:
        self.tx.__enter__()
        self.store._pg_migration_lock()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.tx.__exit__(exc_type, exc, tb)
