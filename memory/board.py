"""What changed in the store, as one cheap stamp: the dashboard's live updates poll it (one query a tick, whatever
the number of open pages) and tell the pages to read again when it moves."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memory.store import Store

# each moves when a panel's figures may have: a step or a run ends, an override or a refusal is audited, the halt or
# a breaker changes, a session's snapshot is written, a morning pauses for (or gets) approval, a veto is lifted
_PARTS = (
    "SELECT count(*) FROM steps WHERE ended IS NOT NULL",
    "SELECT count(*) FROM runs WHERE ended IS NOT NULL",
    "SELECT count(*) FROM runs",
    "SELECT max(id) FROM audit",
    "SELECT halted FROM desk_state",
    "SELECT since FROM desk_state",
    "SELECT count(*) FROM breakers",
    "SELECT max(date) FROM snapshots",
    "SELECT count(*) FROM approvals",
    "SELECT count(*) FROM vetoes",
    "SELECT count(*) FROM flattens",
)
STAMP_SQL = "SELECT " + ", ".join(f"({q})" for q in _PARTS)


def change_stamp(store: Store) -> str:
    """A text that differs whenever something a dashboard panel shows may have changed."""
    row = store.db.execute(STAMP_SQL).fetchone()
    return "|".join("" if v is None else str(v) for v in row)
