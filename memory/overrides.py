"""Operators' overrides as the morning reads them: vetoed intents, flatten requests, and runs paused for approval.

Each is a row written by a command (who, when, why) and read by the morning graph, so an override issued from any
process — Slack, the command line, a second machine's shell on the same home — takes effect at the next execution.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import Field, field_validator

from memory.records import Record
from memory.store import Store, now_utc

ALL = "*"  # a flatten request for every holding


class Veto(Record):
    """An operator's veto of a pending intent (the first veto and its reason stand)."""

    intent_id: str
    at: str
    actor: str
    reason: str


class Flatten(Record):
    """An operator's request to close a holding (``symbol``; ``ALL`` for every one): open until a morning closes it."""

    id: int
    symbol: str
    at: str
    actor: str
    reason: str
    status: str
    intent_id: str | None
    closed: str | None
    note: str | None


class ApprovalItem(Record):
    """One intent of a morning paused for approval, as the operator is shown it."""

    intent_id: str
    symbol: str
    side: str
    kind: str
    quantity: float
    price: float | None = None
    weight: float = 0.0
    why: str = ""
    digest: str | None = Field(None, description="the intent as the operator saw it (an approval is bound to it)")


class ApprovalRequest(Record):
    """A morning paused for approval: its deadline, its intents, and the decision taken on it (if any)."""

    run_id: str
    session: str
    asked: str
    deadline: str
    intents: list[ApprovalItem]
    decision: str | None
    actor: str | None
    decided: str | None
    reason: str | None

    @field_validator("intents", mode="before")
    @classmethod
    def _parsed(cls, v: Any) -> Any:
        return json.loads(v) if isinstance(v, str) else v


class Overrides:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    # ------------------------------------------------------------------ vetoes
    def veto(self, intent_id: str, actor: str, reason: str) -> bool:
        """Veto an intent; False if it was already vetoed (the first veto and its reason stand)."""
        return self.db.insert_ignore("vetoes", {"intent_id": intent_id, "at": now_utc(), "actor": actor,
                                                "reason": reason})

    def unveto(self, intent_id: str) -> bool:
        return self.db.execute("DELETE FROM vetoes WHERE intent_id = ?", [intent_id]).rowcount == 1

    def vetoes(self, intent_ids: Iterable[str] | None = None) -> dict[str, Veto]:
        rows = {r["intent_id"]: Veto.from_row(r) for r in self.db.query("SELECT * FROM vetoes ORDER BY at")}
        if intent_ids is None:
            return rows
        wanted = set(intent_ids)
        return {k: v for k, v in rows.items() if k in wanted}

    def add_reason(self, intent_id: str, text: str) -> None:
        """Append ``text`` to an intent's reason chain (once: a re-run step does not repeat it)."""
        row = self.store.intent(intent_id)
        if row is None:
            return
        payload = json.loads(row.payload)
        if text in payload.get("reasons", []):
            return
        payload["reasons"] = [*payload.get("reasons", []), text]
        self.db.execute("UPDATE intents SET payload = ? WHERE intent_id = ?",
                        [json.dumps(payload, separators=(",", ":")), intent_id])

    # ------------------------------------------------------------------ flatten
    def request_flatten(self, symbol: str, actor: str, reason: str) -> int:
        return self.db.insert_id("flattens", {"symbol": symbol, "at": now_utc(), "actor": actor, "reason": reason,
                                              "status": "open"})

    def open_flattens(self) -> list[Flatten]:
        return Flatten.from_rows(self.db.query("SELECT * FROM flattens WHERE status = 'open' ORDER BY id"))

    def flattens(self, limit: int = 50) -> list[Flatten]:
        return Flatten.from_rows(self.db.query("SELECT * FROM flattens ORDER BY id DESC LIMIT ?", [limit]))

    def link_flatten(self, flatten_id: int, intent_id: str) -> None:
        self.db.execute("UPDATE flattens SET intent_id = ? WHERE id = ?", [intent_id, flatten_id])

    def close_flatten(self, flatten_id: int, note: str) -> None:
        self.db.execute("UPDATE flattens SET status = 'closed', closed = ?, note = ? WHERE id = ? AND status = 'open'",
                        [now_utc(), note, flatten_id])

    # ------------------------------------------------------------------ approvals
    def ask_approval(self, run_id: str, session: str, deadline: str,
                     intents: Sequence[ApprovalItem]) -> ApprovalRequest:
        """Record that ``run_id`` waits for approval (once: a resumed node asking again keeps the first deadline)."""
        self.db.insert_ignore("approvals", {"run_id": run_id, "session": session, "asked": now_utc(),
                                            "deadline": deadline,
                                            "intents": json.dumps([i.model_dump(mode="json") for i in intents])})
        asked = self.approval(run_id)
        assert asked is not None  # written above, or by the first ask
        return asked

    def approval(self, run_id: str) -> ApprovalRequest | None:
        rows = self.db.query("SELECT * FROM approvals WHERE run_id = ?", [run_id])
        return ApprovalRequest.from_row(rows[0]) if rows else None

    def decide_approval(self, run_id: str, decision: str, actor: str, reason: str | None) -> None:
        """The decision taken on a run (the last one stands: the run itself uses the one it was resumed with)."""
        self.db.execute("UPDATE approvals SET decision = ?, actor = ?, decided = ?, reason = ? WHERE run_id = ?",
                        [decision, actor, now_utc(), reason, run_id])

    def open_approvals(self) -> list[ApprovalRequest]:
        return ApprovalRequest.from_rows(self.db.query("SELECT a.* FROM approvals a JOIN runs r ON r.run_id = a.run_id "
                                                       "WHERE r.status = 'paused' ORDER BY a.asked"))
