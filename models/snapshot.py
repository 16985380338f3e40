"""A registry snapshot: every saved version and its status at one instant, and the rule for which version may be
used on a date (ARCHITECTURE.md: invariant 4).

A version is usable on decision date D when it is promoted and at least its label horizon of sessions lies
strictly between its cutoff (the last date any of its labels read) and D's session: trained on data ending
before D, with a gap of at least the horizon. Among usable versions the newest cutoff wins (then the latest
decision). When none is usable, ``usable`` says why, so the agent can say so and stay out of decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Availability:
    """Whether a promoted model of ``name`` may be used on ``as_of``; ``reason`` says why or why not."""

    name: str
    as_of: date
    version: str | None
    cutoff: date | None
    reason: str

    @property
    def usable(self) -> bool:
        return self.version is not None


def calendar(sessions: Any) -> np.ndarray:
    """Sessions as a sorted, unique datetime64[ns] array (passed through when it already is one)."""
    if isinstance(sessions, np.ndarray) and sessions.dtype == "datetime64[ns]":
        return sessions
    return pd.DatetimeIndex(sessions).normalize().unique().sort_values().as_unit("ns").to_numpy()


def _horizon(row: dict[str, Any]) -> int:
    """A version's label horizon (older mean-reversion metadata keeps it in its params only)."""
    return int(row.get("horizon", row.get("params", {}).get("horizon")))


def gap_sessions(cutoff: date, as_of: date, sessions: Any) -> int:
    """Sessions strictly between ``cutoff`` and the last session on or before ``as_of``."""
    days = calendar(sessions)
    last = int(np.searchsorted(days, np.datetime64(as_of, "ns"), side="right")) - 1   # the decision's session
    first = int(np.searchsorted(days, np.datetime64(cutoff, "ns"), side="right"))    # first session after cutoff
    return max(0, last - first)


@dataclass(frozen=True)
class RegistrySnapshot:
    rows: tuple[dict[str, Any], ...]

    def versions(self, name: str) -> list[dict[str, Any]]:
        return [row for row in self.rows if row["name"] == name]

    def row(self, name: str, version: str) -> dict[str, Any] | None:
        return next((row for row in self.rows if row["name"] == name and row["version"] == version), None)

    def incumbent(self, name: str, before: date, excluding: str | None = None) -> dict[str, Any] | None:
        """The promoted version with the newest cutoff on or before ``before`` (the model a candidate for that
        cutoff must beat), or None."""
        promoted = [row for row in self.versions(name) if row.get("status") == "promoted"
                    and row["version"] != excluding and date.fromisoformat(row["cutoff"]) <= before]
        return promoted[-1] if promoted else None

    def usable(self, name: str, as_of: date, sessions: Sequence[Any] | pd.DatetimeIndex) -> Availability:
        """The promoted version usable on ``as_of`` (see the module docstring), or the reason there is none.
        ``sessions`` is the trading calendar; only sessions on or before ``as_of`` are read."""
        def none(reason: str) -> Availability:
            return Availability(name, as_of, None, None, reason)

        versions = self.versions(name)
        if not versions:
            return none(f"no {name} model has been trained; run the walk-forward training (desk train)")
        promoted = [row for row in versions if row.get("status") == "promoted"]
        if not promoted:
            latest = versions[-1]
            why = latest.get("reason") or "not yet decided"
            return none(f"none of its {len(versions)} trained versions is promoted (latest {latest['version']} "
                        f"is {latest.get('status', 'candidate')}: {why})")
        ready = [row for row in promoted
                 if gap_sessions(date.fromisoformat(row["cutoff"]), as_of, sessions) >= _horizon(row)]
        if not ready:
            first = promoted[0]
            return none(f"every promoted version is too recent: the earliest, {first['version']}, read data to "
                        f"{first['cutoff']} and needs {_horizon(first)} sessions between that and the decision")
        best = ready[-1]
        skipped = [row["version"] for row in promoted if row not in ready]
        note = f"; newer promoted versions {skipped} are within their purge gap" if skipped else ""
        return Availability(name, as_of, best["version"], date.fromisoformat(best["cutoff"]),
                            f"promoted: {best.get('reason', '')}{note}")

    def table(self) -> list[dict[str, Any]]:
        """One flat row per saved version, for a listing (``desk models``): what, when, how good, and its fate."""
        out = []
        for row in self.rows:
            validation = row.get("metrics", {}).get("validation", {})
            baselines = {k: v for k, v in (validation.get("baselines") or {}).items() if v is not None}
            best = max(baselines.items(), key=lambda kv: kv[1]) if baselines else (None, None)
            out.append({
                "name": row["name"], "version": row["version"], "status": row.get("status", "candidate"),
                "cutoff": row["cutoff"], "trained_on": row.get("trained_on"), "horizon": _horizon(row),
                "metric": validation.get("metric"), "validation": validation.get("value"),
                "best_baseline": best[0], "baseline_value": best[1],
                "in_sample": row.get("metrics", {}).get("in_sample", {}).get("value"),
                "reason": row.get("reason", ""), "decided_at": row.get("decided_at"),
                "features": row.get("features"), "seed": row.get("seed"),
                "content_hash": row.get("content_hash"), "code_version": row.get("code_version"),
            })
        return out
