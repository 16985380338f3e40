"""Night: features, the walk-forward models the agents need, the weather (7 layers, expert signals, fused regime)
and the weather analyst."""

from __future__ import annotations

import time

from langgraph.runtime import Runtime

from graph.context import DeskContext
from graph.providers.scope import call_scope
from graph.state import NightState
from models.api import AsOfArgs
from models.errors import NoData
from tools.fusion import nudge, with_disagreement, without_ensemble


def features(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    ctx = runtime.context
    ctx.market.ensure()
    rows = ctx.market.features_on(state["as_of"])
    return {"summary": f"{len(rows)} symbols × {rows.shape[1]} features"}


def models(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    """Train walk-forward what this run trains for itself, and say which models may decide tonight: only a promoted
    version, trained on data ending before tonight minus its label horizon; any other stays out, and says why."""
    ready = runtime.context.tools.prepare(state["as_of"])
    parts = []
    for m in ready:
        trained = f"trained in {m.seconds:.1f} s, " if m.trained else ""
        parts.append(f"{m.name} {m.version} ({trained}usable)" if m.version else
                     f"{m.name} out ({trained}{m.reason})")
    return {"summary": "; ".join(parts) or "no models"}


def weather(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    """The rules weather, and — when the regime ensemble is usable tonight — its two networks' disagreement as the
    fusion's fourth gate (TraderBot's order: hard overrides, macro, caution gates, disagreement): sizes shrink by
    1 − disagreement, to no less than half. The regime itself stays the rules', which the ensemble only informs."""
    ctx = runtime.context
    day = state["as_of"]
    snap = ctx.market.snapshot(day)
    ensemble = ""
    if ctx.tools.models.availability("regime", day).usable:
        t0 = time.perf_counter()
        try:
            result = ctx.tools.models.regime(AsOfArgs(as_of=day))
        except NoData as missing:  # inputs incomplete tonight: the model stays out and the night goes on
            ctx.store.record_tool_call(state["run_id"], "regime_ensemble", {"as_of": str(day)},
                                       {"out": str(missing)}, None, (time.perf_counter() - t0) * 1000)
            snap = without_ensemble(snap, str(missing))
            ensemble = f", ensemble out ({missing})"
        else:
            ctx.store.record_tool_call(state["run_id"], "regime_ensemble", {"as_of": str(day)},
                                       {"regime": result.regime, "disagreement": round(result.disagreement, 4)},
                                       result.model_version, (time.perf_counter() - t0) * 1000)
            snap = with_disagreement(snap, result.regime, result.disagreement, result.model_version)
            ensemble = f", ensemble {result.regime} (disagreement {result.disagreement:.2f})"
    up = sum(1 for r in snap.layers.values() if r.available)
    return {"weather": snap, "regime": snap.regime,
            "summary": f"regime {snap.regime} (base {snap.base_regime}), {up}/7 layers available, "
                       f"size ×{snap.sizing_modifier:.2f}{ensemble}"}


def weather_analyst(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    """The analyst narrates and may nudge the regime by one level at most."""
    with call_scope(state["run_id"], state["as_of"]):
        view = runtime.context.provider.weather(state["weather"])
    regime = nudge(state["regime"], view.regime_nudge)
    moved = f" → nudged to {regime}" if regime != state["regime"] else ""
    return {"view": view, "regime": regime, "summary": f"{view.provenance.provider}: {view.reason}{moved}"}
