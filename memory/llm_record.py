"""The LLM record: every exchange with an LLM provider — what was asked (the rendered prompt), what came back (raw
and parsed), what it cost, what the bounds did to it — keyed so a replay can serve it again instead of paying."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Protocol

from memory.clock import now_utc
from memory.db import Database
from memory.records import Record


class LlmCall(Record):
    """One exchange (or a call the budget skipped): ``status`` ok, invalid, refused, error or skipped."""

    id: int
    call_key: str
    role: str
    provider: str
    model: str
    prompt_id: str
    prompt_version: str
    input_hash: str
    run_id: str | None
    as_of: date | None
    created: str
    status: str
    error: str | None
    prompt: str
    raw: str | None
    parsed: str | None
    bounds: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float


class LlmRecordStore(Protocol):
    """The store's LLM record."""

    def record_llm_call(self, row: Mapping[str, Any]) -> int: ...
    def set_llm_bounds(self, call_id: int, bounds: str) -> None: ...
    def llm_call(self, call_key: str, *, statuses: Iterable[str] | None = None,
                 run_id: str | None = None) -> LlmCall | None: ...
    def llm_calls(self, *, run_id: str | None = None, as_of: date | None = None) -> list[LlmCall]: ...
    def llm_spend(self, *, since: str | None = None, run_id: str | None = None) -> tuple[int, float]: ...
    def llm_recorded_on(self, as_of: date) -> dict[str, int]: ...


class LlmRecord:
    """``LlmRecordStore`` over the store's database (a part of ``memory.store.Store``)."""

    db: Database

    def _select(self, table: str, order: str, **equals: Any) -> list[dict[str, Any]]: ...

    def record_llm_call(self, row: Mapping[str, Any]) -> int:
        """One LLM exchange (or a call the budget skipped) with the columns of ``LlmCall``; its row id."""
        return self.db.insert_id("llm_calls", {"created": now_utc(), **row})

    def set_llm_bounds(self, call_id: int, bounds: str) -> None:
        """What the bounds did to a recorded answer (clamped, rejected, and why)."""
        self.db.execute("UPDATE llm_calls SET bounds = ? WHERE id = ?", [bounds, call_id])

    def llm_call(self, call_key: str, *, statuses: Iterable[str] | None = None,
                 run_id: str | None = None) -> LlmCall | None:
        """The latest recorded exchange for ``call_key`` (of these statuses, of this run), or None."""
        sql, args = "SELECT * FROM llm_calls WHERE call_key = ?", [call_key]
        if statuses is not None:
            wanted = list(statuses)
            sql += f" AND status IN ({', '.join('?' * len(wanted))})"
            args += wanted
        if run_id is not None:
            sql += " AND run_id = ?"
            args.append(run_id)
        rows = self.db.query(sql + " ORDER BY id DESC LIMIT 1", args)
        return LlmCall.from_row(rows[0]) if rows else None

    def llm_calls(self, *, run_id: str | None = None, as_of: date | None = None) -> list[LlmCall]:
        return LlmCall.from_rows(self._select("llm_calls", "id", run_id=run_id, as_of=as_of))

    def llm_spend(self, *, since: str | None = None, run_id: str | None = None) -> tuple[int, float]:
        """(calls sent, US dollars) since a UTC timestamp and/or in one run; served and skipped calls are free."""
        sql, args = "SELECT count(*), coalesce(sum(cost_usd), 0) FROM llm_calls WHERE status NOT IN ('skipped')", []
        if since is not None:
            sql += " AND created >= ?"
            args.append(since)
        if run_id is not None:
            sql += " AND run_id = ?"
            args.append(run_id)
        calls, usd = self.db.execute(sql, args).fetchone()
        return int(calls), float(usd)

    def llm_recorded_on(self, as_of: date) -> dict[str, int]:
        """role -> exchanges recorded for a decision date (a replay from the record checks it first)."""
        rows = self.db.execute("SELECT role, count(*) FROM llm_calls WHERE as_of = ? GROUP BY role",
                               [as_of.isoformat()]).fetchall()
        return {role: int(n) for role, n in rows}
