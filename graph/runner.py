"""Run the desk's graphs: each run is a checkpointer thread and a row in the store's runs table.

A run ends ``ok``, ``error`` or ``paused`` (a node called ``interrupt()``). A paused run is resumed with
``resume(run_id, value)`` — from this process or any other that opens the same home. The last run for a date
that stopped mid-graph (an exception or a killed process) is resumed from its checkpoint instead of started over.

A run still marked ``running`` when a new one starts belongs to a process that died (the caller holds the home's
lock, ``memory.locks``, so no other live process runs a graph). Each is closed by what its checkpoint says:
``ok`` if its graph had finished, ``interrupted`` if it stopped mid-graph (the next run for its date resumes it),
``killed`` if it stopped before its first checkpoint (nothing to resume; the next run starts over).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import pandas as pd
from langgraph.types import Command

from graph.context import DeskContext
from graph.errors import DeskError
from graph.morning import build_morning
from graph.night import build_night
from graph.nodes.ingest import night_freshness
from graph.reporting import record_unrun
from memory.runs import Run
from memory.store import StoreError
from tools.breakers import consecutive_errors
from tools.calendar import next_session

log = logging.getLogger("desk.runner")
Progress = Callable[[str], None]


class NightFrozen(DeskError):
    """The night asked for may not be planned: its morning has started, and no finished night is on record."""


Builder = Callable[..., Any]
BUILDERS: Mapping[str, Builder] = {"night": build_night, "morning": build_morning}
INTERRUPT = "__interrupt__"
RESUMABLE = ("error", "running", "interrupted")


class Runner:
    """The graphs of one desk over one context; ``checkpointer`` None runs them without checkpoints (replay)."""

    def __init__(self, ctx: DeskContext, *, checkpointer=None, progress: Progress = lambda msg: None,
                 builders: Mapping[str, Builder] = BUILDERS) -> None:
        self.ctx, self.checkpointer, self.progress = ctx, checkpointer, progress
        self._builders = dict(builders)
        self._graphs: dict[str, Any] = {}

    # ------------------------------------------------------------------ graphs and dates
    def graph(self, kind: str):
        if kind not in self._graphs:
            self._graphs[kind] = self._builders[kind](self.checkpointer)
        return self._graphs[kind]

    @property
    def store(self):
        return self.ctx.store

    def sessions(self) -> pd.DatetimeIndex:
        return self.ctx.market.sessions

    def morning_session(self, night: date) -> date:
        return next_session(night, self.sessions(), self.ctx.config.cache_dir)

    # ------------------------------------------------------------------ runs
    def night(self, day: date, durability: str = "sync", reference: date | None = None) -> dict:
        """The night graph for ``day``. ``reference``: a live night's session to measure the data against (the
        calendar's last closed session); None is a night in history, measured against ``day``.

        A night whose morning has started is frozen (ARCHITECTURE.md: invariant 10): it is never planned again, and this
        returns the finished night's state (``frozen`` says why); a live night on stale data is still recorded as
        failed."""
        frozen = self.frozen(day)
        if frozen is None:
            return self.run("night", {"as_of": day, "reference": reference}, day, durability)
        self.progress(f"the night of {day} is frozen ({frozen}): its intents stand, it is not planned again")
        fresh = night_freshness(self.ctx, day, reference) if reference is not None else None
        if fresh is not None and fresh.stale:
            self.refused("night", fresh.reference, f"stale data: {fresh.reason}; the latest night with data "
                                                   f"({day}) already ran and is frozen ({frozen})")
        values = self.finished("night", day)
        if values is None:
            raise NightFrozen(f"the night of {day} is frozen: {frozen}, and no finished night of {day} is on "
                              f"record; a night is never planned under its morning")
        return {**values, "frozen": frozen, **({"freshness": fresh} if fresh is not None else {})}

    def frozen(self, day: date) -> str | None:
        """Why the night of ``day`` may no longer be planned (its morning started), or None."""
        started = [r for r in self.store.runs_for("morning", day) if self._began(r)]
        if not started:
            return None
        first = started[-1]
        return f"its morning {first.run_id} started {first.started}"

    def _began(self, row: Run) -> bool:
        """Whether a recorded run's graph began: not ``killed`` or ``skipped`` (it never reached a checkpoint), and
        not a failure recorded before its graph ran (a scheduled morning that could not start)."""
        if row.status in ("killed", "skipped"):
            return False
        if row.status == "error" and self.checkpointer is not None:
            return bool(self.graph(row.kind).get_state(_thread(row.run_id)).values)
        return True

    def finished(self, kind: str, day: date) -> dict | None:
        """The final state of the latest run of ``kind`` for ``day`` that finished its graph (None without one)."""
        if self.checkpointer is None:
            return None
        for row in self.store.runs_for(kind, day):
            snap = self.graph(kind).get_state(_thread(row.run_id))
            if snap.values and not snap.next:
                return dict(snap.values)
        return None

    def refused(self, kind: str, day: date, why: str) -> str:
        """Record a ``kind`` run for ``day`` that was refused before any graph ran, as failed with ``why``."""
        return record_unrun(self.store, self.ctx.reporter, kind, day, "error", why)

    def morning(self, night_day: date, durability: str = "sync") -> dict:
        session = self.morning_session(night_day)
        return self.run("morning", {"night_date": night_day, "session": session}, night_day, durability)

    def run(self, kind: str, state: dict, as_of: date, durability: str = "sync") -> dict:
        """Run graph ``kind`` for ``as_of``, resuming the last run for that date if it stopped mid-graph."""
        graph = self.graph(kind)
        if self.checkpointer is not None:
            self.close_dead_runs()
        last = self.store.last_run(kind, as_of) if self.checkpointer is not None else None
        if last is not None and last.status in RESUMABLE:
            snap = graph.get_state(_thread(last.run_id))
            if snap.next:
                self.progress(f"resuming {kind} run {last.run_id} at {', '.join(snap.next)}")
                return self._invoke(kind, last.run_id, as_of, None, durability)
        if last is not None and last.status == "paused":
            raise DeskError(f"{kind} run {last.run_id} for {as_of} is paused waiting for approval; "
                            f"approve or reject it first")
        run_id = f"{kind}-{as_of.isoformat()}-{uuid.uuid4().hex[:6]}"
        return self._invoke(kind, run_id, as_of, {**state, "run_id": run_id}, durability)

    def close_dead_runs(self) -> list[tuple[str, str]]:
        """Close every run left ``running`` by a process that died; (run_id, new status) for each."""
        closed = []
        for row in self.store.runs(limit=1000, status="running"):
            if row.kind not in self._builders:
                continue
            snap = self.graph(row.kind).get_state(_thread(row.run_id))
            if snap.next:
                status, why = "interrupted", f"its process stopped before {', '.join(snap.next)}; the next run " \
                                             f"for {row.as_of} resumes it"
            elif snap.values:
                status, why = "ok", "its graph had finished when its process stopped; closed on restart"
            else:
                status, why = "killed", "its process stopped before the first checkpoint; nothing to resume"
            self.store.finish_run(row.run_id, status, {"phase": row.kind, "closed": why})
            self.progress(f"run {row.run_id} was left running by a stopped process: {status} ({why})")
            closed.append((row.run_id, status))
        return closed

    def resume(self, run_id: str, value: Any, durability: str = "sync") -> dict:
        """Resume a paused run with ``value`` (what the paused node's ``interrupt()`` returns)."""
        row = self.store.run(run_id)
        if row is None:
            raise DeskError(f"no run {run_id!r}; see `desk status` for the latest runs")
        if row.status != "paused":
            raise DeskError(f"run {run_id} is {row.status}, not paused: nothing to resume")
        if self.checkpointer is None:
            raise DeskError("this desk runs without checkpoints: a paused run cannot be resumed")
        return self._invoke(row.kind, run_id, row.as_of, Command(resume=value),
                            durability)

    def _invoke(self, kind: str, run_id: str, as_of: date, payload: Any, durability: str) -> dict:
        """``payload``: the initial state of a new run, None to continue a stopped one, or a resume Command."""
        graph, ctx = self.graph(kind), self.ctx
        ctx.store.start_run(run_id, kind, kind, as_of)
        ctx.reporter.run_started(run_id, kind, as_of.isoformat())
        kwargs = {"durability": durability} if self.checkpointer is not None else {}
        try:
            out = graph.invoke(payload, _thread(run_id), context=ctx, **kwargs)
        except Exception as exc:
            self._failed(run_id, as_of, exc)
            raise
        if out.get(INTERRUPT):
            asked = [i.value for i in out[INTERRUPT]]
            ctx.store.finish_run(run_id, "paused", {"phase": kind, "waiting": asked})
            ctx.reporter.run_finished(run_id, "paused", "; ".join(_waiting(a) for a in asked))
            return out
        fresh = out.get("freshness")
        if kind == "night" and fresh is not None and fresh.stale:  # the gate refused entries: a failed run
            why = f"stale data: {fresh.reason}; no new entries planned, exits planned"
            ctx.store.finish_run(run_id, "error", {"phase": kind, "error": why})
            ctx.reporter.run_finished(run_id, "error", why)
            return out
        ctx.store.finish_run(run_id, "ok", {"phase": kind})
        ctx.reporter.run_finished(run_id, "ok", "")
        return out

    def _failed(self, run_id: str, as_of: date, exc: Exception) -> None:
        """Record a failed run and trip the error breaker if due. When the store itself is what failed (a full
        disk, a damaged file), recording may fail too: the run's own error is the one the caller sees."""
        ctx, r = self.ctx, self.ctx.config.risk
        why = ctx.redact(f"{type(exc).__name__}: {exc}")
        try:
            ctx.store.finish_run(run_id, "error", {"error": why})
            ctx.reporter.run_finished(run_id, "error", why)
            tripped = consecutive_errors((x.status for x in ctx.store.runs(limit=r.max_consecutive_errors)),
                                         r.max_consecutive_errors)
            if tripped:
                ctx.store.trip_breaker("errors", as_of, r.breaker_sessions, f"{tripped}; latest: {why}")
        except (StoreError, OSError) as record_error:  # the caller's one line says what failed; the next run closes
            # this one from its checkpoint (close_dead_runs), so nothing more is printed in front of the user
            log.info("run %s failed (%s) and could not be recorded: %s", run_id, why, record_error)


def _waiting(asked: Any) -> str:
    """What a paused run waits for, in words (never the interrupt's raw value)."""
    if isinstance(asked, dict) and "approval" in asked:
        entries = asked.get("entries") or []
        return (f"waiting for approval: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, "
                f"{asked.get('exits', 0)} exits run whatever is decided (the approval message says until when)")
    return "waiting for an operator"


def _thread(run_id: str) -> dict:
    return {"configurable": {"thread_id": run_id}}
