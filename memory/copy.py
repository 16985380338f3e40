"""Move a SQLite desk into PostgreSQL: every table of the store, and the checkpoints runs resume from.

The store's rows are copied in one transaction on the target, and each table's count is checked against the source
before it commits: a copy is all there or not there. A target that already holds a desk is refused (nothing is
changed) unless ``force``, which replaces what it holds. Checkpoints are copied first, the newest of each run (what
a paused or killed run resumes from, and what `desk ops weather` reads), with their pending writes; writing them
again is harmless, so a copy that failed afterwards can simply be run again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from memory.checkpoint import has_checkpoints, open_checkpointer
from memory.db import copy_rows, safe_url
from memory.store import TABLES, Store, StoreError

# the store's tables in a fixed order (meta and the desk's state first)
ORDER = ("meta", "desk_state", *sorted(TABLES - {"meta", "desk_state"}))


class StoreCopy(BaseModel):
    """What ``desk store copy`` moved: rows per table (checked equal on both sides) and checkpointed runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    target: str
    rows: dict[str, int]
    checkpoints: int
    replaced: bool


def held_rows(store: Store) -> dict[str, int]:
    """Rows per table that make a store a desk (everything but its schema version and its default state)."""
    counts = {t: int(store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in ORDER}
    counts["meta"] = int(store.db.execute("SELECT count(*) FROM meta WHERE key <> 'schema_version'").fetchone()[0])
    counts["desk_state"] = int(store.db.execute("SELECT count(*) FROM desk_state WHERE halted <> 0").fetchone()[0])
    return {t: n for t, n in counts.items() if n}


def copy_desk(source: Path, checkpoints: Path, target: str, *, force: bool = False,
              progress: Callable[[str], None] = lambda msg: None) -> StoreCopy:
    """Copy the SQLite store ``source`` (and its checkpoint file) into the PostgreSQL database ``target``."""
    if not Path(source).is_file():
        raise StoreError(f"no SQLite store at {source}: nothing to copy (is DESK_HOME the desk's home?)")
    where = safe_url(target)
    src = Store(source)
    try:
        dst = Store(target)
        try:
            held = held_rows(dst)
            if held and not force:
                shown = ", ".join(f"{t} {n:,}" for t, n in sorted(held.items())[:4])
                raise StoreError(f"{where} already holds a desk ({shown} rows…): nothing was copied; add --force to "
                                 f"replace it, or copy into an empty database")
            threads = _copy_checkpoints(checkpoints, target, progress)
            rows = _copy_rows(src, dst, progress)
        finally:
            dst.close()
    finally:
        src.close()
    return StoreCopy(source=str(source), target=where, rows=rows, checkpoints=threads, replaced=bool(held))


def _copy_rows(src: Store, dst: Store, progress: Callable[[str], None]) -> dict[str, int]:
    rows: dict[str, int] = {}
    with dst.transaction():
        for table in reversed(ORDER):
            dst.db.execute(f"DELETE FROM {table}")
        for table in ORDER:
            rows[table] = copy_rows(src.db, dst.db, table)
            progress(f"copied {table}: {rows[table]:,} rows")
        dst.db.restart_ids(t for t in ORDER if "id" in _columns(dst, t))
        mismatched = {t: (n, int(dst.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0])) for t, n in rows.items()}
        mismatched = {t: c for t, c in mismatched.items() if c[0] != c[1]}
        if mismatched:
            raise StoreError("the copy does not match its source (" + ", ".join(
                f"{t}: {a} rows read, {b} written" for t, (a, b) in mismatched.items()) + "): nothing was copied")
    return rows


def _columns(store: Store, table: str) -> list[str]:
    cur = store.db.execute(f"SELECT * FROM {table} LIMIT 0")
    cur.fetchall()
    return [d[0] for d in cur.description]


def _copy_checkpoints(path: Path, target: str, progress: Callable[[str], None]) -> int:
    """The newest checkpoint of every run (and namespace) with its pending writes; the number of runs."""
    if not has_checkpoints(path):
        return 0
    source, dest = open_checkpointer(path), open_checkpointer(target)
    try:
        newest: dict[tuple[str, str], Any] = {}
        for item in source.list(None):
            conf = item.config["configurable"]
            key = (conf["thread_id"], conf.get("checkpoint_ns", ""))
            if key not in newest or item.checkpoint["id"] > newest[key].checkpoint["id"]:
                newest[key] = item
        for item in newest.values():
            conf = dict(item.config["configurable"])
            parent = (item.parent_config or {}).get("configurable", {}).get("checkpoint_id")
            put = {"thread_id": conf["thread_id"], "checkpoint_ns": conf.get("checkpoint_ns", "")}
            if parent:
                put["checkpoint_id"] = parent
            saved = dest.put({"configurable": put}, item.checkpoint, item.metadata,
                             item.checkpoint.get("channel_versions", {}))
            by_task: dict[str, list[tuple[str, Any]]] = defaultdict(list)
            for task_id, channel, value in item.pending_writes or ():
                by_task[task_id].append((channel, value))
            for task_id, writes in by_task.items():
                dest.put_writes(saved, writes, task_id)
        runs = len({thread for thread, _ in newest})
        progress(f"copied the checkpoints of {runs} run(s)")
        return runs
    finally:
        source.conn.close()
        dest.conn.close()
