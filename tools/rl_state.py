"""The RL sizer's observation, one spelling for training (models.rl_sizer) and for the sizing node: the proposal
(strength, confidence), the asset (realised volatility, 21-session return), the regime (the index's volatility
state, one-hot) and the book (gross exposure). Unknown values are 0 with a flag, never a guess of their size."""

from __future__ import annotations

import math

from tools.contracts import VolState

STATES: tuple[VolState, ...] = tuple(VolState)
OBS_NAMES: tuple[str, ...] = ("strength", "confidence", "vol", "vol_known", "ret_21d", "gross",
                              *(f"state_{s}" for s in STATES))


def observation(*, strength: float, confidence: float, vol: float, ret_21d: float, state: VolState | None,
                gross: float) -> list[float]:
    known = vol is not None and math.isfinite(vol) and vol > 0
    return [float(strength), float(confidence), float(vol) if known else 0.0, 1.0 if known else 0.0,
            float(ret_21d) if math.isfinite(ret_21d) else 0.0, float(min(2.0, max(0.0, gross))),
            *(1.0 if state is s else 0.0 for s in STATES)]
