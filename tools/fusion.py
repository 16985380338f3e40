"""Rules base regime and TraderBot's priority-ordered regime fusion (v3).

Priority: 1) hard override to high_vol_panic from vol_panic; 2) macro_credit moves the regime one level;
3) caution gates (fragility, entropy_shift) multiply the sizing modifier; 4) ensemble disagreement, applied per night
by ``with_disagreement`` when the regime ensemble is usable (factor 1.0 until then, and the notes say so). Thresholds are economic conventions, none fitted on data from 2019 on. Each session's
notes are a list of sentences (``fusion_notes``), one per rule that spoke.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tools.experts import PANIC_RV, PANIC_VIX
from tools.weather_inputs import WeatherInputs
from vocab.contracts import WeatherSnapshot
from vocab.terms import REGIME_ORDER, Regime

CONTEXT_COLUMNS = ("bench_dist_sma200", "bench_ret_63d", "bench_vol_21d", "bench_drawdown", "vix")
FUSION_COLUMNS = ("base_regime", "regime", "sizing_modifier", "risk_throttle", "fusion_notes")
PANIC = REGIME_ORDER.index("high_vol_panic")
MACRO_CUT = 0.5                  # |macro_credit| >= 0.5 is a 1.5-sigma credit reading (see experts.macro_credit)
FRAGILITY_START = 0.5            # fragility above this starts to cut size, down to x0.5 at 1.0
ENTROPY_FACTOR = 0.75            # a distribution in transition: three quarters size
SIZING_FLOOR = 0.25
THROTTLE_SLOPE = 0.75            # risk_throttle = 1 - 0.75 * vol_complexity: full stress leaves a quarter
UNSTABLE_CALM_CAP = 0.75         # vol-of-vol up while VIX is low precedes spikes: cap the risk throttle
PANIC_THROTTLE = 0.25
CONFIRM_SESSIONS = 3             # sessions a rules regime must hold before it replaces the previous one


def regime_context(inp: WeatherInputs) -> pd.DataFrame:
    """The benchmark measures base_regime reads (CONTEXT_COLUMNS), on the benchmark's sessions."""
    b = inp.bench
    return pd.DataFrame({
        "bench_dist_sma200": b / b.rolling(200, min_periods=200).mean() - 1.0,
        "bench_ret_63d": b / b.shift(63) - 1.0,
        "bench_vol_21d": inp.bench_vol_21d,
        "bench_drawdown": b / b.rolling(252, min_periods=1).max() - 1.0,
        "vix": inp.vix,
    })


def base_regime(context: pd.DataFrame) -> pd.Series:
    """Rules regime from CONTEXT_COLUMNS; None until SMA200, the 63-session return and 21-session vol exist.

    high vol = VIX >= 30 or realised >= 30%; panic = high vol with a drawdown of 10%+ (a correction);
    risk-off = below the SMA200 and down over 63 sessions, or a 15%+ drawdown; calm = above the SMA200, up,
    realised < 12% (about the 1990-2018 median), VIX < 16 where known, drawdown under 5%; risk-on = above,
    up and realised < 20% (VIX < 22 where known); anything else (mixed trend signals, or up with high vol) choppy.
    A new regime replaces the last one only after CONFIRM_SESSIONS sessions in a row (panic at once), so a
    reading that hovers on a threshold does not flip the book's cash reserve every day.
    """
    dist, ret, rv, dd, vix = (context[c] for c in CONTEXT_COLUMNS)
    vix_known = vix.notna()
    high_vol = (vix >= 30) | (rv >= 0.30)
    up = (dist > 0) & (ret > 0)
    conditions = [
        high_vol & (dd <= -0.10),
        ((dist < 0) & (ret < 0)) | (dd <= -0.15),
        up & (rv < 0.12) & (~vix_known | (vix < 16)) & (dd > -0.05),
        up & (rv < 0.20) & (~vix_known | (vix < 22)),
    ]
    labels = ["high_vol_panic", "risk_off_trend", "calm_uptrend", "risk_on_trend"]
    ready = (dist.notna() & ret.notna() & rv.notna() & dd.notna()).to_numpy()
    raw = pd.Series(np.where(ready, np.select(conditions, labels, "choppy"), None), index=context.index,
                    dtype=object)
    held = pd.Series(True, index=raw.index)
    for lag in range(1, CONFIRM_SESSIONS):
        held &= raw.eq(raw.shift(lag))
    confirmed = raw.where(held | raw.eq("high_vol_panic")).ffill().where(ready)
    return confirmed.astype(object).where(ready, None).rename("base_regime")


DISAGREEMENT_FLOOR = 0.5  # however much the two networks disagree, the gate alone cuts size at most in half
DISAGREEMENT_NOTE = "ensemble disagreement not yet available: factor 1.00"


def with_disagreement(snapshot: WeatherSnapshot, ensemble_regime: str, disagreement: float,
                      version: str) -> WeatherSnapshot:
    """The fusion's fourth gate applied to one night's snapshot: size × max(0.5, 1 − JS disagreement in bits)."""
    factor = max(DISAGREEMENT_FLOOR, 1.0 - float(disagreement))
    note = (f"regime ensemble {version} reads {ensemble_regime}; its networks' disagreement {disagreement:.2f} "
            f"(Jensen-Shannon, bits): sizing x{factor:.2f}")
    notes = [n for n in snapshot.notes if n != DISAGREEMENT_NOTE] + [note]
    return snapshot.model_copy(update={"sizing_modifier": max(SIZING_FLOOR, snapshot.sizing_modifier * factor),
                                       "notes": notes})


