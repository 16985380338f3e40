"""TraderBot's four expert signals: macro/credit, volatility complexity, fragility and entropy shift.

All causal (a value at t uses data up to t) and vectorised over the whole range. Thresholds come from economic
convention or pre-2019 distributions, quoted beside each; nothing was tuned on 2019+ data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from tools.weather_inputs import ANNUAL, YIELD_MAX_AGE, WeatherInputs, asof_fresh, prepare_inputs

EXPERT_COLUMNS = ("macro_credit", "vol_complexity", "vol_panic", "unstable_calm", "fragility",
                  "entropy", "entropy_z", "entropy_shift")
CREDIT_NORM_MONTHS = 60          # five years of monthly spreads as the trailing norm (at least three)
# Volatility stress lines. VIX 15 is the calm/normal border and 40 a crisis print; realised 11% and 40% are the
# same lines 4 vol points lower (median implied-minus-realised premium). Vol-of-VIX: 21-session std of VIX log
# changes, annualised - a stand-in for VVIX, which is not in the data; 2014-2018 25th/95th pct 0.84 / 2.02.
VIX_CALM, VIX_CRISIS = 15.0, 40.0
RV_CALM, RV_CRISIS = 0.11, 0.40
VOV_LOW, VOV_HIGH = 0.8, 2.0
VOV_ELEVATED = 1.4               # about the 2014-2018 upper quartile (1.43)
# Panic: VIX 35+ closes happened only in genuine crises before 2019 (1998, 2001-02, 2008-09, 2010, 2011, 2015,
# 2018); realised 35% is above the 1990-2018 97th percentile of 21-session S&P 500 vol.
PANIC_VIX, PANIC_RV = 35.0, 0.35
# Fragility: 1990-2018 avg pairwise correlation of the 20 stocks median 0.28, late 2008 0.61-0.66; PC1 share
# median 0.34, 95th pct 0.56. Each maps linearly to 0..1 between a calm and a herding line.
CORR_CALM, CORR_HERD = 0.20, 0.60
PC1_CALM, PC1_HERD = 0.25, 0.65
ENTROPY_WINDOW, ENTROPY_NORM, ENTROPY_BINS = 60, 252, 12
ENTROPY_Z, ENTROPY_RUN = 2.0, 3   # |z| > 2 (a two-sided 5% deviation) for 3+ sessions in a row


def _ramp(x: pd.Series, lo: float, hi: float) -> pd.Series:
    return ((x - lo) / (hi - lo)).clip(0.0, 1.0)


def _nullable(mask: pd.Series, known: pd.Series) -> pd.Series:
    return pd.Series(mask.to_numpy(dtype=bool), index=mask.index, dtype="boolean").where(known.to_numpy())


def macro_credit(inp: WeatherInputs) -> pd.Series:
    """-1 (credit stress) .. +1 (benign): BAA-AAA level and 3-month change as z-scores vs the previous five years.

    z = mean of the two; score = -z/3 clipped, so |score| 0.5 is a 1.5-sigma reading.
    """
    s = inp.spread_obs
    if s.empty:
        return pd.Series(np.nan, index=inp.dates)
    norm = lambda x: x.rolling(CREDIT_NORM_MONTHS, min_periods=36)
    level_z = (s - norm(s).mean().shift(1)) / norm(s).std().shift(1)
    change = s.diff(3)
    trend_z = (change - norm(change).mean().shift(1)) / norm(change).std().shift(1)
    monthly = (-(level_z + trend_z) / 2.0 / 3.0).clip(-1.0, 1.0)
    return asof_fresh(monthly, inp.dates, YIELD_MAX_AGE)


def volatility_signals(inp: WeatherInputs) -> pd.DataFrame:
    """vol_complexity (0..1 stress), vol_panic and unstable_calm from VIX, vol-of-VIX and realised vol."""
    vix, rv = inp.vix, inp.bench_vol_21d
    vov = np.log(vix).diff().rolling(21, min_periods=21).std() * np.sqrt(ANNUAL)
    parts = pd.concat([_ramp(vix, VIX_CALM, VIX_CRISIS), _ramp(vov, VOV_LOW, VOV_HIGH),
                       _ramp(rv, RV_CALM, RV_CRISIS)], axis=1)
    panic = (vix >= PANIC_VIX) | (rv >= PANIC_RV)
    calm = (vov >= VOV_ELEVATED) & (vix < VIX_CALM)
    return pd.DataFrame({
        "vol_complexity": parts.mean(axis=1, skipna=True),
        "vol_panic": _nullable(panic, vix.notna() | rv.notna()),
        "unstable_calm": _nullable(calm, vix.notna() & vov.notna()),
    })


def fragility(inp: WeatherInputs) -> pd.Series:
    """0..1: mean of the universe's average pairwise correlation and PC1 share, each ramped calm -> herding."""
    c = inp.corr
    return (_ramp(c["avg_corr"], CORR_CALM, CORR_HERD) + _ramp(c["pc1_share"], PC1_CALM, PC1_HERD)) / 2.0


