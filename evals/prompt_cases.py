"""Prompt eval case sets: JSONL under ``evals/cases/``, one case per line, each what one role was shown on one night
(the context), what the desk decided (the labels) and what happened next (the outcomes).

| role | context | labels | outcomes |
| --- | --- | --- | --- |
| overlay | the weather snapshot, the night's entry proposals and their features | proposal key → decision | proposal key → return over its horizon |
| weather | the weather snapshot | ``nudge`` → -1, 0 or 1 | ``benchmark`` → the benchmark's return over the next 21 sessions |
| risk | the snapshot, the new entries and the book | symbol → ``veto`` / ``shrink`` (absent: accepted) | symbol → return over the pick's horizon |

``build_cases`` makes them from a replay of history (the labels are the desk's own decisions that night, by the
rules provider unless configured otherwise). A development set comes from before 2019 only: a range that reaches
the hold-out is refused unless asked for as a hold-out set, which is named so and never used to choose anything.
Hand-written sets (``*-hostile.jsonl``: prompt injection, contradictory signals, missing data) follow the same
shape, with ``source = "hand"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evals.attribution import forward_returns
from evals.metrics import VALIDATION_END
from graph.errors import DeskError
from graph.providers.base import ENTRY_ACTIONS, BookEntry, BookSummary
from vocab.contracts import Proposal, WeatherSnapshot

CASES_DIR = Path(__file__).resolve().parent / "cases"
PromptRole = Literal["overlay", "weather", "risk"]
ROLES: tuple[str, ...] = ("overlay", "weather", "risk")
WEATHER_HORIZON = 21


class PromptCase(BaseModel):
    """What one role saw on one night, what the desk decided, and what happened next."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    role: PromptRole
    as_of: date
    source: Literal["history", "hand"] = "history"
    tags: tuple[str, ...] = ()
    note: str = ""
    snapshot: WeatherSnapshot
    proposals: list[Proposal] = Field(default_factory=list)
    features: dict[str, dict[str, float]] = Field(default_factory=dict)
    entries: list[BookEntry] = Field(default_factory=list)
    book: BookSummary | None = None
    labels: dict[str, str | int] = Field(default_factory=dict)
    outcomes: dict[str, float | None] = Field(default_factory=dict)


def load_cases(path: Path, role: str | None = None) -> list[PromptCase]:
    """Every case of a JSONL file (of one role, if given); a bad line is one error naming the file and line."""
    if not path.is_file():
        have = sorted(p.name for p in CASES_DIR.glob("*.jsonl"))
        raise DeskError(f"case set not found: {path}" + (f" (shipped sets: {', '.join(have)})" if have else ""))
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            case = PromptCase.model_validate_json(line)
        except ValidationError as exc:
            e = exc.errors()[0]
            raise DeskError(f"{path.name} line {n}: {'.'.join(str(p) for p in e['loc']) or 'case'}: {e['msg']}") \
                from None
        if role is None or case.role == role:
            out.append(case)
    return out


def write_cases(path: Path, cases: Iterable[PromptCase]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [c.model_dump_json(exclude_defaults=False) for c in cases]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)
    return len(rows)


def check_development_range(start: date, end: date, holdout: bool) -> None:
    """A development set is pre-2019 only; a hold-out set is the hold-out only. Refused otherwise, saying why."""
    if holdout and start <= VALIDATION_END:
        raise DeskError(f"a hold-out case set starts after {VALIDATION_END}: --from {start} is in the development "
                        f"history")
    if not holdout and end > VALIDATION_END:
        raise DeskError(f"a development case set uses history to {VALIDATION_END} only (from 2019 on is the "
                        f"hold-out): --to {end}; pass --holdout to build a hold-out set, never used to choose")


class Night(BaseModel):
    """What the roles were shown on one night and what they answered (``evals.capture`` records it)."""

    day: date
    snapshot: WeatherSnapshot | None = None
    nudge: int | None = None
    proposals: list[Proposal] = Field(default_factory=list)
    features: dict[str, dict[str, float]] = Field(default_factory=dict)
    verdicts: dict[str, str] = Field(default_factory=dict)
    entries: list[BookEntry] = Field(default_factory=list)
    book: BookSummary | None = None
    book_snapshot: WeatherSnapshot | None = None
    review: dict[str, str] = Field(default_factory=dict)


def cases_of_night(night: Night, close: pd.DataFrame, benchmark: str, roles: Iterable[str]) -> list[PromptCase]:
    """The night's cases for each role: what it was shown, what the desk answered, what happened next."""
    day, out = night.day, []
    if night.snapshot is None:
        return out
    entries = [p for p in night.proposals if p.action in ENTRY_ACTIONS]
    if "overlay" in roles and entries:
        rows = [{"as_of": p.as_of, "symbol": p.symbol, "horizon_days": p.horizon_days} for p in entries]
        out.append(PromptCase(
            id=f"overlay-{day}", role="overlay", as_of=day, snapshot=night.snapshot, proposals=entries,
            features={p.symbol: _finite(night.features.get(p.symbol, {})) for p in entries},
            labels={p.key: night.verdicts[p.key] for p in entries if p.key in night.verdicts},
            outcomes=dict(zip((p.key for p in entries), forward_returns(close, rows), strict=True))))
    if "weather" in roles:
        [ahead] = forward_returns(close, [{"as_of": day, "symbol": benchmark, "horizon_days": WEATHER_HORIZON}])
        out.append(PromptCase(id=f"weather-{day}", role="weather", as_of=day, snapshot=night.snapshot,
                              labels={} if night.nudge is None else {"nudge": night.nudge},
                              outcomes={"benchmark": ahead}))
    if "risk" in roles and night.entries and night.book is not None:
        horizon = {p.symbol: p.horizon_days for p in entries}
        rows = [{"as_of": day, "symbol": e.symbol, "horizon_days": horizon.get(e.symbol, 5)} for e in night.entries]
        out.append(PromptCase(id=f"risk-{day}", role="risk", as_of=day,
                              snapshot=night.book_snapshot or night.snapshot, entries=night.entries, book=night.book,
                              labels=dict(night.review),
                              outcomes=dict(zip((e.symbol for e in night.entries), forward_returns(close, rows),
                                                strict=True))))
    return out


def _finite(row: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in row.items() if isinstance(v, (int, float)) and v == v and abs(v) != float("inf")}
