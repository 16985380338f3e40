"""Which run and decision date a provider call belongs to, set by the nodes around their provider calls.

The LLM record tags every exchange with it (spend per run, a resumed night reusing the calls it already paid for);
the provider interface stays (snapshot, proposal, …) → answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class CallScope:
    run_id: str | None = None
    as_of: date | None = None


_SCOPE: ContextVar[CallScope] = ContextVar("desk_call_scope", default=CallScope())  # noqa: B039 - frozen: never mutated


@contextmanager
def call_scope(run_id: str | None, as_of: date | None) -> Iterator[CallScope]:
    scope = CallScope(run_id, as_of)
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


def current_scope() -> CallScope:
    return _SCOPE.get()
