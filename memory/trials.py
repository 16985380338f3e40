"""Trials: every evaluated configuration (eval cases, sweeps, tuning trials), so a later eval's deflated Sharpe
counts every configuration tried, not only the one reported."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date
from typing import Any, Protocol

from pydantic import Field, field_validator

from memory.clock import now_utc
from memory.db import Database
from memory.records import Record


class Trial(Record):
    """One evaluated configuration over [start, end]; ``config_hash`` is the SHA-256 of its canonical JSON."""

    id: int
    kind: str
    config_hash: str
    config: dict[str, Any]
    start: date
    end: date
    metrics: dict[str, Any] = Field(default_factory=dict)
    created: str

    @field_validator("config", "metrics", mode="before")
    @classmethod
    def _parsed(cls, v: Any) -> Any:
        return json.loads(v) if isinstance(v, str) else v


class TrialStore(Protocol):
    def record_trial(self, kind: str, config: Mapping[str, Any], start: date, end: date,
                     metrics: Mapping[str, Any]) -> int: ...
    def trials(self, kind: str | None = None) -> list[Trial]: ...
    def trial_count(self, kind: str | None = None) -> int: ...


class Trials:
    """``TrialStore`` over the store's database (a part of ``memory.store.Store``)."""

    db: Database

    def transaction(self) -> Any: ...

    def _select(self, table: str, order: str, **equals: Any) -> list[dict[str, Any]]: ...

    def record_trial(self, kind: str, config: Mapping[str, Any], start: date, end: date,
                     metrics: Mapping[str, Any]) -> int:
        """One evaluated configuration; ``config_hash`` is the SHA-256 of its canonical JSON."""
        text = json.dumps(config, sort_keys=True, default=str)
        digest = hashlib.sha256(text.encode()).hexdigest()
        with self.transaction():
            return self.db.insert_id("trials", {
                "kind": kind, "config_hash": digest, "config": text, "start": start.isoformat(),
                '"end"': end.isoformat(), "metrics": json.dumps(metrics, default=str, separators=(",", ":")),
                "created": now_utc()})

    def trials(self, kind: str | None = None) -> list[Trial]:
        return Trial.from_rows(self._select("trials", "id", **({"kind": kind} if kind else {})))

    def trial_count(self, kind: str | None = None) -> int:
        """Distinct configurations tried (the N a deflated Sharpe deflates by)."""
        sql = "SELECT COUNT(DISTINCT config_hash) FROM trials" + (" WHERE kind = ?" if kind else "")
        return int(self.db.execute(sql, (kind,) if kind else ()).fetchone()[0])
