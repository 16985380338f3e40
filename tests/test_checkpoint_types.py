"""Every type a graph's state can hold is on the checkpointer's msgpack allow-list, so a resumed run revives it
as itself (a type left off comes back as a plain dict and the resumed run fails on it)."""

from __future__ import annotations

import enum
import typing

from pydantic import BaseModel

from graph.state import MorningState, NightState
from memory.checkpoint import STATE_TYPES

OURS = ("tools", "graph", "models", "memory", "evals", "brokers", "prompts", "desk")


def _reachable(tp, seen: set[type]) -> None:
    for arg in typing.get_args(tp):
        _reachable(arg, seen)
    if not isinstance(tp, type) or tp in seen or not tp.__module__.startswith(OURS):
        return
    if issubclass(tp, BaseModel):
        seen.add(tp)
        for field in tp.model_fields.values():
            _reachable(field.annotation, seen)
    elif issubclass(tp, enum.Enum):
        seen.add(tp)


def test_every_type_in_the_graphs_state_is_revived_from_a_checkpoint():
    seen: set[type] = set()
    for state in (NightState, MorningState):
        for hint in typing.get_type_hints(state).values():
            _reachable(hint, seen)
    missing = sorted(f"{t.__module__}.{t.__qualname__}" for t in seen if (t.__module__, t.__qualname__)
                     not in set(STATE_TYPES))
    assert not missing, f"add to memory.checkpoint.STATE_TYPES: {missing}"
