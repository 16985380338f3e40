"""Read-only questions operators ask of the store (chat commands, metrics), each one small query.

They answer from what the runs recorded; nothing here writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import Any

from memory.book import Snapshot
from memory.records import Record
from memory.store import Store


class AgentActivity(Record):
    """What one agent did on a night: its style and model version, its proposals by action, the verdicts on them."""

    name: str
    style: str
    model_version: str
    proposals: dict[str, int]
    verdicts: dict[str, int]


class Queries:
    def __init__(self, store: Store) -> None:
        self.db = store.db

    def last_closes(self, symbols: Iterable[str]) -> dict[str, tuple[str, float]]:
        """Each symbol's latest stored close: {symbol: (date, close)}."""
        out = {}
        for sym in symbols:
            row = self.db.execute("SELECT date, close FROM bars WHERE symbol = ? ORDER BY date DESC LIMIT 1",
                                  [sym]).fetchone()
            if row is not None:
                out[sym] = (row[0], float(row[1]))
        return out

    def latest_intent_date(self) -> str | None:
        return self.db.execute("SELECT max(as_of) FROM intents").fetchone()[0]

    def latest_proposal_date(self) -> str | None:
        return self.db.execute("SELECT max(as_of) FROM proposals").fetchone()[0]

    def agents_on(self, as_of: str) -> list[AgentActivity]:
        """Per agent on a night: style and model version, proposals by action, verdicts by decision."""
        agents: dict[str, dict[str, Any]] = {}
        for key, agent, action, payload in self.db.execute(
                "SELECT key, agent, action, payload FROM proposals WHERE as_of = ? ORDER BY agent", [as_of]):
            p = json.loads(payload)
            a = agents.setdefault(agent, {"name": agent, "style": p.get("style", "?"),
                                          "model_version": p.get("model_version", "?"), "proposals": {},
                                          "verdicts": {}, "keys": set()})
            a["proposals"][action] = a["proposals"].get(action, 0) + 1
            a["keys"].add(key)
        decisions = dict(self.db.execute("SELECT proposal_key, decision FROM verdicts WHERE as_of = ?", [as_of]))
        for a in agents.values():
            for key in a.pop("keys"):
                if key in decisions:
                    a["verdicts"][decisions[key]] = a["verdicts"].get(decisions[key], 0) + 1
        return [AgentActivity.model_validate(a) for a in agents.values()]

    def snapshot_on_or_before(self, day: date) -> Snapshot | None:
        rows = self.db.query("SELECT date, cash, equity, positions_value, gross FROM snapshots WHERE date <= ? "
                             "ORDER BY date DESC LIMIT 1", [day.isoformat()])
        return Snapshot.from_row(rows[0]) if rows else None

    def first_snapshot(self) -> Snapshot | None:
        rows = self.db.query("SELECT date, cash, equity, positions_value, gross FROM snapshots ORDER BY date LIMIT 1")
        return Snapshot.from_row(rows[0]) if rows else None

    def fills_between(self, after: str | None, through: str) -> tuple[int, float]:
        """(number of fills, commissions paid) in sessions after ``after`` (None: from the start) through
        ``through``."""
        row = self.db.execute("SELECT count(*), coalesce(sum(commission), 0) FROM fills WHERE session > ? AND session <= ?",
                              [after or "", through]).fetchone()
        return int(row[0]), float(row[1])

    # ------------------------------------------------------------------ metrics
    def run_counts(self) -> list[tuple[str, str, int]]:
        return [tuple(r) for r in self.db.execute("SELECT kind, status, count(*) FROM runs GROUP BY kind, status")]

    def step_durations(self) -> list[tuple[str, float]]:
        """(node, seconds) of every finished step."""
        return [(n, float(s)) for n, s in self.db.execute(
            f"SELECT node, {self.db.seconds_between('started', 'ended')} FROM steps "
            "WHERE ended IS NOT NULL AND started IS NOT NULL")]

    def order_counts(self) -> list[tuple[str, str, int]]:
        return [tuple(r) for r in self.db.execute("SELECT side, status, count(*) FROM orders GROUP BY side, status")]

    def llm_calls(self) -> list[tuple[str, int, int, float, float]]:
        """(provider, fallback, calls, tokens, cost in USD as the provider reported it) over every verdict."""
        return [(p, int(f), int(n), float(t or 0), float(c or 0)) for p, f, n, t, c in self.db.execute(
            f"SELECT provider, fallback, count(*), coalesce(sum({self.db.json_number('payload', 'provenance', 'tokens')}), 0), "
            f"coalesce(sum({self.db.json_number('payload', 'provenance', 'cost_usd')}), 0) FROM verdicts "
            "GROUP BY provider, fallback")]

    def last_run_times(self) -> list[tuple[str, str, str]]:
        return [tuple(r) for r in self.db.execute(
            "SELECT kind, status, max(coalesce(ended, started)) FROM runs GROUP BY kind, status")]