def without_ensemble(snapshot: WeatherSnapshot, reason: str) -> WeatherSnapshot:
    """The fourth gate stays open (factor 1) on a night the regime ensemble cannot read, saying why."""
    notes = [n for n in snapshot.notes if n != DISAGREEMENT_NOTE]
    return snapshot.model_copy(update={"notes": [*notes, f"regime ensemble out tonight ({reason}): factor 1.00"]})


def nudge(regime: Regime | str, steps: int) -> Regime:
    """Move along REGIME_ORDER (positive = more defensive) by at most one level, clipped at the ends."""
    if regime not in REGIME_ORDER:
        raise ValueError(f"unknown regime {regime!r}; expected one of {', '.join(REGIME_ORDER)}")
    i = REGIME_ORDER.index(regime) + int(np.sign(steps))
    return REGIME_ORDER[min(max(i, 0), len(REGIME_ORDER) - 1)]


def _fmt(values: np.ndarray, spec: str = "{:+.2f}") -> pd.Series:
    return pd.Series(values).map(spec.format)


def _note(mask: np.ndarray, text: pd.Series | str) -> pd.Series:
    return pd.Series(np.where(mask, text if isinstance(text, str) else text.to_numpy(dtype=object), ""),
                     dtype=object)


def fuse(frame: pd.DataFrame) -> pd.DataFrame:
    """Add FUSION_COLUMNS to a frame holding CONTEXT_COLUMNS and the expert signals; one row per session."""
    base = base_regime(frame)
    ready = base.notna().to_numpy()
    idx = pd.Categorical(base, categories=REGIME_ORDER).codes.astype(int)   # -1 where not ready
    panic = frame["vol_panic"].fillna(False).to_numpy(dtype=bool) & ready
    mc = frame["macro_credit"].to_numpy(dtype=float)
    notes = [_note(panic & (idx != PANIC),
                   f"vol_panic: VIX >= {PANIC_VIX:.0f} or realised vol >= {PANIC_RV:.0%} -> high_vol_panic")]
    new = np.where(panic, PANIC, idx)
    free = ready & ~panic & (new != PANIC)       # macro never moves a regime into or out of panic
    down = free & (mc <= -MACRO_CUT) & (new < PANIC - 1)
    up = free & (mc >= MACRO_CUT) & (new > 0)
    new = np.where(down, new + 1, np.where(up, new - 1, new))
    notes.append(_note(down, "macro_credit " + _fmt(mc) + " <= -0.50: credit stress, one level more defensive"))
    notes.append(_note(up, "macro_credit " + _fmt(mc) + " >= +0.50: benign credit, one level less defensive"))
    notes.append(_note(ready & np.isnan(mc), "macro_credit unavailable: no macro modulation"))
    frag = frame["fragility"].to_numpy(dtype=float)
    frag_factor = 1.0 - 0.5 * np.clip((np.nan_to_num(frag) - FRAGILITY_START) / (1 - FRAGILITY_START), 0, 1)
    notes.append(_note(ready & (frag_factor < 1),
                       "fragility " + _fmt(frag, "{:.2f}") + " > 0.50: sizing x" + _fmt(frag_factor, "{:.2f}")))
    notes.append(_note(ready & np.isnan(frag), "fragility unavailable: no fragility gate"))
    shift = frame["entropy_shift"]
    shifted = shift.fillna(False).to_numpy(dtype=bool)
    notes.append(_note(ready & shifted, f"entropy_shift: sizing x{ENTROPY_FACTOR:.2f}"))
    notes.append(_note(ready & shift.isna().to_numpy(), "entropy_shift unavailable (warm-up): no entropy gate"))
    notes.append(_note(ready, DISAGREEMENT_NOTE))
    sizing = np.clip(frag_factor * np.where(shifted, ENTROPY_FACTOR, 1.0), SIZING_FLOOR, 1.0)
    throttle = 1.0 - THROTTLE_SLOPE * frame["vol_complexity"].to_numpy(dtype=float)
    calm = frame["unstable_calm"].fillna(False).to_numpy(dtype=bool)
    throttle = np.where(calm, np.minimum(throttle, UNSTABLE_CALM_CAP), throttle)
    throttle = np.where(panic, np.minimum(throttle, PANIC_THROTTLE), throttle)
    notes.append(_note(ready & calm, f"unstable_calm: risk throttle capped at {UNSTABLE_CALM_CAP:.2f}"))
    notes.append(_note(~ready, "warm-up: base regime needs 200 sessions of the benchmark "
                               f"and {CONFIRM_SESSIONS} in a row to confirm"))
    columns = [note.to_numpy(dtype=object) for note in notes]
    listed = [[text for text in row if text] for row in zip(*columns, strict=True)] if columns else []
    out = frame.copy()
    out["base_regime"] = base
    out["regime"] = pd.Series(np.where(ready, np.asarray([r.value for r in REGIME_ORDER], dtype=object)[np.maximum(new, 0)], None),
                              index=frame.index, dtype=object)
    out["sizing_modifier"] = np.where(ready, sizing, np.nan)
    out["risk_throttle"] = np.where(ready, np.clip(throttle, 0.0, 1.0), np.nan)
    out["fusion_notes"] = pd.Series(listed, index=frame.index, dtype=object)
    return out
