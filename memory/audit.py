"""The desk's state and its audit: the halt switch, the circuit breakers, and the audit log every override and
mutating command writes (who, when, what, why, effect)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any, Protocol

from pydantic import field_validator

from memory.clock import now_utc
from memory.db import Database
from memory.records import Record


class DeskState(Record):
    """Halted or not, since when, why, and who halted it."""

    halted: bool
    reason: str | None
    since: str | None
    actor: str | None


class Breaker(Record):
    """A circuit breaker: it blocks new entries for ``sessions`` trading sessions after ``tripped``."""

    name: str
    tripped: date
    sessions: int
    reason: str


class AuditEntry(Record):
    """One line of the audit log; ``payload`` is what the action recorded with it."""

    id: int
    at: str
    actor: str
    action: str
    target: str | None
    reason: str | None
    payload: dict[str, Any]

    @field_validator("payload", mode="before")
    @classmethod
    def _parsed(cls, v: Any) -> Any:
        return json.loads(v) if isinstance(v, str) else (v or {})


class AuditStore(Protocol):
    """The store's halt switch, breakers and audit log."""

    def desk_state(self) -> DeskState: ...
    def set_halted(self, halted: bool, reason: str | None, actor: str) -> None: ...
    def trip_breaker(self, name: str, tripped: date, sessions: int, reason: str) -> None: ...
    def breakers(self) -> list[Breaker]: ...
    def clear_breakers(self, actor: str, reason: str) -> int: ...
    def audit(self, actor: str, action: str, target: str | None, reason: str | None,
              payload: Mapping[str, Any] | None = None) -> None: ...
    def audit_log(self, limit: int = 50) -> list[AuditEntry]: ...


class Audit:
    """``AuditStore`` over the store's database (a part of ``memory.store.Store``)."""

    db: Database

    def transaction(self) -> Any: ...

    def desk_state(self) -> DeskState:
        return DeskState.from_row(self.db.query("SELECT halted, reason, since, actor FROM desk_state WHERE id=1")[0])

    def set_halted(self, halted: bool, reason: str | None, actor: str) -> None:
        with self.transaction():
            self.db.execute("UPDATE desk_state SET halted = ?, reason = ?, since = ?, actor = ? WHERE id = 1",
                            [int(halted), reason, now_utc() if halted else None, actor])
            self.audit(actor, "halt" if halted else "resume", "desk", reason)

    def trip_breaker(self, name: str, tripped: date, sessions: int, reason: str) -> None:
        """A circuit breaker blocks new entries for ``sessions`` trading sessions after ``tripped``."""
        with self.transaction():
            self.db.upsert("breakers", [{"name": name, "tripped": tripped.isoformat(), "sessions": sessions,
                                         "reason": reason}], ("name",))
            self.audit(f"circuit_breaker:{name}", "trip", "desk", reason)

    def breakers(self) -> list[Breaker]:
        return Breaker.from_rows(self.db.query("SELECT * FROM breakers ORDER BY tripped"))

    def clear_breakers(self, actor: str, reason: str) -> int:
        with self.transaction():
            n = int(self.db.execute("DELETE FROM breakers").rowcount)
            if n:
                self.audit(actor, "clear_breakers", "desk", reason)
        return n

    def audit(self, actor: str, action: str, target: str | None, reason: str | None,
              payload: Mapping[str, Any] | None = None) -> None:
        self.db.insert("audit", [{"at": now_utc(), "actor": actor, "action": action, "target": target,
                                  "reason": reason,
                                  "payload": json.dumps(payload or {}, default=str, separators=(",", ":"))}])

    def audit_log(self, limit: int = 50) -> list[AuditEntry]:
        """The latest entries first."""
        return AuditEntry.from_rows(self.db.query("SELECT * FROM audit ORDER BY id DESC LIMIT ?", [limit]))
