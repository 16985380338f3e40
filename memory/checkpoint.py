"""The LangGraph checkpointer: SqliteSaver in its own file beside the store, or PostgresSaver in the store's
PostgreSQL database (``store.url``) so a run paused or killed on one host can be resumed from another.

Only the desk's own state types may be revived from a checkpoint (an explicit msgpack allow-list), on either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from memory.db import is_postgres, pg_error, safe_url, schema_of
from memory.sqlite import StoreError, connect

_CONTRACTS = ("WeatherSnapshot", "LayerReading", "Proposal", "Intent", "SizingFactor", "Denial", "WeatherView",
              "Verdict", "BookReview", "Provenance", "Execution")
_TERMS = ("Action", "Regime", "AgentStyle", "SizingTier", "VolState")
STATE_TYPES: tuple[tuple[str, str], ...] = (
    *(("vocab.contracts", name) for name in _CONTRACTS), *(("vocab.terms", name) for name in _TERMS),
    ("tools.moonshot", "MoonshotPick"), ("tools.trust", "AgentRecord"),
    ("graph.state", "Pick"), ("graph.state", "Sized"), ("graph.state", "ExitOrder"), ("graph.state", "Approval"),
    ("tools.freshness", "Freshness"),
)

# Checkpoints written before the vocabulary moved to vocab/ name its types under ``tools.contracts``. The two module
# names have the same length, so the msgpack string is renamed in place (no length prefix changes) before decoding,
# and the enums, which vocab.contracts re-exports, revive under their old name.
_MOVED = ((b"\xaf" + b"tools.contracts", b"\xaf" + b"vocab.contracts"),)
assert all(len(old) == len(new) for old, new in _MOVED)
# ... and graph.state's Execution, which moved to vocab.contracts (graph.state re-exports it for these).
_LEGACY_TYPES = (*(("vocab.contracts", name) for name in _TERMS), ("graph.state", "Execution"))


class DeskSerializer(JsonPlusSerializer):
    """LangGraph's serializer, reviving only the desk's own state types, and reading checkpoints written before a
    state type's module moved."""

    def __init__(self) -> None:
        super().__init__(allowed_msgpack_modules=STATE_TYPES + _LEGACY_TYPES)

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        kind, blob = data
        if kind == "msgpack":
            for old, new in _MOVED:
                if old in blob:
                    blob = blob.replace(old, new)
        return super().loads_typed((kind, blob))


CHECKPOINT_DAMAGED = ("move it away: runs that were in flight can then not be resumed and a re-run starts them "
                      "over (their orders are safe: the store and the broker know them by id)")


def has_checkpoints(location: Path | str) -> bool:
    """Whether a checkpointer may hold runs (a SQLite file not yet created holds none)."""
    return is_postgres(location) or Path(location).is_file()


def open_checkpointer(location: Path | str) -> BaseCheckpointSaver[Any]:
    """The checkpointer at ``location``: a ``postgresql://`` URL (the store's database), else a SQLite file."""
    if is_postgres(location):
        return _postgres(str(location))
    conn = connect(location, "checkpoint file", CHECKPOINT_DAMAGED, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    saver = SqliteSaver(conn, serde=DeskSerializer())
    saver.setup()
    return saver


def _postgres(url: str) -> BaseCheckpointSaver[Any]:
    """PostgresSaver on its own connection (autocommit, no prepared statements, dict rows: what it requires); its
    ``setup()`` runs under a session advisory lock, so two processes starting at once migrate its tables once."""
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row

    try:
        conn = psycopg.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row, connect_timeout=10)
    except psycopg.Error as exc:
        raise StoreError(pg_error(exc, safe_url(url))) from None
    try:
        schema = schema_of(url)
        key = f"desk-checkpoints:{schema}"
        conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
        try:
            if schema:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            saver = PostgresSaver(conn, serde=DeskSerializer())
            saver.setup()
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])
    except psycopg.Error as exc:
        conn.close()
        raise StoreError(pg_error(exc, safe_url(url))) from None
    return saver
