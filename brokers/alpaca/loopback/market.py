"""The loopback server's market: the clock and calendar (XNYS, from exchange_calendars), the latest trade, and daily
bars in Alpaca's shapes, paged as Alpaca pages them (``limit`` bars a page across symbols, ``next_page_token``).

Daily bars come from a ``History`` (symbol -> a frame of open, high, low, close, volume by date). The default is the
bundled closes (skfolio's 20 large US stocks): they have closes only, so their open, high and low are served as the
close and the volume as 0 — a loopback for tests, not market data.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

NEW_YORK = ZoneInfo("America/New_York")
History = Callable[[str], "pd.DataFrame | None"]


@cache
def _schedule() -> pd.DataFrame:
    import exchange_calendars as xcals

    return xcals.get_calendar("XNYS", start="2000-01-01").schedule


def sessions(start: date, end: date, skip: date | None = None) -> list[dict[str, str]]:
    """The broker calendar between two dates: each XNYS session's open and close, New York time."""
    rows = _schedule().loc[pd.Timestamp(start):pd.Timestamp(end)]
    out = []
    for day, row in rows.iterrows():
        if skip is not None and day.date() == skip:
            continue
        out.append({"date": day.date().isoformat(),
                    "open": row["open"].tz_convert(NEW_YORK).strftime("%H:%M"),
                    "close": row["close"].tz_convert(NEW_YORK).strftime("%H:%M"),
                    "session_open": "0400", "session_close": "2000",
                    "settlement_date": (day.date() + timedelta(days=1)).isoformat()})
    return out


def clock(now: datetime, is_open: bool) -> dict[str, Any]:
    """Alpaca's clock at ``now``: open or not, and the next open and close from the XNYS schedule."""
    sched = _schedule()
    today = pd.Timestamp(now.astimezone(NEW_YORK).date())
    later = sched.loc[today:]
    if later.empty:
        raise ValueError(f"the XNYS schedule ends before {today.date()}")
    first = later.iloc[0]
    close_today = first["close"].tz_convert(NEW_YORK) if later.index[0] == today else None
    nxt = later.iloc[1] if close_today is not None and len(later) > 1 else first
    next_open = nxt["open"].tz_convert(NEW_YORK).to_pydatetime()
    next_close = (close_today if close_today is not None and is_open else nxt["close"].tz_convert(NEW_YORK))
    return {"timestamp": now.isoformat(), "is_open": is_open, "next_open": next_open.isoformat(),
            "next_close": next_close.to_pydatetime().isoformat()}


@cache
def _bundled() -> pd.DataFrame:
    from skfolio.datasets import (
        load_sp500_dataset,  # shipped inside the skfolio package, no network
    )

    return load_sp500_dataset()


def bundled_history(symbol: str) -> pd.DataFrame | None:
    closes = _bundled()
    if symbol not in closes.columns:
        return None
    c = closes[symbol].dropna()
    return pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 0.0})


def latest_trade(price: float, when: datetime) -> dict[str, Any]:
    return {"t": when.astimezone(NEW_YORK).isoformat(), "x": "V", "p": price, "s": 100, "c": ["@"], "i": 1,
            "z": "A"}


def bars(history: History, symbols: list[str], start: date | None, end: date | None, limit: int,
         token: str | None) -> dict[str, Any]:
    """One page of daily bars, ``limit`` bars at most across the symbols, from the page ``token`` names."""
    offset = json.loads(base64.urlsafe_b64decode(token.encode())) if token else 0
    rows: list[tuple[str, dict[str, Any]]] = []
    for symbol in symbols:
        frame = history(symbol)
        if frame is None:
            continue
        if start is not None:
            frame = frame[frame.index >= pd.Timestamp(start)]
        if end is not None:
            frame = frame[frame.index <= pd.Timestamp(end)]
        for day, r in frame.iterrows():
            t = datetime.combine(day.date(), time(0, 0), NEW_YORK)
            rows.append((symbol, {"t": t.isoformat(), "o": float(r["open"]), "h": float(r["high"]),
                                  "l": float(r["low"]), "c": float(r["close"]), "v": float(r["volume"]),
                                  "n": 0, "vw": float(r["close"])}))
    page = rows[offset:offset + limit]
    out: dict[str, list[dict[str, Any]]] = {}
    for symbol, bar in page:
        out.setdefault(symbol, []).append(bar)
    more = offset + limit < len(rows)
    nxt = base64.urlsafe_b64encode(json.dumps(offset + limit).encode()).decode() if more else None
    return {"bars": out, "next_page_token": nxt}
