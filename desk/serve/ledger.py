"""What each trigger of the scheduler came to, settled in the store (ARCHITECTURE.md: invariant 9: no failure is silent).

Every decision of ``desk.serve.schedule.DeskSchedule`` — a run, a day the exchange is closed, a deferral, a time
missed — is one row of the scheduler's ledger (``memory.schedule``). A scheduled run that fails or is skipped is
also a run in the store with its reason (a failure before its graph began, a missed time and a busy book are
recorded here; a graph that failed recorded itself), posted to the errors channel through the outbox, counted by
``/metrics`` and shown by ``/health`` and ``desk status`` — whichever process asks, and after a restart.

Failure classes (the ``/metrics`` label): ``stale_data`` (a live night's data too old: no entries planned),
``refused`` (the run could not begin: no data for its date, a paused run in the way…), ``error`` (its graph failed),
``missed`` (its time passed while ``desk serve`` was not running, beyond the misfire grace), ``busy`` (another process
held the book and the key did not run).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from desk.serve.schedule import Fire
from graph.reporting import Fanout, Reporter, StoreReporter, record_unrun
from memory.schedule import FireRecord, ScheduleLog
from memory.store import Store
from memory.watch import Watch
from vocab.terms import FailureClass, FireOutcome

log = logging.getLogger("desk.serve")
Alert = Callable[[str, str | None], None]  # (one line, run id) -> posted to the errors channel


@dataclass(frozen=True)
class Before:
    """The runs a key had before its trigger ran: what the trigger added is what it did."""

    runs: frozenset[str]


def runs_of(store: Store, phase: str, night: date) -> Before:
    return Before(frozenset(r for r, _, _ in Watch(store).key_runs(phase, night)))


def settle(store: Store, fire: Fire, outcome: Any, *, at: datetime, before: Before | None,
           reporters: Sequence[Reporter] = (), alert: Alert = lambda text, run_id: None) -> FireRecord | None:
    """Record what ``fire`` came to (``outcome``: what the run function returned, or the exception it raised);
    a failed or skipped run is recorded as a run and alerted. Returns the ledger's row — None for a ``missed`` time
    already settled, or on a desk whose scheduler never ran (nothing was expected of it)."""
    stamp = at.isoformat()
    if fire.action != "run" and fire.action != "missed":
        kind: FireOutcome = "closed" if fire.action == "skip" else "deferred"
        return _log(store, stamp, fire, kind, fire.reason)
    assert fire.night is not None
    watch = Watch(store)
    runs = watch.key_runs(fire.phase, fire.night)
    if fire.action == "missed":
        ledger = ScheduleLog(store)
        if ledger.last_at() is None or ledger.last_at_of(fire.phase, fire.night) is not None:
            return None
        if any(s in ("ok", "paused", "running") for _, s, _ in runs):  # the key ran after all (by hand, or before the stop): nothing was lost
            return _log(store, stamp, fire, "done", f"missed at {fire.at:%Y-%m-%d %H:%M} but {runs[0][0]} ran")
        left = next((f"; its run {r} was left {s}" for r, s, _ in runs), "")
        why = fire.reason + left
        run_id = record_unrun(store, _reporter(store, reporters), fire.phase, fire.night, "skipped", why,
                              step="scheduler")
        return _failed(store, stamp, fire, "skipped", "missed", why, run_id, alert)
    added = [(r, s, e) for r, s, e in runs if before is None or r not in before.runs]
    if isinstance(outcome, BaseException):
        why = f"{type(outcome).__name__}: {outcome}"
        failed = next(((r, e) for r, s, e in added if s == "error"), None)
        if failed is not None:  # its graph failed and recorded itself
            return _failed(store, stamp, fire, "failed", "error", failed[1] or why, failed[0], alert)
        run_id = record_unrun(store, _reporter(store, reporters), fire.phase, fire.night, "error", why,
                              step="scheduler")
        return _failed(store, stamp, fire, "failed", "refused", why, run_id, alert)
    status = getattr(outcome, "status", None)
    reason = getattr(outcome, "reason", "") or ""
    run_id = getattr(outcome, "run_id", None)
    if status == "busy":
        if any(s == "ok" for _, s, _ in runs):
            return _log(store, stamp, fire, "done", f"the book was busy; the key had run: {reason}")
        why = f"not started: another process held the book ({reason})"
        rid = record_unrun(store, _reporter(store, reporters), fire.phase, fire.night, "skipped", why,
                           step="scheduler")
        return _failed(store, stamp, fire, "skipped", "busy", why, rid, alert)
    if status == "paused":
        return _log(store, stamp, fire, "paused", reason, run_id=run_id)
    if status == "skipped":  # the key had already run
        return _log(store, stamp, fire, "done", reason, run_id=run_id)
    # the run that was made may be under another date than the trigger's key: a live night on data that stopped
    # updating plans (and fails) the data's latest session, measured against the calendar
    ended, error = (watch.run_end(run_id) if run_id else None) or (None, None)
    if ended == "error":
        error = error or "the run ended in error"
        cls: FailureClass = "stale_data" if error.startswith("stale data") else "error"
        return _failed(store, stamp, fire, "failed", cls, error, run_id, alert)
    return _log(store, stamp, fire, "ran", reason or "finished", run_id=run_id)


def _reporter(store: Store, reporters: Sequence[Reporter]) -> Reporter:
    return Fanout([StoreReporter(store), *reporters])


def _log(store: Store, stamp: str, fire: Fire, outcome: FireOutcome, reason: str, *,
         failure: FailureClass | None = None, run_id: str | None = None) -> FireRecord:
    log_ = ScheduleLog(store)
    row = log_.record(at=stamp, phase=fire.phase, session=fire.session, night=fire.night, outcome=outcome,
                      reason=reason, failure=failure, run_id=run_id)
    return log_.fire(row)


def _failed(store: Store, stamp: str, fire: Fire, outcome: FireOutcome, failure: FailureClass, why: str,
            run_id: str | None, alert: Alert) -> FireRecord:
    """A failed or skipped scheduled run: in the ledger, in the log, and on the errors channel (a run that reported
    its own failure there is named again as the scheduler's: the one line an operator looks for)."""
    record = _log(store, stamp, fire, outcome, why, failure=failure, run_id=run_id)
    text = f"scheduled {fire.phase} for {fire.night} {outcome} ({failure}): {why}"
    log.warning(text)
    try:
        alert(text, run_id)
    except Exception as exc:  # noqa: BLE001 - the alert is reporting: off the critical path (ARCHITECTURE.md: invariant 7)
        log.warning("could not alert %r: %s", text, exc)
    return record
