"""The plain inputs every model reads: the per-asset feature panel, the universe's closes, the weather frame and
the benchmark's closes, aligned once onto the benchmark's sessions.

Built from a ``tools.market.MarketView`` with ``ModelInputs.from_view(view)`` (duck-typed: models never import
tools), or from the four frames with ``ModelInputs.build``. Dense numpy views (a sessions × symbols × features cube,
a sessions × symbols close matrix) are computed once per object and memoised, so one inference call only slices
arrays. Everything is causal as long as the frames are: ``until(day)`` drops every row after ``day``, and a
prediction at ``day`` reads nothing after it either way (the look-ahead tests check both give the same result).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from models.errors import NoData, UnknownSymbol

T = TypeVar("T")


def _as_dates(index: pd.Index) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(index).normalize().as_unit("ns")


@dataclass(frozen=True, eq=False)
class ModelInputs:
    """Frames on the benchmark's sessions: ``panel`` (date, symbol) × features, ``close`` sessions × symbols,
    ``weather`` sessions × columns, ``benchmark`` the benchmark's closes."""

    panel: pd.DataFrame
    close: pd.DataFrame
    weather: pd.DataFrame
    benchmark: pd.Series
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, panel: pd.DataFrame, close: pd.DataFrame, weather: pd.DataFrame, benchmark: pd.Series) -> ModelInputs:
        """Normalise dates, put every frame on the benchmark's sessions. ``close`` holds the universe only."""
        if panel.index.nlevels != 2:
            raise ValueError("panel must be indexed by (date, symbol); tools.features.asset_features builds one")
        bench = benchmark.dropna().astype(float)
        bench.index = _as_dates(bench.index)
        bench = bench[~bench.index.duplicated(keep="last")].sort_index()
        if bench.empty:
            raise ValueError("the benchmark has no closes")
        sessions = bench.index
        close = close.copy()
        close.index = _as_dates(close.index)
        close.columns = close.columns.astype(str)
        close = close[~close.index.duplicated(keep="last")].sort_index().reindex(sessions).astype(float)
        weather = weather.copy()
        weather.index = _as_dates(weather.index)
        weather = weather[~weather.index.duplicated(keep="last")].sort_index().reindex(sessions)
        dates = _as_dates(panel.index.get_level_values(0))
        symbols = panel.index.get_level_values(1).astype(str)
        panel = panel.set_axis(pd.MultiIndex.from_arrays([dates, symbols], names=["date", "symbol"])).sort_index()
        return cls(panel=panel, close=close, weather=weather, benchmark=bench)

    @classmethod
    def from_view(cls, view: Any) -> ModelInputs:
        """From a MarketView-like object with ``.panel``, ``.weather``, ``.close``, ``.tradable``, ``.benchmark``."""
        return cls.build(view.panel, view.close[list(view.tradable)], view.weather, view.close[view.benchmark])

    # ------------------------------------------------------------------ shape
    @property
    def sessions(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.benchmark.index)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.close.columns)

    def until(self, day: date | pd.Timestamp) -> ModelInputs:
        """The same inputs with every row after ``day`` dropped (what a store truncated at ``day`` would give)."""
        end = pd.Timestamp(day)
        dates = self.panel.index.get_level_values(0)
        return ModelInputs(panel=self.panel[dates <= end], close=self.close.loc[:end], weather=self.weather.loc[:end],
                           benchmark=self.benchmark.loc[:end])

    def session_array(self) -> np.ndarray:
        """The sessions as a sorted datetime64[ns] array (memoised: inference looks dates up in it)."""
        return self.memo("sessions", lambda: self.sessions.as_unit("ns").to_numpy())

    def position(self, day: date | pd.Timestamp) -> int:
        """Index of the last session on or before ``day``; NoData before the first session."""
        days = self.session_array()
        pos = int(np.searchsorted(days, np.datetime64(pd.Timestamp(day).date(), "ns"), side="right")) - 1
        if pos < 0:
            raise NoData(f"no session on or before {pd.Timestamp(day).date()}: the data starts "
                         f"{self.sessions[0].date() if len(self.sessions) else 'never'}")
        return pos

    def session(self, pos: int) -> date:
        return date.fromisoformat(str(self.session_array()[pos])[:10])

    def symbol_positions(self, symbols: Sequence[str]) -> np.ndarray:
        """Column positions of ``symbols`` in the universe; UnknownSymbol (with a suggestion) for any other."""
        lookup = self.memo("symbol_lookup", lambda: {s: i for i, s in enumerate(self.symbols)})
        out = []
        for symbol in symbols:
            if symbol not in lookup:
                raise UnknownSymbol(symbol, self.symbols)
            out.append(lookup[symbol])
        return np.asarray(out, dtype=int)

    # ------------------------------------------------------------------ memoised dense views
    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` once per inputs object and key (the inputs are treated as immutable)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def close_matrix(self) -> np.ndarray:
        """Closes as a sessions × symbols float array (NaN where a symbol has no close)."""
        return self.memo("close", lambda: self.close.to_numpy(dtype=float))

    def benchmark_array(self) -> np.ndarray:
        return self.memo("benchmark", lambda: self.benchmark.to_numpy(dtype=float))

    def asset_cube(self, features: Sequence[str]) -> np.ndarray:
        """Panel features as a sessions × symbols × features array (NaN where the panel has no value)."""
        names = tuple(features)

        def compute() -> np.ndarray:
            missing = [name for name in names if name not in self.panel.columns]
            if missing:
                raise KeyError(f"panel lacks the features {missing}; build it with tools.features.asset_features")
            grid = pd.MultiIndex.from_product([self.sessions, list(self.symbols)], names=["date", "symbol"])
            dense = self.panel[list(names)].reindex(grid).to_numpy(dtype=float)
            return dense.reshape(len(self.sessions), len(self.symbols), len(names))

        return self.memo("cube:" + ",".join(names), compute)

    def weather_matrix(self, columns: Sequence[str]) -> np.ndarray:
        """Weather columns as a sessions × columns float array."""
        names = tuple(columns)

        def compute() -> np.ndarray:
            missing = [name for name in names if name not in self.weather.columns]
            if missing:
                raise KeyError(f"weather frame lacks {missing}; build it with tools.weather.compute_weather")
            return self.weather[list(names)].astype(float).to_numpy()

        return self.memo("weather:" + ",".join(names), compute)
