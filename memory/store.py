"""The desk's store: one SQLite file per desk (the embedded default) or a PostgreSQL database (``store.url``).

Every statement is one text both backends run, through the adapter in ``memory.db`` (which holds what the two
dialects spell differently); the schema is ``memory.schema``'s versioned migrations on either.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from memory.bar_cache import BarCache
from memory.db import (Database, PostgresDatabase, ddl, is_postgres, open_database, safe_url, schema_name, schema_of,
                       with_schema)
from memory.schema import MIGRATIONS, SCHEMA_VERSION
from memory.sqlite import StoreError

__all__ = ["Store", "StoreError", "drop_store", "now_utc", "open_store", "replay_url"]
STORE_DAMAGED = ("restore it from a backup, or move it away and run `desk data load` to start a new store "
                 "(the old file keeps the book and the run history)")
TABLES = frozenset(re.findall(r"CREATE TABLE (\w+)", " ".join(MIGRATIONS.values())))

BAR_COLUMNS = ("open", "high", "low", "close", "volume")
BARS_REVISION = "bars_revision"   # meta key: a new value in the transaction of every write of bars


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


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
        c = list(zip(*rows)) if rows else [()] * len(self.cols)
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


class Store:
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

    # ---------------------------------------------------------------- bars
    def write_bars(self, frames: Mapping[str, pd.DataFrame], kinds: Mapping[str, str], source: str,
                   until: date | None = None, stale: bool = False, note: str | Mapping[str, str] | None = None,
                   replace: bool = False) -> dict[str, int]:
        """Write validated bars for many symbols in one transaction; return rows written per symbol.

        Each frame is indexed by date with columns open, high, low, close, volume (open/high/low/volume may be NaN
        where the source has only closes). With ``until``, rows after it are dropped and the store stays truncated.
        With ``replace``, each written symbol's stored bars are deleted first (a source that restates history).
        ``note`` is kept on every written symbol, or per symbol from a mapping.
        """
        written: dict[str, int] = {}
        with self.transaction():
            if until is not None:
                self.db.execute("DELETE FROM bars WHERE date > ?", [until.isoformat()])
                self.set_meta("data_until", until.isoformat())
            else:
                self.set_meta("data_until", None)
            for symbol, frame in frames.items():
                if replace:
                    self.db.execute("DELETE FROM bars WHERE symbol = ?", [symbol])
                if until is not None:
                    frame = frame[frame.index <= pd.Timestamp(until)]
                values = frame.reindex(columns=list(BAR_COLUMNS)).astype("float64")
                rows = [
                    (symbol, d.strftime("%Y-%m-%d"), *(None if v != v else float(v) for v in vals))
                    for d, vals in zip(values.index, values.to_numpy().tolist(), strict=True)
                ]
                self.db.upsert("bars", [dict(zip(("symbol", "date", *BAR_COLUMNS), r, strict=True)) for r in rows],
                               ("symbol", "date"))
                first, last, n = self.db.execute(
                    "SELECT min(date), max(date), count(*) FROM bars WHERE symbol=?", [symbol]).fetchone()
                self.db.upsert("symbols", [{
                    "symbol": symbol, "kind": kinds.get(symbol, "equity"), "source": source, "first_date": first,
                    "last_date": last, "rows": n, "loaded_at": now_utc(), "stale": int(stale),
                    "note": note.get(symbol) if isinstance(note, Mapping) else note,
                }], ["symbol"])
                written[symbol] = len(rows)
            if until is not None:
                for symbol, first, last, n in self.db.execute(
                        "SELECT symbol, min(date), max(date), count(*) FROM bars GROUP BY symbol").fetchall():
                    self.db.execute("UPDATE symbols SET first_date = ?, last_date = ?, rows = ? WHERE symbol = ?",
                                    [first, last, n, symbol])
            self.set_meta(BARS_REVISION, uuid.uuid4().hex)
        self._frames.clear()
        return written

    def copy_market_from(self, other: Path | str) -> None:
        """Copy another store's bars and symbols into this (empty) one: a replay's own store, same market. Within
        one backend the database copies them itself (SQLite: ATTACH; PostgreSQL: another schema of the same
        database); across backends or servers the rows are streamed."""
        source = Store(other) if is_postgres(other) else None
        try:
            with self.transaction():
                if not self.postgres and source is None:
                    self.db.execute("ATTACH DATABASE ? AS other_store", [str(other)])
                    self.db.execute("INSERT INTO bars SELECT * FROM other_store.bars")
                    self.db.execute("INSERT INTO symbols SELECT * FROM other_store.symbols")
                elif source is not None and self.postgres and _same_database(source.db, self.db):
                    other_schema = source.db.execute("SELECT current_schema()").fetchone()[0]
                    for table in ("bars", "symbols"):
                        self.db.execute(f'INSERT INTO {table} SELECT * FROM "{other_schema}".{table}')
                else:
                    source = source or Store(other)
                    for table in ("bars", "symbols"):
                        copy_rows(source.db, self.db, table)
                self.set_meta(BARS_REVISION, uuid.uuid4().hex)
        finally:
            if source is not None:
                source.close()
        if not self.postgres and source is None:
            self.db.execute("DETACH DATABASE other_store")
        self._frames.clear()

    def mark_stale(self, symbols: Iterable[str], stale: bool, note: str | None = None) -> None:
        with self.transaction():
            for s in symbols:
                self.db.execute("UPDATE symbols SET stale = ?, note = ? WHERE symbol = ?", [int(stale), note, s])

    def symbols(self, kind: str | None = None) -> list[dict[str, Any]]:
        where, args = ("WHERE kind=?", [kind]) if kind else ("", [])
        return self.db.query(f"SELECT * FROM symbols {where} ORDER BY symbol", args)

    def last_bar_date(self, symbol: str) -> date | None:
        row = self.db.execute("SELECT max(date) FROM bars WHERE symbol=?", [symbol]).fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def frame(self, field: str = "close") -> pd.DataFrame:
        """Wide frame (dates × symbols) of one bar field, cached until the next bar write: in this object, and on
        disk beside the store under the bars' revision (memory.bar_cache), so the next process reads Parquet."""
        if field not in BAR_COLUMNS:
            raise ValueError(f"unknown bar field {field!r}")
        if field not in self._frames:
            revision = self._bars_revision()
            wide = self._bar_cache.read(revision, field) if self._bar_cache is not None else None
            if wide is None:
                read_at, wide = self._read_frame(field)
                if read_at == revision and self._bar_cache is not None:
                    self._bar_cache.write(revision, field, wide)
            self._frames[field] = wide
        return self._frames[field]

    def _bars_revision(self) -> str:
        """The bars' revision, given one first if the store has none yet (a store from before revisions)."""
        revision = self.get_meta(BARS_REVISION)
        if revision is None:
            self.db.insert_ignore("meta", {"key": BARS_REVISION, "value": uuid.uuid4().hex})
            revision = self.get_meta(BARS_REVISION)
        return str(revision)

    def _read_frame(self, field: str) -> tuple[str | None, pd.DataFrame]:
        """(the revision read at, the frame) - both from one snapshot of the store."""
        with self.transaction():
            revision = self.get_meta(BARS_REVISION)
            long = pd.DataFrame(self.db.execute(f"SELECT date, symbol, {field} FROM bars").fetchall(),
                                columns=["date", "symbol", "v"])
        wide = long.pivot(index="date", columns="symbol", values="v")
        wide.index = pd.DatetimeIndex(pd.to_datetime(wide.index), name="date")
        return revision, wide.sort_index().astype("float64")

    def bars(self, symbol: str) -> pd.DataFrame:
        """One symbol's bars (date index, OHLCV columns)."""
        return pd.DataFrame({f: self.frame(f)[symbol] for f in BAR_COLUMNS if symbol in self.frame(f)}).dropna(
            subset=["close"])

    # ---------------------------------------------------------------- runs and steps
    def start_run(self, run_id: str, kind: str, phase: str, as_of: date) -> None:
        self._insert("runs", [{"run_id": run_id, "kind": kind, "phase": phase, "as_of": as_of.isoformat(),
                               "started": now_utc(), "ended": None, "status": "running", "summary": None}],
                     "REPLACE")

    def finish_run(self, run_id: str, status: str, summary: Mapping[str, Any] | None = None) -> None:
        self.db.execute("UPDATE runs SET ended=?, status=?, summary=? WHERE run_id=?",
                        [now_utc(), status, _json(summary or {}), run_id])

    def record_steps(self, rows: Iterable[tuple[str, str, str, str, str | None, str]]) -> None:
        """Steps as (run_id, node, status, started, ended, summary)."""
        self._insert("steps", [dict(zip(("run_id", "node", "status", "started", "ended", "summary"), r, strict=True))
                               for r in rows])

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        return self.db.query("SELECT * FROM steps WHERE run_id=? ORDER BY id", [run_id])

    def runs(self, limit: int = 10, kind: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        conds = [(c, v) for c, v in (("kind", kind), ("status", status)) if v is not None]
        where = ("WHERE " + " AND ".join(f"{c}=?" for c, _ in conds)) if conds else ""
        return self.db.query(f"SELECT * FROM runs {where} ORDER BY started DESC LIMIT ?",
                             [*(v for _, v in conds), limit])

    def run(self, run_id: str) -> dict[str, Any] | None:
        rows = self.db.query("SELECT * FROM runs WHERE run_id=?", [run_id])
        return rows[0] if rows else None

    def last_run(self, kind: str, as_of: date) -> dict[str, Any] | None:
        """The latest run of ``kind`` for ``as_of`` that started (a ``skipped`` record of a scheduled run that never
        did is not one: the run before it is what a new trigger resumes)."""
        rows = self.db.query(f"SELECT * FROM runs WHERE kind=? AND as_of=? AND status <> 'skipped' "
                             f"ORDER BY started DESC{self.db.newest_last} LIMIT 1", [kind, as_of.isoformat()])
        return rows[0] if rows else None

    def runs_for(self, kind: str, as_of: date) -> list[dict[str, Any]]:
        """Every run of ``kind`` for the date ``as_of``, latest first."""
        return [dict(r) for r in self.db.query(f"SELECT * FROM runs WHERE kind=? AND as_of=? ORDER BY started DESC"
                                               f"{self.db.newest_last}", [kind, as_of.isoformat()])]

    def record_tool_call(self, run_id: str, tool: str, args: Mapping[str, Any], output: Any,
                         model_version: str | None, ms: float) -> None:
        """One call of a tool in a run (a resumed run that calls it again replaces the record)."""
        self.db.execute("DELETE FROM tool_calls WHERE run_id = ? AND tool = ?", [run_id, tool])
        self._insert("tool_calls", [{"run_id": run_id, "tool": tool, "args": _json(args), "output": _json(output),
                                     "model_version": model_version, "ms": ms}])

    # ---------------------------------------------------------------- LLM exchanges
    def record_llm_call(self, row: Mapping[str, Any]) -> int:
        """One LLM exchange (or a call the budget skipped); its row id."""
        return self.db.insert_id("llm_calls", {"created": now_utc(), **row})

    def set_llm_bounds(self, call_id: int, bounds: str) -> None:
        """What the bounds did to a recorded answer (clamped, rejected, and why)."""
        self.db.execute("UPDATE llm_calls SET bounds = ? WHERE id = ?", [bounds, call_id])

    def llm_call(self, call_key: str, *, statuses: Iterable[str] | None = None,
                 run_id: str | None = None) -> dict[str, Any] | None:
        """The latest recorded exchange for ``call_key`` (of these statuses, of this run), or None."""
        sql, args = "SELECT * FROM llm_calls WHERE call_key = ?", [call_key]
        if statuses is not None:
            wanted = list(statuses)
            sql += f" AND status IN ({', '.join('?' * len(wanted))})"
            args += wanted
        if run_id is not None:
            sql += " AND run_id = ?"
            args.append(run_id)
        rows = self.db.query(sql + " ORDER BY id DESC LIMIT 1", args)
        return rows[0] if rows else None

    def llm_calls(self, *, run_id: str | None = None, as_of: date | None = None) -> list[dict[str, Any]]:
        return self._select("llm_calls", "id", run_id=run_id, as_of=as_of)

    def llm_spend(self, *, since: str | None = None, run_id: str | None = None) -> tuple[int, float]:
        """(calls sent, US dollars) since a UTC timestamp and/or in one run; served and skipped calls are free."""
        sql, args = "SELECT count(*), coalesce(sum(cost_usd), 0) FROM llm_calls WHERE status NOT IN ('skipped')", []
        if since is not None:
            sql += " AND created >= ?"
            args.append(since)
        if run_id is not None:
            sql += " AND run_id = ?"
            args.append(run_id)
        calls, usd = self.db.execute(sql, args).fetchone()
        return int(calls), float(usd)

    def llm_recorded_on(self, as_of: date) -> dict[str, int]:
        """role -> exchanges recorded for a decision date (a replay from the record checks it first)."""
        rows = self.db.execute("SELECT role, count(*) FROM llm_calls WHERE as_of = ? GROUP BY role",
                               [as_of.isoformat()]).fetchall()
        return {role: int(n) for role, n in rows}

    def decisions_between(self, start: date, end: date) -> list[dict[str, Any]]:
        """Every reviewed entry proposal from ``start`` up to (not including) ``end``: date, symbol, agent, action,
        horizon and the overlay's decision (the raw material of the desk's track record)."""
        cur = self.db.execute(
            f"SELECT p.as_of, p.symbol, p.agent, p.action, CAST({self.db.json_number('p.payload', 'horizon_days')} "
            "AS INTEGER), v.decision, v.size_multiplier FROM verdicts v JOIN proposals p ON p.key = v.proposal_key "
            "WHERE p.as_of >= ? AND p.as_of < ? AND p.action IN ('BUY_LONG', 'SELL_SHORT') ORDER BY p.as_of, p.key",
            [start.isoformat(), end.isoformat()])
        cols = ("as_of", "symbol", "agent", "action", "horizon_days", "decision", "size_multiplier")
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    # ---------------------------------------------------------------- decisions
    def save_proposals(self, run_id: str, as_of: date, proposals: Iterable[Any]) -> None:
        """The night's proposals for ``as_of``; a re-run for the date replaces them (never counted twice)."""
        rows = [{"key": p.key, "run_id": run_id, "as_of": p.as_of.isoformat(), "symbol": p.symbol, "agent": p.agent,
                 "action": str(p.action), "strength": p.strength, "confidence": p.confidence,
                 "payload": p.model_dump_json()} for p in proposals]
        with self.transaction():
            self.db.execute("DELETE FROM proposals WHERE as_of = ?", [as_of.isoformat()])
            self._insert("proposals", rows, "REPLACE")

    def save_verdicts(self, run_id: str, as_of: date, verdicts: Iterable[Any]) -> None:
        """The night's verdicts for ``as_of``; a re-run for the date replaces them."""
        rows = [{"run_id": run_id, "as_of": as_of.isoformat(), "proposal_key": v.proposal_key,
                 "decision": v.decision, "size_multiplier": v.size_multiplier, "reason": v.reason,
                 "provider": v.provenance.provider, "fallback": int(v.provenance.fallback),
                 "payload": v.model_dump_json()} for v in verdicts]
        with self.transaction():
            self.db.execute("DELETE FROM verdicts WHERE as_of = ?", [as_of.isoformat()])
            self._insert("verdicts", rows)

    def save_picks(self, run_id: str, as_of: date, rows: Iterable[Mapping[str, Any]]) -> None:
        """The night's picks for ``as_of``; a re-run for the date replaces them, so the hit rate counts each once."""
        with self.transaction():
            kept = self._picks.write(self.db)
            self.db.execute("DELETE FROM picks WHERE as_of = ?", [as_of.isoformat()])
            rows = [{"run_id": run_id, "as_of": as_of.isoformat(), **{k: v for k, v in r.items() if k != "payload"},
                     "payload": _json(r.get("payload", {}))} for r in rows]
            self._insert("picks", rows)
        if kept is not None:
            self._picks.rewrote(as_of, [tuple(r[c] for c in self._PICK_COLS) for r in rows if r.get("selected")])

    def proposals_for(self, as_of: date, symbol: str) -> list[dict[str, Any]]:
        """The night's recorded (non-HOLD) proposals for one symbol: agent, action, model version."""
        return [{"agent": agent, "action": action, "model_version": json.loads(payload).get("model_version")}
                for agent, action, payload in self.db.execute(
                    "SELECT agent, action, payload FROM proposals WHERE as_of = ? AND symbol = ? ORDER BY agent",
                    [as_of.isoformat(), symbol]).fetchall()]

    def latest_night(self, *, finished: bool = False) -> date | None:
        """The last night with proposals recorded (``finished``: the last night run that ended ok)."""
        sql = ("SELECT max(as_of) FROM runs WHERE kind = 'night' AND status = 'ok'" if finished
               else "SELECT max(as_of) FROM proposals")
        row = self.db.execute(sql).fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def night_proposals(self, as_of: date) -> list[dict[str, Any]]:
        """Every proposal of one night with the overlay's verdict on it (``verdict``: None when there is none)."""
        day = as_of.isoformat()
        verdicts = {r["proposal_key"]: r for r in self.db.query(
            "SELECT proposal_key, decision, size_multiplier, reason, provider, fallback FROM verdicts WHERE as_of = ?",
            [day])}
        rows = self.db.query(
            "SELECT key, symbol, agent, action, strength, confidence, payload FROM proposals WHERE as_of = ? "
            "ORDER BY key", [day])
        for r in rows:
            r["verdict"] = verdicts.get(r["key"])
        return rows
    def proposals(self, as_of: date | None = None) -> list[dict[str, Any]]:
        """Every recorded (non-HOLD) proposal, or one night's; ``payload`` is the Proposal's JSON."""
        return self._select("proposals", "as_of, key", as_of=as_of)

    def verdicts(self, as_of: date | None = None) -> list[dict[str, Any]]:
        """Every recorded overlay verdict, or one night's; ``payload`` is the Verdict's JSON."""
        return self._select("verdicts", "as_of, id", as_of=as_of)

    def picks(self, as_of: date | None = None) -> list[dict[str, Any]]:
        """Every scored pick (selected or not), or one night's; ``payload`` is the Pick's JSON."""
        return self._select("picks", "as_of, id", as_of=as_of)

    def save_pick_denials(self, as_of: date, denials: Mapping[str, Sequence[Mapping[str, str]]]) -> None:
        """What became of the night's selected picks that were not entered: each one's denials (rule, reason) kept
        in its pick's payload, so ``desk why`` can say why a candidate was not bought, in a replay store too."""
        if not denials:
            return
        with self.transaction():
            for pick_id, symbol, payload in self.db.execute(
                    "SELECT id, symbol, payload FROM picks WHERE as_of = ? AND selected = 1",
                    [as_of.isoformat()]).fetchall():
                if symbol in denials:
                    body = {**json.loads(payload), "denials": list(denials[symbol])}
                    self.db.execute("UPDATE picks SET payload = ? WHERE id = ?", [_json(body), pick_id])

    def latest_denied_pick(self, symbol: str) -> dict[str, Any] | None:
        """The latest selected pick of ``symbol`` that was denied: as_of, score and its denials."""
        for as_of, score, payload in self.db.execute(
                "SELECT as_of, score, payload FROM picks WHERE symbol = ? AND selected = 1 AND payload LIKE ? "
                "ORDER BY as_of DESC", [symbol, '%"denials"%']).fetchall():
            found = json.loads(payload).get("denials")
            if found:
                return {"as_of": as_of, "score": score, "denials": found}
        return None

    _PICK_COLS = ("as_of", "symbol", "horizon_days", "reference_price", "score")

    def picks_between(self, start: date, end: date, *, arrays: bool = False) -> Any:
        """The selected picks made in [start, end]: rows (dicts), or with ``arrays`` numpy columns (``as_of`` as
        datetime64[D]). Read through a per-day memo (``_DayMemo``): each night fetches only the new days."""
        found = self._picks.between(self.db, start, end, arrays)
        return found if arrays else [dict(zip(self._PICK_COLS, r, strict=True)) for r in found]

    def save_intents(self, run_id: str, intents: Iterable[Any]) -> None:
        rows = [{"intent_id": i.intent_id, "run_id": run_id, "as_of": i.as_of.isoformat(), "symbol": i.symbol,
                 "side": i.side, "kind": i.kind, "quantity": i.quantity, "status": "pending", "status_reason": None,
                 "payload": i.model_dump_json()} for i in intents]
        self._insert("intents", rows, "REPLACE")

    def intents(self, as_of: date | None = None, status: str | None = None) -> list[dict[str, Any]]:
        return self._select("intents", "intent_id", as_of=as_of, status=status)

    def intent(self, intent_id: str) -> dict[str, Any] | None:
        rows = self.db.query("SELECT * FROM intents WHERE intent_id=?", [intent_id])
        return rows[0] if rows else None

    def set_intent_status(self, intent_id: str, status: str, reason: str | None) -> None:
        self.db.execute("UPDATE intents SET status=?, status_reason=? WHERE intent_id=?", [status, reason, intent_id])

    # ---------------------------------------------------------------- orders and fills
    def order(self, client_order_id: str) -> dict[str, Any] | None:
        rows = self.db.query("SELECT * FROM orders WHERE client_order_id=?", [client_order_id])
        return rows[0] if rows else None

    def record_order(self, client_order_id: str, intent_id: str, run_id: str, symbol: str, side: str,
                     quantity: float, session: date, status: str, detail: str | None = None) -> bool:
        """Insert a new order row; False (and nothing written) if this client_order_id already exists."""
        return self.db.insert_ignore("orders", {
            "client_order_id": client_order_id, "intent_id": intent_id, "run_id": run_id, "symbol": symbol,
            "side": side, "quantity": quantity, "status": status, "session": session.isoformat(), "created": now_utc(),
            "updated": now_utc(), "detail": detail})

    def update_order(self, client_order_id: str, status: str, detail: str | None = None) -> None:
        self.db.execute("UPDATE orders SET status=?, updated=?, detail=? WHERE client_order_id=?",
                        [status, now_utc(), detail, client_order_id])

    def orders(self, session: date | None = None) -> list[dict[str, Any]]:
        where, args = ("WHERE session=?", [session.isoformat()]) if session else ("", [])
        return self.db.query(f"SELECT * FROM orders {where} ORDER BY created", args)

    def symbols_with_orders_not_in(self, statuses: Iterable[str]) -> list[str]:
        """The symbols (sorted) with an order whose status is none of ``statuses`` (an order still in flight)."""
        final = list(statuses)
        marks = ", ".join("?" * len(final)) or "NULL"
        return [r[0] for r in self.db.execute(
            f"SELECT DISTINCT symbol FROM orders WHERE status NOT IN ({marks}) ORDER BY symbol", final).fetchall()]

    def record_fill(self, fill: Mapping[str, Any]) -> None:
        """One row per order, its cumulative fill: a later, larger partial fill of the same order replaces it."""
        self._insert("fills", [dict(fill)], "REPLACE")

    def fills(self, session: date | None = None, symbol: str | None = None) -> list[dict[str, Any]]:
        return self._select("fills", "session, fill_id", session=session, symbol=symbol)

    # ---------------------------------------------------------------- book
    def positions(self) -> dict[str, dict[str, Any]]:
        return {r["symbol"]: r for r in self.db.query("SELECT * FROM positions")}

    def upsert_position(self, row: Mapping[str, Any]) -> None:
        self._insert("positions", [{"peak_date": None, **row, "updated": now_utc()}], "REPLACE")

    def advance_peaks(self, day: date, closes: Mapping[str, float]) -> int:
        """Raise each holding's peak to the night's close, for a night on or after both its entry and the date its
        peak is known through. A night for a past date changes nothing; re-running a night is idempotent."""
        d, at = day.isoformat(), now_utc()
        cur = self.db.executemany(
            f"UPDATE positions SET peak = {self.db.greatest('peak', '?')}, peak_date = ?, updated = ? "
            "WHERE symbol = ? AND entry_date <= ? AND (peak_date IS NULL OR peak_date <= ?)",
            [(float(c), d, at, s, d, d) for s, c in closes.items()])
        return cur.rowcount

    def delete_position(self, symbol: str) -> None:
        self.db.execute("DELETE FROM positions WHERE symbol=?", [symbol])

    def save_snapshot(self, day: date, cash: float, equity: float, positions_value: float, gross: float,
                      payload: Mapping[str, Any]) -> None:
        self._insert("snapshots", [{"date": day.isoformat(), "cash": cash, "equity": equity,
                                    "positions_value": positions_value, "gross": gross, "payload": _json(payload)}],
                     "REPLACE")

    def latest_snapshot(self, on_or_before: date | None = None, *, before: date | None = None) -> dict[str, Any] | None:
        """The book's last snapshot on or before a date (or strictly before ``before``), None when there is none."""
        if before is not None:
            cond, arg = "date < ?", before.isoformat()
        elif on_or_before is not None:
            cond, arg = "date <= ?", on_or_before.isoformat()
        else:
            cond, arg = "1 = ?", 1
        row = self.db.execute(f"SELECT date, cash, equity, positions_value, gross FROM snapshots WHERE {cond} "
                              "ORDER BY date DESC LIMIT 1", [arg]).fetchone()
        if row is None:
            return None
        return dict(zip(("date", "cash", "equity", "positions_value", "gross"), row, strict=True))

    def snapshots(self) -> pd.DataFrame:
        cols = ["date", "cash", "equity", "positions_value", "gross"]
        df = pd.DataFrame(self.db.execute(f"SELECT {', '.join(cols)} FROM snapshots ORDER BY date").fetchall(),
                          columns=cols).astype({c: "float64" for c in cols[1:]})
        df.index = pd.DatetimeIndex(pd.to_datetime(df.pop("date")), name="date")
        return df

    def holdings(self) -> pd.DataFrame:
        """Market value of each holding (columns: symbols) at each snapshot's close (index: its date); 0 where a
        symbol was not held."""
        rows = self.db.execute("SELECT date, payload FROM snapshots ORDER BY date").fetchall()
        values = {d: {s: float(m.get("value", 0.0)) for s, m in json.loads(p or "{}").items()} for d, p in rows}
        df = pd.DataFrame.from_dict(values, orient="index").fillna(0.0)
        df.index = pd.DatetimeIndex(pd.to_datetime(list(values)), name="date")
        return df.reindex(columns=sorted(df.columns))

    # ---------------------------------------------------------------- desk state and audit
    def desk_state(self) -> dict[str, Any]:
        return self.db.query("SELECT halted, reason, since, actor FROM desk_state WHERE id=1")[0]

    def set_halted(self, halted: bool, reason: str | None, actor: str) -> None:
        with self.transaction():
            self.db.execute("UPDATE desk_state SET halted = ?, reason = ?, since = ?, actor = ? WHERE id = 1",
                            [int(halted), reason, now_utc() if halted else None, actor])
            self.audit(actor, "halt" if halted else "resume", "desk", reason)

    def trip_breaker(self, name: str, tripped: date, sessions: int, reason: str) -> None:
        """A circuit breaker blocks new entries for ``sessions`` trading sessions after ``tripped``."""
        with self.transaction():
            self._insert("breakers", [{"name": name, "tripped": tripped.isoformat(), "sessions": sessions,
                                       "reason": reason}], "REPLACE")
            self.audit(f"circuit_breaker:{name}", "trip", "desk", reason)

    def breakers(self) -> list[dict[str, Any]]:
        return self.db.query("SELECT * FROM breakers ORDER BY tripped")

    def clear_breakers(self, actor: str, reason: str) -> int:
        with self.transaction():
            n = self.db.execute("DELETE FROM breakers").rowcount
            if n:
                self.audit(actor, "clear_breakers", "desk", reason)
        return n

    # ------------------------------------------------------------------ agents' track record and weights
    _AGENT_PICK_COLS = ("as_of", "agent", "symbol", "horizon_days", "reference_price", "signal", "model_version")

    def save_agent_picks(self, run_id: str, as_of: date, rows: Iterable[Mapping[str, Any]]) -> None:
        """Each agent's part in the night's long picks; a re-run for the date replaces them."""
        rows = [{"run_id": run_id, "as_of": as_of.isoformat(), **r} for r in rows]
        with self.transaction():
            kept = self._agent_picks.write(self.db)
            self.db.execute("DELETE FROM agent_picks WHERE as_of = ?", [as_of.isoformat()])
            self._insert("agent_picks", rows)
        if kept is not None:
            self._agent_picks.rewrote(as_of, sorted(tuple(r[c] for c in self._AGENT_PICK_COLS) for r in rows))

    def agent_picks_between(self, start: date, end: date, *, arrays: bool = False) -> dict[str, Any]:
        """Agent picks made in [start, end] as columns (as_of, agent, symbol, horizon_days, reference_price, signal,
        model_version): lists, or with ``arrays`` numpy arrays (``as_of`` as datetime64[D], ``symbol`` as str).
        The trust node reads a year of them every night: the days already read are kept in memory (a night's rows
        only change when this store object rewrites them), so each night fetches and converts only new days."""
        found = self._agent_picks.between(self.db, start, end, arrays)
        if arrays:
            return found
        return ({c: list(v) for c, v in zip(self._AGENT_PICK_COLS, zip(*found), strict=True)} if found
                else {c: [] for c in self._AGENT_PICK_COLS})

    def save_agent_weights(self, as_of: date, rows: Iterable[Mapping[str, Any]]) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM agent_weights WHERE as_of = ?", [as_of.isoformat()])
            self._insert("agent_weights", [{"as_of": as_of.isoformat(), **r} for r in rows])

    def agent_weights(self, on_or_before: date | None = None) -> list[dict[str, Any]]:
        """The latest night's agent weights (on or before a date), one row per agent."""
        bound = "WHERE as_of <= ?" if on_or_before else ""
        args = [on_or_before.isoformat()] if on_or_before else []
        row = self.db.execute(f"SELECT MAX(as_of) FROM agent_weights {bound}", args).fetchone()
        if not row or row[0] is None:
            return []
        return self._select("agent_weights", "agent", as_of=row[0])

    def save_moonshots(self, as_of: date, rows: Iterable[Mapping[str, Any]]) -> None:
        """The night's moonshot intents; a re-run for the date replaces them."""
        with self.transaction():
            self.db.execute("DELETE FROM moonshots WHERE as_of = ?", [as_of.isoformat()])
            self._insert("moonshots", [{"as_of": as_of.isoformat(), **r} for r in rows])

    def moonshots(self) -> list[dict[str, Any]]:
        return self._select("moonshots", "as_of, symbol")

    def record_trial(self, kind: str, config: Mapping[str, Any], start: date, end: date,
                     metrics: Mapping[str, Any]) -> int:
        """One evaluated configuration; ``config_hash`` is the SHA-256 of its canonical JSON."""
        text = json.dumps(config, sort_keys=True, default=str)
        digest = hashlib.sha256(text.encode()).hexdigest()
        with self.transaction():
            return self.db.insert_id("trials", {"kind": kind, "config_hash": digest, "config": text,
                                                "start": start.isoformat(), '"end"': end.isoformat(),
                                                "metrics": _json(metrics), "created": now_utc()})

    def trials(self, kind: str | None = None) -> list[dict[str, Any]]:
        rows = self._select("trials", "id", **({"kind": kind} if kind else {}))
        for r in rows:
            r["config"], r["metrics"] = json.loads(r["config"]), json.loads(r["metrics"])
        return rows

    def trial_count(self, kind: str | None = None) -> int:
        """Distinct configurations tried (the N a deflated Sharpe deflates by)."""
        sql = "SELECT COUNT(DISTINCT config_hash) FROM trials" + (" WHERE kind = ?" if kind else "")
        return int(self.db.execute(sql, (kind,) if kind else ()).fetchone()[0])

    def audit(self, actor: str, action: str, target: str | None, reason: str | None,
              payload: Mapping[str, Any] | None = None) -> None:
        self.db.insert("audit", [{"at": now_utc(), "actor": actor, "action": action, "target": target,
                                  "reason": reason, "payload": _json(payload or {})}])

    def audit_log(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.db.query("SELECT * FROM audit ORDER BY id DESC LIMIT ?", [limit])


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


def _same_database(a: Database, b: Database) -> bool:
    """Two PostgreSQL connections to one database of one server (their schemas may differ)."""
    ask = "SELECT current_database(), inet_server_addr()::text, inet_server_port()"
    return a.execute(ask).fetchone() == b.execute(ask).fetchone()


def copy_rows(source: Database, target: Database, table: str, chunk: int = 20_000) -> int:
    """Stream every row of ``table`` from one store's database into another's (any two backends); the count."""
    cur = source.execute(f"SELECT * FROM {table}")
    cols = [d[0] for d in cur.description]
    quoted = ", ".join(f'"{c}"' for c in cols)
    sql = f"INSERT INTO {table} ({quoted}) VALUES ({', '.join('?' * len(cols))})"
    n = 0
    while rows := cur.fetchmany(chunk):
        target.executemany(sql, rows)
        n += len(rows)
    return n
