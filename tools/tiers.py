"""The four-tier sizing cascade's choice (Trade-Matrix): who sizes an entry, and every gate that decided it.

FULL_RL when the RL sizer is promoted and usable tonight and the pick's confidence and its agents' rolling
information coefficient pass the full gates; BLENDED (half RL, half Kelly) when they pass only the blended gates;
PURE_KELLY below that or when the RL sizer is out; EMERGENCY_FLAT when a circuit breaker (or a halt) blocks
entries. An unknown information coefficient passes no gate: it fails closed to Kelly, and says so.
"""

from __future__ import annotations

from vocab.terms import SizingTier


def choose_tier(mode: str, *, blocked: str | None, rl_usable: bool, rl_reason: str, confidence: float,
                ic: float | None, full_confidence: float, full_ic: float, blended_confidence: float,
                blended_ic: float) -> tuple[SizingTier, list[str]]:
    """The tier and the gates, in the order they were checked (each says how it went)."""
    if blocked:
        return SizingTier.EMERGENCY_FLAT, [f"circuit breaker open: {blocked}"]
    gates = ["circuit breakers closed"]
    if mode == "fixed":
        return SizingTier.FIXED, [*gates, "sizing.mode = fixed: the base weight alone"]
    if mode == "kelly":
        return SizingTier.PURE_KELLY, [*gates, "sizing.mode = kelly: Kelly alone"]
    if not rl_usable:
        return SizingTier.PURE_KELLY, [*gates, f"RL sizer out: {rl_reason}"]
    gates.append("RL sizer promoted and usable")
    if mode == "rl":
        return SizingTier.FULL_RL, [*gates, "sizing.mode = rl: the RL sizer alone"]
    ic_text = "unknown (too few resolved picks)" if ic is None else f"{ic:+.3f}"

    def passes(c_min: float, ic_min: float) -> tuple[bool, str]:
        ok_c, ok_ic = confidence >= c_min, ic is not None and ic >= ic_min
        return ok_c and ok_ic, (f"confidence {confidence:.2f} {'≥' if ok_c else '<'} {c_min:.2f}, "
                                f"IC {ic_text} {'≥' if ok_ic else 'fails'} {ic_min:+.2f}")

    ok, why = passes(full_confidence, full_ic)
    gates.append(f"FULL_RL gate: {why}")
    if ok:
        return SizingTier.FULL_RL, gates
    ok, why = passes(blended_confidence, blended_ic)
    gates.append(f"BLENDED gate: {why}")
    if ok:
        return SizingTier.BLENDED, gates
    return SizingTier.PURE_KELLY, gates
