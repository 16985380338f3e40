"""The LangGraph checkpointer: SqliteSaver in its own file beside the store.

Only the desk's own state types may be revived from a checkpoint (an explicit msgpack allow-list).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from memory.sqlite import connect

_CONTRACTS = ("WeatherSnapshot", "LayerReading", "Proposal", "Intent", "SizingFactor", "Denial", "WeatherView",
              "Verdict", "BookReview", "Provenance")
_TERMS = ("Action", "Regime", "AgentStyle", "SizingTier", "VolState")
STATE_TYPES: tuple[tuple[str, str], ...] = (
    *(("vocab.contracts", name) for name in _CONTRACTS), *(("vocab.terms", name) for name in _TERMS),
    ("tools.moonshot", "MoonshotPick"), ("tools.trust", "AgentRecord"),
    ("graph.state", "Pick"), ("graph.state", "Sized"), ("graph.state", "ExitOrder"), ("graph.state", "Execution"),
    ("graph.state", "Approval"),
)

# Checkpoints written before the vocabulary moved to vocab/ name its types under ``tools.contracts``. The two module
# names have the same length, so the msgpack string is renamed in place (no length prefix changes) before decoding,
# and the enums, which vocab.contracts re-exports, revive under their old name.
_MOVED = ((b"\xaf" + b"tools.contracts", b"\xaf" + b"vocab.contracts"),)
assert all(len(old) == len(new) for old, new in _MOVED)
_LEGACY_TYPES = tuple(("vocab.contracts", name) for name in _TERMS)


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


def open_checkpointer(path: Path | str) -> SqliteSaver:
    conn = connect(path, "checkpoint file", CHECKPOINT_DAMAGED, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    saver = SqliteSaver(conn, serde=DeskSerializer())
    saver.setup()
    return saver
