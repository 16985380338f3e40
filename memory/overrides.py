"""Operators' overrides as the morning reads them: vetoed intents, flatten requests, and runs paused for approval.

Each is a row written by a command (who, when, why) and read by the morning graph, so an override issued from any
process — Slack, the command line, a second machine's shell on the same home — takes effect at the next execution.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from memory.store import Store, now_utc

ALL = "*"  # a flatten request for every holding


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

    def vetoes(self, intent_ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        rows = {r["intent_id"]: r for r in self.db.query("SELECT * FROM vetoes ORDER BY at")}
        if intent_ids is None:
            return rows
        wanted = set(intent_ids)
        return {k: v for k, v in rows.items() if k in wanted}

    def add_reason(self, intent_id: str, text: str) -> None:
        """Append ``text`` to an intent's reason chain (once: a re-run step does not repeat it)."""
        row = self.store.intent(intent_id)
        if row is None:
            return
        payload = json.loads(row["payload"])
        if text in payload.get("reasons", []):
            return
        payload["reasons"] = [*payload.get("reasons", []), text]
        self.db.execute("UPDATE intents SET payload = ? WHERE intent_id = ?",
                        [json.dumps(payload, separators=(",", ":")), intent_id])

    # ------------------------------------------------------------------ flatten
    def request_flatten(self, symbol: str, actor: str, reason: str) -> int:
        return self.db.insert_id("flattens", {"symbol": symbol, "at": now_utc(), "actor": actor, "reason": reason,
                                              "status": "open"})

    def open_flattens(self) -> list[dict[str, Any]]:
        return self.db.query("SELECT * FROM flattens WHERE status = 'open' ORDER BY id")

    def flattens(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.db.query("SELECT * FROM flattens ORDER BY id DESC LIMIT ?", [limit])

    def link_flatten(self, flatten_id: int, intent_id: str) -> None:
        self.db.execute("UPDATE flattens SET intent_id = ? WHERE id = ?", [intent_id, flatten_id])

    def close_flatten(self, flatten_id: int, note: str) -> None:
        self.db.execute("UPDATE flattens SET status = 'closed', closed = ?, note = ? WHERE id = ? AND status = 'open'",
                        [now_utc(), note, flatten_id])

    # ------------------------------------------------------------------ approvals
    def ask_approval(self, run_id: str, session: str, deadline: str, intents: list[dict[str, Any]]) -> dict[str, Any]:
        """Record that ``run_id`` waits for approval (once: a resumed node asking again keeps the first deadline)."""
        self.db.insert_ignore("approvals", {"run_id": run_id, "session": session, "asked": now_utc(),
                                            "deadline": deadline, "intents": json.dumps(intents)})
        return self.approval(run_id)  # type: ignore[return-value]

    def approval(self, run_id: str) -> dict[str, Any] | None:
        rows = self.db.query("SELECT * FROM approvals WHERE run_id = ?", [run_id])
        if not rows:
            return None
        row = rows[0]
        row["intents"] = json.loads(row["intents"])
        return row

    def decide_approval(self, run_id: str, decision: str, actor: str, reason: str | None) -> None:
        """The decision taken on a run (the last one stands: the run itself uses the one it was resumed with)."""
        self.db.execute("UPDATE approvals SET decision = ?, actor = ?, decided = ?, reason = ? WHERE run_id = ?",
                        [decision, actor, now_utc(), reason, run_id])

    def open_approvals(self) -> list[dict[str, Any]]:
        out = []
        for r in self.db.query("SELECT a.* FROM approvals a JOIN runs r ON r.run_id = a.run_id "
                               "WHERE r.status = 'paused' ORDER BY a.asked"):
            r["intents"] = json.loads(r["intents"])
            out.append(r)
        return out
