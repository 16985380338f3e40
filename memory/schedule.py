"""The scheduler's ledger: every trigger of ``desk serve``'s scheduler and what it came to (ARCHITECTURE.md: invariant 9: no failure
is silent). A failed or skipped scheduled run is counted by ``/metrics``, shown by ``desk status`` and ``/health``
from here — whichever process asks, and after a restart.

Times are the scheduler's clock (UTC ISO text); ``session`` is the trading day the trigger fired on, ``night`` the
run key's date (a morning's is the previous session's).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from memory.store import Store
from vocab.terms import FailureClass, FireOutcome

DECISIVE: tuple[str, ...] = ("ran", "failed", "skipped", "paused", "done")  # a trigger that settled its run key


class FireRecord(BaseModel):
    """One trigger of a phase and its outcome (``failure``: the class of a failed or skipped one)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    at: str
    phase: str
    session: date
    night: date | None
    outcome: FireOutcome
    failure: FailureClass | None
    run_id: str | None
    reason: str


class ScheduleLog:
    def __init__(self, store: Store) -> None:
        self.db = store.db

    def record(self, *, at: str, phase: str, session: date, night: date | None, outcome: FireOutcome,
               reason: str, failure: FailureClass | None = None, run_id: str | None = None) -> int:
        return self.db.insert_id("schedule_fires", {
            "at": at, "phase": phase, "session": session.isoformat(),
            "night": None if night is None else night.isoformat(), "outcome": outcome, "failure": failure,
            "run_id": run_id, "reason": reason})

    def fire(self, fire_id: int) -> FireRecord:
        return FireRecord.model_validate(self.db.query("SELECT * FROM schedule_fires WHERE id = ?", [fire_id])[0])

    def fires(self, limit: int = 20, phase: str | None = None) -> list[FireRecord]:
        """The latest triggers first (of one phase)."""
        where, args = ("WHERE phase = ?", [phase]) if phase else ("", [])
        rows = self.db.query(f"SELECT * FROM schedule_fires {where} ORDER BY id DESC LIMIT ?", [*args, limit])
        return [FireRecord.model_validate(r) for r in rows]

    def last_decisive(self, phase: str) -> FireRecord | None:
        """The latest trigger of ``phase`` that settled its run key (ran, failed, skipped, paused, or found it
        done) — not a deferral, a retry while busy, or a day the exchange was closed."""
        marks = ", ".join("?" * len(DECISIVE))
        rows = self.db.query(f"SELECT * FROM schedule_fires WHERE phase = ? AND outcome IN ({marks}) "
                             "ORDER BY id DESC LIMIT 1", [phase, *DECISIVE])
        return FireRecord.model_validate(rows[0]) if rows else None

    def last_at(self) -> str | None:
        """When the scheduler last decided anything (None: it never ran on this desk)."""
        row = self.db.execute("SELECT max(at) FROM schedule_fires").fetchone()
        return row[0] if row else None

    def last_at_of(self, phase: str, night: date) -> FireRecord | None:
        """The latest trigger of the key (``phase``, ``night``), None if the scheduler never fired it."""
        rows = self.db.query("SELECT * FROM schedule_fires WHERE phase = ? AND night = ? ORDER BY id DESC LIMIT 1",
                             [phase, night.isoformat()])
        return FireRecord.model_validate(rows[0]) if rows else None

    def failures(self) -> list[tuple[str, str, int]]:
        """(phase, failure class, count) of every scheduled run that failed or was skipped."""
        return [(p, f, int(n)) for p, f, n in self.db.execute(
            "SELECT phase, failure, count(*) FROM schedule_fires WHERE outcome IN ('failed', 'skipped') "
            "GROUP BY phase, failure ORDER BY phase, failure")]
