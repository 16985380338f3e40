"""Runs and steps: one row per run of a graph or a command (its kind, date, status, summary) and one per step."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Protocol

from memory.db import Database
from memory.records import Record
from vocab.terms import RunStatus
from memory.clock import now_utc


class Run(Record):
    """A run: ``status`` is running, ok, failed, error, paused, killed or skipped; ``summary`` the JSON its end
    wrote (``summary_data`` parses it)."""

    run_id: str
    kind: str
    phase: str
    as_of: date
    started: str
    ended: str | None
    status: RunStatus
    summary: str | None

    @property
    def summary_data(self) -> dict[str, Any]:
        try:
            data = json.loads(self.summary) if self.summary else {}
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}


class Step(Record):
    """One node of a run: when it started and ended, how it went, its one-line summary."""

    id: int
    run_id: str
    node: str
    status: str
    started: str
    ended: str | None
    summary: str | None


class RunStore(Protocol):
    """The store's runs: what ran, when, how it ended."""

    def start_run(self, run_id: str, kind: str, phase: str, as_of: date) -> None: ...
    def finish_run(self, run_id: str, status: RunStatus, summary: Mapping[str, Any] | None = None) -> None: ...
    def record_steps(self, rows: Iterable[tuple[str, str, str, str, str | None, str]]) -> None: ...
    def steps(self, run_id: str) -> list[Step]: ...
    def runs(self, limit: int = 10, kind: str | None = None, status: str | None = None) -> list[Run]: ...
    def run(self, run_id: str) -> Run | None: ...
    def last_run(self, kind: str, as_of: date) -> Run | None: ...
    def runs_for(self, kind: str, as_of: date) -> list[Run]: ...
    def record_tool_call(self, run_id: str, tool: str, args: Mapping[str, Any], output: Any,
                         model_version: str | None, ms: float) -> None: ...


def _json(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


class Runs:
    """``RunStore`` over the store's database (a part of ``memory.store.Store``)."""

    db: Database

    def start_run(self, run_id: str, kind: str, phase: str, as_of: date) -> None:
        self.db.upsert("runs", [{"run_id": run_id, "kind": kind, "phase": phase, "as_of": as_of.isoformat(),
                                 "started": now_utc(), "ended": None, "status": "running", "summary": None}],
                       ("run_id",))

    def finish_run(self, run_id: str, status: RunStatus, summary: Mapping[str, Any] | None = None) -> None:
        self.db.execute("UPDATE runs SET ended=?, status=?, summary=? WHERE run_id=?",
                        [now_utc(), status, _json(summary or {}), run_id])

    def record_steps(self, rows: Iterable[tuple[str, str, str, str, str | None, str]]) -> None:
        """Steps as (run_id, node, status, started, ended, summary)."""
        self.db.insert("steps", [dict(zip(("run_id", "node", "status", "started", "ended", "summary"), r,
                                          strict=True)) for r in rows])

    def steps(self, run_id: str) -> list[Step]:
        return Step.from_rows(self.db.query("SELECT * FROM steps WHERE run_id=? ORDER BY id", [run_id]))

    def runs(self, limit: int = 10, kind: str | None = None, status: str | None = None) -> list[Run]:
        """The latest runs first (of a kind, of a status)."""
        conds = [(c, v) for c, v in (("kind", kind), ("status", status)) if v is not None]
        where = ("WHERE " + " AND ".join(f"{c}=?" for c, _ in conds)) if conds else ""
        return Run.from_rows(self.db.query(f"SELECT * FROM runs {where} ORDER BY started DESC LIMIT ?",
                                           [*(v for _, v in conds), limit]))

    def run(self, run_id: str) -> Run | None:
        rows = self.db.query("SELECT * FROM runs WHERE run_id=?", [run_id])
        return Run.from_row(rows[0]) if rows else None

    def last_run(self, kind: str, as_of: date) -> Run | None:
        """The latest run of ``kind`` for ``as_of`` that started (a ``skipped`` record of a scheduled run that never
        did is not one: the run before it is what a new trigger resumes)."""
        rows = self.db.query(f"SELECT * FROM runs WHERE kind=? AND as_of=? AND status <> 'skipped' "
                             f"ORDER BY started DESC{self.db.newest_last} LIMIT 1", [kind, as_of.isoformat()])
        return Run.from_row(rows[0]) if rows else None

    def runs_for(self, kind: str, as_of: date) -> list[Run]:
        """Every run of ``kind`` for the date ``as_of``, latest first."""
        return Run.from_rows(self.db.query(f"SELECT * FROM runs WHERE kind=? AND as_of=? ORDER BY started DESC"
                                           f"{self.db.newest_last}", [kind, as_of.isoformat()]))

    def record_tool_call(self, run_id: str, tool: str, args: Mapping[str, Any], output: Any,
                         model_version: str | None, ms: float) -> None:
        """One call of a tool in a run (a resumed run that calls it again replaces the record)."""
        self.db.execute("DELETE FROM tool_calls WHERE run_id = ? AND tool = ?", [run_id, tool])
        self.db.insert("tool_calls", [{"run_id": run_id, "tool": tool, "args": _json(args), "output": _json(output),
                                       "model_version": model_version, "ms": ms}])
