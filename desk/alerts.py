"""What needs an operator now (ARCHITECTURE.md: invariant 9: no failure is silent) — the one list ``/health`` answers 503 with and
``desk status`` leads with:

- the desk is halted, or a circuit breaker blocks new entries (a book mismatch, the daily loss, repeated errors) —
  today, or on the book's latest session (a desk that has not traded since it tripped);
- the market data is older than ``data.max_age_sessions`` exchange sessions against the calendar's last closed
  session as of now (``tools.freshness.as_of_now``);
- the last scheduled run of a phase failed or was skipped, and its key has not run since;
- the scheduler of this process is not running (``/health`` of a ``desk serve`` that should run one).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from desk.config import Settings
from memory.schedule import FireRecord, ScheduleLog
from memory.store import Store
from memory.watch import Watch
from tools.breakers import active
from tools.freshness import Freshness, as_of_now

PHASES = ("night", "morning")
NY = ZoneInfo("America/New_York")


class Alerts(BaseModel):
    """Each reason the desk needs an operator, one line each (none: all is well), and the records behind them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reasons: list[str]
    halted: bool
    breakers: list[str]
    freshness: Freshness
    failed: list[FireRecord]  # the last scheduled run of a phase, failed or skipped, its key not run since

    @property
    def ok(self) -> bool:
        return not self.reasons


def alerts(store: Store, settings: Settings, now: datetime, *, scheduler: bool | None = None) -> Alerts:
    """The desk's alerts as of ``now`` (``scheduler``: whether this process's scheduler runs; None: not asked)."""
    state = store.desk_state()
    halted = bool(state.halted)
    reasons = [f"desk halted: {state.reason} (since {state.since})"] if halted else []
    watch = Watch(store)
    sessions = watch.sessions(settings.data.benchmark)
    book = watch.book(settings.broker.initial_cash)
    days = {now.astimezone(NY).date(), *([] if book is None else [book.as_of])}  # today, or the book's last session
    tripped = sorted({b for day in days for b in active(store.breakers(), day, sessions)})
    reasons += [f"{b}; new entries are blocked until `desk resume`" for b in tripped]
    fresh = as_of_now(sessions, settings.data.max_age_sessions, now, settings.cache_dir)
    if fresh.stale:
        reasons.append(f"stale data: {fresh.reason}")
    failed = []
    ledger = ScheduleLog(store)
    for phase in PHASES:
        last = ledger.last_decisive(phase)
        if last is None or last.outcome not in ("failed", "skipped") or last.night is None:
            continue
        if any(s == "ok" for _, s, _ in watch.key_runs(phase, last.night)):
            continue  # run since (by hand, or a later trigger)
        failed.append(last)
        reasons.append(f"the last scheduled {phase} ({last.night}) {last.outcome} at {last.at}: {last.reason}"
                       + (f" [{last.run_id}]" if last.run_id else ""))
    if scheduler is False:
        reasons.append("the scheduler is not running: no night or morning will run by itself")
    return Alerts(reasons=reasons, halted=halted, breakers=tripped, freshness=fresh, failed=failed)
