"""The agents' record: each agent's part in every long pick (the raw material of its win rates, payoffs and
information coefficient), the nightly Thompson-sampled agent weights, and the moonshot track's intents."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Protocol

from memory.db import Database
from memory.records import Record


class AgentWeight(Record):
    """One agent's weight on one night: its Beta posterior, the draw, drift, and its resolved record."""

    as_of: date
    agent: str
    alpha: float
    beta: float
    sample: float
    weight: float
    drift: bool
    reason: str
    resolved: int
    hit_rate: float | None
    ic: float | None
    live_rate: float | None
    reference_rate: float | None


class Moonshot(Record):
    """A moonshot-track intent of one night (its P&L is reported on its own line)."""

    intent_id: str
    as_of: date
    symbol: str
    weight: float


class AgentRecordStore(Protocol):
    def save_agent_picks(self, run_id: str, as_of: date, rows: Iterable[Mapping[str, Any]]) -> None: ...
    def agent_picks_between(self, start: date, end: date, *, arrays: bool = False) -> dict[str, Any]: ...
    def save_agent_weights(self, as_of: date, rows: Iterable[Mapping[str, Any]]) -> None: ...
    def agent_weights(self, on_or_before: date | None = None) -> list[AgentWeight]: ...
    def save_moonshots(self, as_of: date, rows: Iterable[Mapping[str, Any]]) -> None: ...
    def moonshots(self) -> list[Moonshot]: ...


class AgentRecord:
    """``AgentRecordStore`` over the store's database (a part of ``memory.store.Store``)."""

    db: Database
    _agent_picks: Any   # the store's day memo of agent picks

    def transaction(self) -> Any: ...

    def _select(self, table: str, order: str, **equals: Any) -> list[dict[str, Any]]: ...

    _AGENT_PICK_COLS = ("as_of", "agent", "symbol", "horizon_days", "reference_price", "signal", "model_version")

    def save_agent_picks(self, run_id: str, as_of: date, rows: Iterable[Mapping[str, Any]]) -> None:
        """Each agent's part in the night's long picks; a re-run for the date replaces them."""
        written = [{"run_id": run_id, "as_of": as_of.isoformat(), **r} for r in rows]
        with self.transaction():
            kept = self._agent_picks.write(self.db)
            self.db.execute("DELETE FROM agent_picks WHERE as_of = ?", [as_of.isoformat()])
            self.db.insert("agent_picks", written)
        if kept is not None:
            self._agent_picks.rewrote(as_of, sorted(tuple(r[c] for c in self._AGENT_PICK_COLS) for r in written))

    def agent_picks_between(self, start: date, end: date, *, arrays: bool = False) -> dict[str, Any]:
        """Agent picks made in [start, end] as columns (as_of, agent, symbol, horizon_days, reference_price, signal,
        model_version): lists, or with ``arrays`` numpy arrays (``as_of`` as datetime64[D], ``symbol`` as str).
        The trust node reads a year of them every night: the days already read are kept in memory (a night's rows
        only change when this store object rewrites them), so each night fetches and converts only new days."""
        found = self._agent_picks.between(self.db, start, end, arrays)
        if arrays:
            return found
        return ({c: list(v) for c, v in zip(self._AGENT_PICK_COLS, zip(*found, strict=True), strict=True)} if found
                else {c: [] for c in self._AGENT_PICK_COLS})

    def save_agent_weights(self, as_of: date, rows: Iterable[Mapping[str, Any]]) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM agent_weights WHERE as_of = ?", [as_of.isoformat()])
            self.db.insert("agent_weights", [{"as_of": as_of.isoformat(), **r} for r in rows])

    def agent_weights(self, on_or_before: date | None = None) -> list[AgentWeight]:
        """The latest night's agent weights (on or before a date), one row per agent."""
        bound = "WHERE as_of <= ?" if on_or_before else ""
        args = [on_or_before.isoformat()] if on_or_before else []
        row = self.db.execute(f"SELECT MAX(as_of) FROM agent_weights {bound}", args).fetchone()
        if not row or row[0] is None:
            return []
        return AgentWeight.from_rows(self._select("agent_weights", "agent", as_of=row[0]))

    def save_moonshots(self, as_of: date, rows: Iterable[Mapping[str, Any]]) -> None:
        """The night's moonshot intents; a re-run for the date replaces them."""
        with self.transaction():
            self.db.execute("DELETE FROM moonshots WHERE as_of = ?", [as_of.isoformat()])
            self.db.insert("moonshots", [{"as_of": as_of.isoformat(), **r} for r in rows])

    def moonshots(self) -> list[Moonshot]:
        return Moonshot.from_rows(self._select("moonshots", "as_of, symbol"))
