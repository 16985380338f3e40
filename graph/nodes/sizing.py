"""Night: the sizing cascade for selected picks, and the exit rules for every holding."""

from __future__ import annotations

from datetime import date

from langgraph.runtime import Runtime

from graph.config import DeskConfig
from graph.context import DeskContext
from graph.nodes.picks import asset_health
from graph.state import ExitOrder, NightState, Sized
from tools.agents import agent_support
from tools.contracts import Denial, Regime
from tools.exits import ExitPolicy, PositionState, update_and_check
from tools.sizing import cascade

# The regime step of the sizing cascade, a priori: size falls as the regime turns hostile, from full size in a calm
# uptrend to TraderBot's floor of 0.25x in a panic (seed 001: "a position-size modifier (0.25–1.0x)"); the steps
# between are evenly judged, not fitted (none was chosen by looking at data, let alone data from 2019 on).
REGIME_SIZE: dict[Regime, float] = {
    Regime.CALM_UPTREND: 1.0, Regime.RISK_ON_TREND: 0.9, Regime.CHOPPY: 0.6, Regime.RISK_OFF_TREND: 0.4,
    Regime.HIGH_VOL_PANIC: 0.25,
}


def sizing(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    """Size each selected pick. A pick whose proposals lack a verdict fails closed: no entry, and the denial says
    which proposal went unreviewed."""
    ctx = runtime.context
    snap = state["weather"]
    verdicts = {v.proposal_key: v for v in state["verdicts"]}
    denials = dict(state.get("denials", {}))
    out: list[Sized] = []
    for pick in (p for p in state["picks"] if p.selected):
        missing = [k for k in pick.proposal_keys if k not in verdicts]
        if missing or not pick.proposal_keys:
            why = f"no overlay verdict for {', '.join(missing)}" if missing else "no proposal behind the pick"
            denials[pick.symbol] = [*denials.get(pick.symbol, []),
                                    Denial(rule="no_verdict", reason=f"{why}: no entry (fails closed)")]
            continue
        vs = [verdicts[k] for k in pick.proposal_keys]
        overlay_mult = min(v.size_multiplier for v in vs)
        weight, factors = cascade(
            base_weight=ctx.config.picks.base_weight, asset_vol=pick.vol_21d if pick.vol_21d else float("nan"),
            target_vol=ctx.config.picks.target_vol, regime_modifier=REGIME_SIZE[state["regime"]],
            overlay_multiplier=overlay_mult, disagreement=pick.dissent, expert_modifier=snap.sizing_modifier,
            risk_throttle=snap.risk_throttle)
        tighter = [v.stop for v in vs if v.stop]
        stop = max([*tighter, pick.stop] if pick.stop else tighter, default=None)
        out.append(Sized(symbol=pick.symbol, weight=weight, price=pick.price, score=pick.score, stop=stop,
                         factors=factors, verdicts=vs))
    return {"sized": out, "denials": denials,
            "summary": ", ".join(f"{s.symbol} {s.weight:.1%}" for s in out) or "nothing to size"}


def policy(config: DeskConfig) -> ExitPolicy:
    r = config.risk
    return ExitPolicy(trailing_stop=r.trailing_stop, profit_tiers=tuple(r.profit_tiers),
                      tier_exit_fraction=r.tier_exit_fraction, tier_trails=tuple(r.tier_trails),
                      score_collapse=r.score_collapse)


def exits(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    """Trailing stop, regime panic, score collapse and profit tiers for each holding. The night's closes go into
    state as ``marks``; ``write_intents`` raises the holdings' peaks with them, in the transaction that writes the
    intents (never for a night in the book's past)."""
    ctx = runtime.context
    day: date = state["as_of"]
    out: list[ExitOrder] = []
    marks: dict[str, float] = {}
    pol = policy(ctx.config)
    held = ctx.store.positions()
    health = asset_health(ctx, state, [s for s in sorted(held) if s in ctx.market.tradable], "asset_health:holdings")
    for sym, row in held.items():
        price = ctx.market.price(sym, day)
        if price is None:
            continue
        pos = PositionState(symbol=sym, quantity=row["quantity"], avg_price=row["avg_price"],
                            entry_date=date.fromisoformat(row["entry_date"]), initial_stop=row["initial_stop"],
                            peak=row["peak"], trail_pct=row["trail_pct"], tiers_hit=row["tiers_hit"])
        _, decision = update_and_check(pos, price, state["regime"], agent_support(state["proposals"], sym), pol,
                                       health.get(sym))
        marks[sym] = price
        if decision is not None:
            out.append(ExitOrder(symbol=sym, kind=decision.kind, fraction=decision.fraction,
                                 quantity=row["quantity"] * decision.fraction, price=price, trigger=decision.trigger,
                                 reason=decision.reason, new_trail=decision.new_trail,
                                 new_tiers_hit=decision.new_tiers_hit))
    return {"exits": out, "marks": marks,
            "summary": ", ".join(f"{e.kind} {e.symbol} ({e.trigger})" for e in out) or "no exits"}