def window_entropy(returns: pd.Series, window: int = ENTROPY_WINDOW, bins: int = ENTROPY_BINS) -> pd.Series:
    """Shannon entropy (nats) of each trailing window's histogram of standardised returns.

    Returns are z-scored within the window and binned in half-sigma bins on [-3, 3] (tails go to the end bins),
    so the entropy reads the shape of the distribution, not its scale (volatility has its own signals).
    """
    r = returns.to_numpy(dtype=float)
    out = np.full(len(r), np.nan)
    if len(r) < window:
        return pd.Series(out, index=returns.index)
    win = sliding_window_view(r, window)
    mu, sd = win.mean(axis=1, keepdims=True), win.std(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (win - mu) / sd
    ok = np.isfinite(z).all(axis=1)
    width = 6.0 / bins
    idx = np.clip(np.floor((np.nan_to_num(z) + 3.0) / width), 0, bins - 1).astype(np.int64)
    rows = np.arange(len(win))[:, None] * bins
    counts = np.bincount((idx + rows).ravel(), minlength=len(win) * bins).reshape(len(win), bins)
    p = counts / window
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    out[window - 1:] = np.where(ok, h, np.nan)
    return pd.Series(out, index=returns.index)


def entropy_signals(inp: WeatherInputs) -> pd.DataFrame:
    """entropy, entropy_z (vs the previous 252 sessions) and entropy_shift (|z| > 2 for 3+ sessions)."""
    h = window_entropy(inp.bench_logret)
    prior = h.shift(1).rolling(ENTROPY_NORM, min_periods=ENTROPY_NORM)
    z = (h - prior.mean()) / prior.std()
    beyond = (z.abs() > ENTROPY_Z).astype(int)
    run = beyond.groupby((beyond != beyond.shift()).cumsum()).cumsum()
    return pd.DataFrame({"entropy": h, "entropy_z": z,
                         "entropy_shift": _nullable(run >= ENTROPY_RUN, z.notna())})


def experts_from_inputs(inp: WeatherInputs) -> pd.DataFrame:
    """All expert signals (EXPERT_COLUMNS) on the benchmark's sessions."""
    frame = pd.concat([macro_credit(inp).rename("macro_credit"), volatility_signals(inp),
                       fragility(inp).rename("fragility"), entropy_signals(inp)], axis=1)
    return frame[list(EXPERT_COLUMNS)]


def expert_signals(close: pd.DataFrame, volume: pd.DataFrame | None, universe: Sequence[str],
                   benchmark: str = "SP500") -> pd.DataFrame:
    """Expert signals from the store's wide frames (dates × symbols), indexed by the benchmark's sessions."""
    return experts_from_inputs(prepare_inputs(close, volume, universe, benchmark))
