"""The market as the desk sees it: bars, per-asset features and the weather, computed once and cached.

Everything here is causal (a value at t uses data up to t), so one MarketView computed over all stored data serves
every date of a replay. The computed frames are cached on disk under a fingerprint of the stored data.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from memory.store import Store
from tools.contracts import WeatherSnapshot
from tools.features import asset_features, feature_row
from tools.weather import compute_weather, snapshot

CACHE_VERSION = "1"


@dataclass
class MarketView:
    store: Store
    universe: tuple[str, ...]
    benchmark: str
    cache_dir: Path | None = None
    _close: pd.DataFrame | None = field(default=None, repr=False)
    _sessions: pd.DatetimeIndex | None = field(default=None, repr=False)
    _panel: pd.DataFrame | None = field(default=None, repr=False)
    _weather: pd.DataFrame | None = field(default=None, repr=False)
    _day: tuple[date, pd.DataFrame, dict[str, dict[str, float]]] | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ data
    @property
    def close(self) -> pd.DataFrame:
        if self._close is None:
            self._close = self.store.frame("close")
        return self._close

    @property
    def sessions(self) -> pd.DatetimeIndex:
        """The benchmark's dates: the trading calendar of the stored data."""
        if self._sessions is None:
            bench = self.close[self.benchmark] if self.benchmark in self.close else pd.Series(dtype=float)
            self._sessions = pd.DatetimeIndex(bench.dropna().index)
        return self._sessions

    @property
    def tradable(self) -> tuple[str, ...]:
        return tuple(s for s in self.universe if s in self.close)

    def price(self, symbol: str, day: date) -> float | None:
        try:
            value = self.close.at[pd.Timestamp(day), symbol]
        except KeyError:
            return None
        return None if pd.isna(value) else float(value)

    def fingerprint(self) -> str:
        rows = [(s["symbol"], s["first_date"], s["last_date"], s["rows"]) for s in self.store.symbols()]
        key = json.dumps([CACHE_VERSION, self.universe, self.benchmark, rows])
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    # ------------------------------------------------------------------ computed
    def ensure(self) -> None:
        """Compute (or load from the disk cache) the feature panel and the weather frame."""
        if self._panel is not None:
            return
        path = self.cache_dir / f"market-{self.fingerprint()}.pkl" if self.cache_dir else None
        if path is not None and path.exists():
            with path.open("rb") as fh:
                self._panel, self._weather = pickle.load(fh)
            return
        close = self.close
        volume = self.store.frame("volume")
        bench = close[self.benchmark].dropna()
        self._panel = asset_features(close.loc[bench.index, list(self.tradable)], bench)
        self._weather = compute_weather(close, volume, self.tradable, self.benchmark)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            for old in path.parent.glob("market-*.pkl"):
                old.unlink()
            tmp = path.with_suffix(".tmp")
            with tmp.open("wb") as fh:
                pickle.dump((self._panel, self._weather), fh, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(path)

    @property
    def panel(self) -> pd.DataFrame:
        self.ensure()
        return self._panel

    @property
    def weather(self) -> pd.DataFrame:
        self.ensure()
        return self._weather

    def _on(self, day: date) -> tuple[date, pd.DataFrame, dict[str, dict[str, float]]]:
        # every node of one night reads the same date: keep its block and per-symbol dicts (NaN dropped)
        if self._day is None or self._day[0] != day:
            block = feature_row(self.panel, day)
            values = block.to_numpy()
            cols = list(block.columns)
            dicts = {sym: {c: float(v) for c, v in zip(cols, row, strict=True) if v == v}
                     for sym, row in zip(block.index, values, strict=True)}
            self._day = (day, block, dicts)
        return self._day

    def features_on(self, day: date) -> pd.DataFrame:
        """Symbols × features on one date (only symbols with a bar that day)."""
        return self._on(day)[1]

    def feature_dicts(self, day: date) -> dict[str, dict[str, float]]:
        """The same block as plain dicts per symbol, NaN features left out."""
        return self._on(day)[2]

    def snapshot(self, day: date) -> WeatherSnapshot:
        return snapshot(self.weather, day)
