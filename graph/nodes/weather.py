"""Night: features, the weather (7 layers, expert signals, fused regime) and the weather analyst."""

from __future__ import annotations

from graph.state import NightState
from tools.fusion import nudge


def features(state: NightState, runtime) -> dict:
    ctx = runtime.context
    ctx.market.ensure()
    rows = ctx.market.features_on(state["as_of"])
    return {"summary": f"{len(rows)} symbols × {rows.shape[1]} features"}


def weather(state: NightState, runtime) -> dict:
    snap = runtime.context.market.snapshot(state["as_of"])
    up = sum(1 for r in snap.layers.values() if r.available)
    return {"weather": snap, "regime": snap.regime,
            "summary": f"regime {snap.regime} (base {snap.base_regime}), {up}/7 layers available, "
                       f"size ×{snap.sizing_modifier:.2f}"}


def weather_analyst(state: NightState, runtime) -> dict:
    """The analyst narrates and may nudge the regime by one level at most."""
    view = runtime.context.provider.weather(state["weather"])
    regime = nudge(state["regime"], view.regime_nudge)
    moved = f" → nudged to {regime}" if regime != state["regime"] else ""
    return {"view": view, "regime": regime, "summary": f"{view.provenance.provider}: {view.reason}{moved}"}
