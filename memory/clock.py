"""The store's clock: times it writes are UTC ISO text with milliseconds and their zone."""

from __future__ import annotations

from datetime import UTC, datetime


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
