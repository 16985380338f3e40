"""Night: features, the walk-forward models the agents need, the weather (7 layers, expert signals, fused regime)
and the weather analyst."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import DeskContext
from graph.providers.scope import call_scope
from graph.state import NightState
from tools.fusion import nudge


def features(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    ctx = runtime.context
    ctx.market.ensure()
    rows = ctx.market.features_on(state["as_of"])
    return {"summary": f"{len(rows)} symbols × {rows.shape[1]} features"}


def models(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    """Load, or train walk-forward, every model the agents use tonight (trained on data before the cutoff)."""
    ready = runtime.context.tools.prepare(state["as_of"])
    parts = [f"{m.name} {m.version} (" + (f"trained in {m.seconds:.1f} s" if m.trained else "ready") + ")"
             for m in ready]
    return {"summary": "; ".join(parts) or "no models"}


def weather(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    snap = runtime.context.market.snapshot(state["as_of"])
    up = sum(1 for r in snap.layers.values() if r.available)
    return {"weather": snap, "regime": snap.regime,
            "summary": f"regime {snap.regime} (base {snap.base_regime}), {up}/7 layers available, "
                       f"size ×{snap.sizing_modifier:.2f}"}


def weather_analyst(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    """The analyst narrates and may nudge the regime by one level at most."""
    with call_scope(state["run_id"], state["as_of"]):
        view = runtime.context.provider.weather(state["weather"])
    regime = nudge(state["regime"], view.regime_nudge)
    moved = f" → nudged to {regime}" if regime != state["regime"] else ""
    return {"view": view, "regime": regime, "summary": f"{view.provenance.provider}: {view.reason}{moved}"}
