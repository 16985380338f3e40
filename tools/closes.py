"""Closes as arrays: the sessions, the values and a vectorised symbol lookup of a frame of closes.

Several night nodes read the market's closes every night; converting the frame is the expensive part of reading
it, so the market view keeps its closes converted once (``MarketView.arrays``) and the readers take either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class CloseArrays:
    sessions: np.ndarray  # datetime64[D], sorted, unique (a duplicated date keeps its last row)
    values: np.ndarray    # sessions × columns
    names: np.ndarray     # the column names, sorted
    order: np.ndarray     # each sorted name's column position

    @property
    def empty(self) -> bool:
        return not len(self.sessions) or not len(self.names)

    def last_on_or_before(self, day) -> int:
        """The row of the last session on or before ``day`` (-1 when there is none)."""
        return int(np.searchsorted(self.sessions, np.datetime64(day, "D"), side="right")) - 1

    def columns_of(self, symbols) -> np.ndarray:
        """Each symbol's column (-1 for a symbol the frame does not hold)."""
        symbols = np.asarray(symbols, dtype=str)
        if not len(self.names):
            return np.full(len(symbols), -1)
        k = np.minimum(np.searchsorted(self.names, symbols), len(self.names) - 1)
        return np.where(self.names[k] == symbols, self.order[k], -1)


def close_arrays(close: pd.DataFrame | CloseArrays) -> CloseArrays:
    """``close`` (dates × symbols) as arrays; passed through when it already is."""
    if isinstance(close, CloseArrays):
        return close
    index = pd.DatetimeIndex(close.index)
    keep = ~index.duplicated(keep="last")
    days = index[keep].normalize().to_numpy().astype("datetime64[D]")
    rows = np.argsort(days, kind="stable")
    names = np.asarray([str(c) for c in close.columns], dtype=str)
    order = np.argsort(names, kind="stable")
    return CloseArrays(days[rows], close.to_numpy(dtype=float)[keep][rows], names[order], order)
