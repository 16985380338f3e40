"""The outbox: every message for a chat channel is written here first and sent later by a sender (ARCHITECTURE.md:
invariant 7).

A row is a ``post`` (a new message, optionally a reply in the thread of the message whose key is ``thread_key``) or
an ``update`` (an edit of the message whose key is ``target_key``). Rows are sent in id order; a reply waits for its
parent and an edit for its target to be sent (their ``ts`` is what the chat service needs). Times are UTC ISO text.

Statuses: ``pending`` (waiting or retrying: ``next_attempt`` says when), ``sent`` (``ts`` known), ``dead`` (the
service refused it for good, e.g. an unknown channel: ``last_error`` says why).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import field_validator

from memory.records import Record
from memory.store import Store, now_utc

POST, UPDATE = "post", "update"


class OutboxRow(Record):
    """One message waiting to be sent, sent (``ts``, ``channel_id``), or refused for good (``dead``)."""

    id: int
    key: str | None
    created: str
    kind: str
    op: str
    channel: str
    run_id: str | None
    thread_key: str | None
    target_key: str | None
    broadcast: bool
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt: str
    last_error: str | None
    ts: str | None
    channel_id: str | None
    sent_at: str | None

    @field_validator("payload", mode="before")
    @classmethod
    def _parsed(cls, v: Any) -> Any:
        return json.loads(v) if isinstance(v, str) else v


class Outbox:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    def enqueue(self, *, kind: str, channel: str, payload: Mapping[str, Any], op: str = POST, key: str | None = None,
                thread_key: str | None = None, target_key: str | None = None, run_id: str | None = None,
                broadcast: bool = False, replace: bool = False) -> bool:
        """Write one message; False when ``key`` is already taken (and ``replace`` is off). With ``replace``, a row
        of that key still pending is replaced and moves to the back of the queue (a newer edit of one message); one
        already sent (or dead) keeps its place in the record under ``KEY#id``, and the newer edit is sent too — a
        parent message edited when its run paused is edited again when it is approved and finishes."""
        now = now_utc()
        row = {"key": key, "created": now, "kind": kind, "op": op, "channel": channel, "run_id": run_id,
               "thread_key": thread_key, "target_key": target_key, "broadcast": int(broadcast),
               "payload": json.dumps(payload, separators=(",", ":")), "status": "pending", "attempts": 0,
               "next_attempt": now}
        cols = ", ".join(row)
        marks = ", ".join("?" * len(row))
        with self.store.transaction():
            if key is not None and replace:
                self.db.execute("DELETE FROM outbox WHERE key = ? AND status = 'pending'", [key])
                self.db.execute("UPDATE outbox SET key = key || '#' || id WHERE key = ?", [key])
            cur = self.db.execute(f"INSERT INTO outbox ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING",
                                  list(row.values()))
        return cur.rowcount == 1

    def has(self, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM outbox WHERE key = ?", [key]).fetchone() is not None

    def get(self, key: str) -> OutboxRow | None:
        rows = self.db.query("SELECT * FROM outbox WHERE key = ?", [key])
        return OutboxRow.from_row(rows[0]) if rows else None

    def pending(self, limit: int = 500) -> list[OutboxRow]:
        """Pending rows, oldest first (the sender decides which are due)."""
        return OutboxRow.from_rows(self.db.query(
            "SELECT * FROM outbox WHERE status = 'pending' ORDER BY id LIMIT ?", [limit]))

    def rows(self, limit: int = 1000) -> list[OutboxRow]:
        return OutboxRow.from_rows(self.db.query("SELECT * FROM outbox ORDER BY id LIMIT ?", [limit]))

    def mark_sent(self, row_id: int, ts: str | None, channel_id: str | None) -> None:
        self.db.execute("UPDATE outbox SET status = 'sent', ts = ?, channel_id = ?, sent_at = ?, last_error = NULL "
                        "WHERE id = ?", [ts, channel_id, now_utc(), row_id])

    def defer(self, row_id: int, error: str, next_attempt: str) -> None:
        self.db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt = ? WHERE id = ?",
                        [error, next_attempt, row_id])

    def hold_all(self, until: str, error: str) -> None:
        """Every pending row waits until ``until`` (the service asked the desk to slow down)."""
        self.db.execute(f"UPDATE outbox SET next_attempt = {self.db.greatest('next_attempt', '?')}, last_error = ? "
                        "WHERE status = 'pending'", [until, error])

    def mark_dead(self, row_id: int, error: str) -> None:
        self.db.execute("UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ? WHERE id = ?",
                        [error, row_id])

    def revive(self) -> int:
        """Dead rows back to pending (after the cause was fixed: a channel created, the bot invited)."""
        return self.db.execute("UPDATE outbox SET status = 'pending', next_attempt = ? WHERE status = 'dead'",
                               [now_utc()]).rowcount

    def depth(self) -> dict[str, int]:
        """Rows per status (``pending``, ``sent``, ``dead``)."""
        out = {"pending": 0, "sent": 0, "dead": 0}
        out.update({s: n for s, n in self.db.execute("SELECT status, count(*) FROM outbox GROUP BY status")})
        return out

    def next_attempt(self) -> str | None:
        row = self.db.execute("SELECT min(next_attempt) FROM outbox WHERE status = 'pending'").fetchone()
        return row[0] if row else None

