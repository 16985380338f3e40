"""The seven weather layers, each a (state, score, source) triple per session; score +1 = risk-on, -1 = risk-off.

A layer with no data on a date is unavailable there: state None, score NaN and a source that says why.
Thresholds come from economic convention or pre-2019 distributions (quoted beside each); none looked at 2019+.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tools.calendar_effects import FLAGS, calendar_flags
from tools.weather_inputs import CORR_WINDOW, YIELD_MAX_AGE, WeatherInputs, asof_fresh
from vocab.contracts import WEATHER_LAYERS


def _layer(name: str, score: pd.Series, state: np.ndarray, source: Sequence[str] | pd.Series,
           why_missing: Sequence[str] | pd.Series) -> pd.DataFrame:
    ok = score.notna().to_numpy()
    return pd.DataFrame({
        f"{name}_state": pd.Series(np.where(ok, state, None), index=score.index, dtype=object),
        f"{name}_score": score.clip(-1.0, 1.0).astype(float),
        f"{name}_source": pd.Series(np.where(ok, np.asarray(source, dtype=object),
                                             np.asarray(why_missing, dtype=object)), index=score.index, dtype=object),
    })


def _bands(score: pd.Series, up: str, mid: str, down: str, cut: float = 0.3) -> np.ndarray:
    return np.select([score >= cut, score <= -cut], [up, down], mid).astype(object)


def macro_layer(inp: WeatherInputs) -> pd.DataFrame:
    """Benchmark vs its SMA200 and the 3-month change of the BAA-AAA credit spread.

    5% from the SMA200 is a full-scale trend reading; a 0.30 pp widening of BAA-AAA in three months is full-scale
    stress (1960-2018 spread median 0.90 pp, 95th pct 1.89; late 2007 it widened ~0.33 pp in a quarter).
    """
    b = inp.benchmark
    trend = (inp.bench / inp.bench.rolling(200, min_periods=200).mean() - 1.0) / 0.05
    credit = -asof_fresh(inp.spread_obs.diff(3), inp.dates, YIELD_MAX_AGE) / 0.30
    parts = pd.concat([trend.clip(-1, 1), credit.clip(-1, 1)], axis=1)
    score = parts.mean(axis=1, skipna=True)
    has_t, has_c = trend.notna().to_numpy(), credit.notna().to_numpy()
    source = np.select([has_t & has_c, has_t], [f"{b} vs SMA200 + BAA-AAA 3-month change",
                                                 f"{b} vs SMA200 only (BAA-AAA unavailable: no fresh Moody's yields)"],
                       f"BAA-AAA 3-month change only ({b} SMA200 warm-up)")
    why = f"unavailable: {b} SMA200 warm-up (<200 sessions) and no fresh BAA-AAA spread"
    return _layer("macro", score, _bands(score, "bull", "transition", "bear"), source, [why] * len(score))


def volatility_layer(inp: WeatherInputs) -> pd.DataFrame:
    """VIX level where there is a VIX close that day, else the benchmark's 21-session realised volatility.

    VIX bands 15 / 20 / 30 are the market's usual low / normal / elevated / crisis lines. Realised bands sit
    4 vol points lower (11 / 16 / 26): implied exceeds realised by about that much (median 3.6 in 2014-2018).
    """
    vix, rv = inp.vix, inp.bench_vol_21d * 100.0
    use_vix = vix.notna()
    level = vix.where(use_vix, rv)
    shift = np.where(use_vix, 0.0, 4.0)
    score = (20.0 - shift - level) / 10.0
    cuts = [level < 15 - shift, level < 20 - shift, level < 30 - shift]
    state = np.select(cuts, ["low", "normal", "elevated"], "crisis").astype(object)
    source = np.where(use_vix, "VIX close", f"{inp.benchmark} realised vol 21d (VIX unavailable)")
    why = [f"unavailable: no VIX and <21 sessions of {inp.benchmark} returns"] * len(score)
    return _layer("volatility", score, state, source, why)


CYCLICAL, DEFENSIVE = ("SIZE", "VLUE"), ("USMV", "QUAL")


def rotation_layer(inp: WeatherInputs) -> pd.DataFrame:
    """63-session return of cyclical factor ETFs (size, value) minus defensive ones (min-vol, quality).

    MTUM is left out on purpose: momentum holds whatever led last, so it sits on neither side. A 4% quarterly
    gap is full scale (2014-2018 5th/95th pct of the gap: -3.7% / +4.0%).
    """
    r63 = inp.etf / inp.etf.shift(63) - 1.0
    gap = r63[list(CYCLICAL)].mean(axis=1, skipna=False) - r63[list(DEFENSIVE)].mean(axis=1, skipna=False)
    score = gap / 0.04
    absent = [e for e in (*CYCLICAL, *DEFENSIVE) if e in inp.missing]
    why = (f"unavailable: {', '.join(absent)} not in data" if absent
           else "unavailable: factor ETFs need 63 sessions of closes (they start in 2014)")
    state = _bands(score, "cyclical_leadership", "balanced", "defensive_leadership")
    return _layer("rotation", score, state, ["63-session return SIZE+VLUE minus USMV+QUAL"] * len(score),
                  [why] * len(score))


def correlation_layer(inp: WeatherInputs) -> pd.DataFrame:
    """Average pairwise 60-session correlation of the universe's returns: clustering is risk-off.

    1990-2018 for the 20 bundled stocks: median 0.28, 90th pct 0.46, late 2008 0.61-0.66. 0.30 is neutral and
    +/-0.25 around it full scale; below 0.20 is dispersed, from 0.45 clustered.
    """
    avg, k = inp.corr["avg_corr"], inp.corr["n_assets"]
    score = (0.30 - avg) / 0.25
    state = np.select([avg < 0.20, avg < 0.45], ["dispersed", "normal"], "clustered").astype(object)
    source = f"{CORR_WINDOW}-session avg pairwise correlation of " + k.fillna(0).astype(int).astype(str) + " stocks"
    why = f"unavailable: fewer than 2 universe stocks with {CORR_WINDOW} sessions of returns"
    return _layer("correlation", score, state, source, [why] * len(score))


def liquidity_layer(inp: WeatherInputs) -> pd.DataFrame:
    """Index volume: 21-session average over 252-session average (GSPC and IXIC, log-averaged).

    A surge of turnover is stress (forced selling), quiet volume orderly markets. 1999-2018 ratio 5th/95th pct
    0.85 / 1.29: a ratio of 1.3 (or 1/1.3) is full scale; below 0.85 is quiet, above 1.2 a surge.
    """
    vol = inp.index_volume.where(inp.index_volume > 0)
    log_ratio = np.log(vol.rolling(21, min_periods=21).mean() / vol.rolling(252, min_periods=252).mean())
    used = log_ratio.notna()
    mean_log = log_ratio.mean(axis=1, skipna=True)
    score = -mean_log / np.log(1.3)
    ratio = np.exp(mean_log)
    state = np.select([ratio < 0.85, ratio > 1.2], ["quiet", "surge"], "normal").astype(object)
    names = np.where(used["GSPC"] & used["IXIC"], "GSPC+IXIC", np.where(used["GSPC"], "GSPC", "IXIC"))
    source = pd.Series(names, index=score.index) + " volume 21/252-session average ratio"
    why = ["unavailable: no GSPC/IXIC volume with 252 sessions of history on this date"] * len(score)
    return _layer("liquidity", score, state, source, why)


def sentiment_layer(inp: WeatherInputs) -> pd.DataFrame:
    """Risk appetite: NASDAQ (IXIC) 63-session return minus S&P 500 (GSPC).

    Speculative tech leading the broad index is appetite; lagging, aversion. 1999-2018 5th/95th pct of the gap
    -8.5% / +9.3%: 8% is full scale. The VIX-minus-realised premium is not used: it is high both in fear
    (hedging demand) and low in crashes (realised overtakes implied), so its sign is ambiguous.
    """
    r63 = inp.index_close / inp.index_close.shift(63) - 1.0
    score = (r63["IXIC"] - r63["GSPC"]) / 0.08
    why = ["unavailable: no IXIC/GSPC closes with 63 sessions of history on this date"] * len(score)
    return _layer("sentiment", score, _bands(score, "risk_appetite", "neutral", "risk_aversion"),
                  ["IXIC minus GSPC 63-session return"] * len(score), why)


def calendar_layer(inp: WeatherInputs) -> pd.DataFrame:
    """XNYS calendar effects. Only the two with long pre-1990 evidence of positive drift score (turn of month,
    pre-holiday: +0.5 each); options-expiry week and quarter end are reported as flags with no score."""
    flags = calendar_flags(inp.dates)
    active = [flags[f].map({True: f + "+", False: ""}) for f in FLAGS]
    state = (active[0] + active[1] + active[2] + active[3]).str.rstrip("+").replace("", "ordinary")
    score = (0.5 * flags["turn_of_month"] + 0.5 * flags["pre_holiday"]).astype(float).where(flags["known"])
    why = ["unavailable: not an XNYS session, or beyond the published calendar"] * len(score)
    return _layer("calendar", score, state.to_numpy(dtype=object),
                  ["XNYS calendar: turn of month, opex week, quarter end, pre-holiday"] * len(score), why)


LAYER_FUNCTIONS = {
    "macro": macro_layer, "volatility": volatility_layer, "rotation": rotation_layer,
    "correlation": correlation_layer, "liquidity": liquidity_layer, "sentiment": sentiment_layer,
    "calendar": calendar_layer,
}


def compute_layers(inp: WeatherInputs) -> pd.DataFrame:
    """All seven layers side by side: {layer}_state, {layer}_score, {layer}_source."""
    return pd.concat([LAYER_FUNCTIONS[name](inp) for name in WEATHER_LAYERS], axis=1)
