"""Load a provider's bars into the store: validate everything, then write in one transaction or not at all."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from memory.store import Store
from tools.data.base import DataValidationError, Fetched, MarketDataProvider, SourceUnserved
from tools.data.validate import check_continuity, validate_bars


@dataclass
class LoadReport:
    """What one load did: rows written per symbol, and the symbols refused (with why)."""

    source: str
    written: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    note: str | None = None
    until: date | None = None

    def summary(self) -> str:
        """One line for a console or a Slack message."""
        parts = [f"{self.source}: {sum(self.written.values())} rows for {len(self.written)} symbols"]
        if self.until is not None:
            parts.append(f"truncated at {self.until.isoformat()}")
        if self.rejected:
            parts.append("rejected " + "; ".join(f"{s} ({r})" for s, r in self.rejected.items()))
        if self.note:
            parts.append(self.note)
        return ", ".join(parts)


def load_into_store(store: Store, provider: MarketDataProvider, symbols: Sequence[str] | None = None,
                    until: date | None = None, strict: bool = False, complete: bool = False,
                    progress: Callable[[str], None] | None = None, max_jump: float = 0.75) -> LoadReport:
    """Fetch, validate and write bars; return what happened.

    Without ``until`` the load is incremental: a symbol the store holds through date L gets only rows after L (the
    full series is validated first, so jump checks see continuity). With ``until`` the store is truncated there.
    ``strict`` (for user files) turns any rejection into a DataValidationError; ``complete`` (for a live source)
    turns any symbol asked for and not served into SourceUnserved naming each — in both, nothing is written. A
    provider that serves nothing at all (offline) is SourceUnserved: nothing is written, nothing flagged. A
    provider that restates history (``Fetched.restated``: adjusted prices) replaces each symbol's whole series.
    """
    say = progress or (lambda _msg: None)
    say(f"fetching {'all symbols' if symbols is None else f'{len(symbols)} symbols'} from {provider.name}")
    fetched = provider.fetch(symbols, until)
    if fetched.stale:
        raise SourceUnserved(f"{fetched.note or provider.name + ' returned nothing'}: no bars loaded, the store is "
                             f"as it was")
    frames, rejected = _revalidate(fetched, max_jump)
    if not fetched.restated:  # a restated series replaces the stored one: no seam to check, nothing to append to
        _continuity(store, frames, rejected, max_jump)
    say(f"validated {len(frames)} symbols, rejected {len(rejected)}")
    if strict and rejected:
        first = next(iter(rejected))
        raise DataValidationError(first, rejected[first])
    if complete and rejected:
        raise SourceUnserved(incomplete(provider.name, len(frames) + len(rejected), rejected))
    if until is None and not fetched.restated:
        frames = {s: _after(f, store.last_bar_date(s)) for s, f in frames.items()}
    written: dict[str, int] = {}
    if frames:
        say(f"writing {sum(len(f) for f in frames.values())} rows for {len(frames)} symbols")
        written = store.write_bars(frames, {s: fetched.kinds[s] for s in frames}, source=provider.name, until=until,
                                   note=fetched.notes or None, replace=fetched.restated)
    report = LoadReport(provider.name, written, rejected, note=fetched.note, until=until)
    say(report.summary())
    return report


def incomplete(source: str, asked: int, rejected: Mapping[str, str], shown: int = 5) -> str:
    """One line: how many of the symbols asked for the source did not serve, each with why (the first few)."""
    named = "; ".join(f"{s} ({why})" for s, why in list(rejected.items())[:shown])
    more = f"; and {len(rejected) - shown} more" if len(rejected) > shown else ""
    return (f"{source} served usable bars for {asked - len(rejected)} of the {asked} symbols asked: {named}{more}; "
            f"no bars loaded, the store is as it was")


def _revalidate(fetched: Fetched, max_jump: float) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    frames: dict[str, pd.DataFrame] = {}
    rejected = dict(fetched.rejected)
    for symbol, frame in fetched.frames.items():
        kind = fetched.kinds.get(symbol)
        if kind is None:
            rejected[symbol] = "the provider gave no kind (equity, etf, index or macro)"
            continue
        try:
            frames[symbol] = validate_bars(symbol, frame, kind, max_jump)
        except DataValidationError as exc:
            rejected[symbol] = exc.reason
    return frames, rejected


def _continuity(store: Store, frames: dict[str, pd.DataFrame], rejected: dict[str, str], max_jump: float) -> None:
    """Reject a symbol whose new bars jump from the series the store already holds (macro series excepted)."""
    held = {r.symbol: r.kind for r in store.symbols()}
    close = store.frame("close") if any(s in held for s in frames) else None
    for symbol in [s for s in frames if s in held and held[s] != "macro"]:
        try:
            check_continuity(symbol, close[symbol], frames[symbol], max_jump)
        except DataValidationError as exc:
            rejected[symbol] = exc.reason
            del frames[symbol]


def _after(frame: pd.DataFrame, last: date | None) -> pd.DataFrame:
    return frame if last is None else frame[frame.index > pd.Timestamp(last)]
