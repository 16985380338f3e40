"""The LangGraph checkpointer: SqliteSaver in its own file beside the store.

Only the desk's own state types may be revived from a checkpoint (an explicit msgpack allow-list).
"""

from __future__ import annotations

from pathlib import Path

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from memory.sqlite import connect

STATE_TYPES: tuple[tuple[str, str], ...] = (
    ("tools.contracts", "WeatherSnapshot"), ("tools.contracts", "LayerReading"), ("tools.contracts", "Action"),
    ("tools.contracts", "Proposal"), ("tools.contracts", "Intent"), ("tools.contracts", "SizingFactor"),
    ("tools.contracts", "Denial"), ("tools.contracts", "Regime"), ("tools.contracts", "AgentStyle"),
    ("tools.contracts", "WeatherView"), ("tools.contracts", "Verdict"), ("tools.contracts", "BookReview"),
    ("tools.contracts", "Provenance"), ("tools.contracts", "SizingTier"), ("tools.contracts", "VolState"),
    ("tools.moonshot", "MoonshotPick"), ("tools.trust", "AgentRecord"),
    ("graph.state", "Pick"), ("graph.state", "Sized"), ("graph.state", "ExitOrder"), ("graph.state", "Execution"),
    ("graph.state", "Approval"),
)


CHECKPOINT_DAMAGED = ("move it away: runs that were in flight can then not be resumed and a re-run starts them "
                      "over (their orders are safe: the store and the broker know them by id)")


def open_checkpointer(path: Path | str) -> SqliteSaver:
    conn = connect(path, "checkpoint file", CHECKPOINT_DAMAGED, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    saver = SqliteSaver(conn, serde=JsonPlusSerializer(allowed_msgpack_modules=STATE_TYPES))
    saver.setup()
    return saver
