"""Night: the sizing cascade for selected picks, and the exit rules for every holding."""

from __future__ import annotations

from datetime import date

from graph.state import ExitOrder, NightState, Sized
from tools.agents import agent_support
from tools.exits import ExitPolicy, PositionState, update_and_check
from tools.sizing import cascade

REGIME_SIZE = {"calm_uptrend": 1.0, "risk_on_trend": 0.9, "choppy": 0.6, "risk_off_trend": 0.4, "high_vol_panic": 0.25}


def sizing(state: NightState, runtime) -> dict:
    ctx = runtime.context
    snap = state["weather"]
    verdicts = {v.proposal_key: v for v in state["verdicts"]}
    out: list[Sized] = []
    for pick in (p for p in state["picks"] if p.selected):
        keys = [f"{state['as_of'].isoformat()}:{a}:{pick.symbol}" for a in pick.agents]
        vs = [verdicts[k] for k in keys if k in verdicts]
        overlay_mult = min((v.size_multiplier for v in vs), default=1.0)
        weight, factors = cascade(
            base_weight=ctx.settings.picks.base_weight, asset_vol=pick.vol_21d if pick.vol_21d else float("nan"),
            target_vol=ctx.settings.picks.target_vol, regime_modifier=REGIME_SIZE[state["regime"]],
            overlay_multiplier=overlay_mult, disagreement=pick.dissent, expert_modifier=snap.sizing_modifier,
            risk_throttle=snap.risk_throttle)
        tighter = [v.stop for v in vs if v.stop]
        stop = max([*tighter, pick.stop] if pick.stop else tighter, default=None)
        out.append(Sized(symbol=pick.symbol, weight=weight, price=pick.price, score=pick.score, stop=stop,
                         factors=factors, verdicts=[v.model_dump(mode="json") for v in vs]))
    return {"sized": out, "summary": ", ".join(f"{s.symbol} {s.weight:.1%}" for s in out) or "nothing to size"}


def policy(settings) -> ExitPolicy:
    r = settings.risk
    return ExitPolicy(trailing_stop=r.trailing_stop, profit_tiers=tuple(r.profit_tiers),
                      tier_exit_fraction=r.tier_exit_fraction, tier_trails=tuple(r.tier_trails),
                      score_collapse=r.score_collapse)


def exits(state: NightState, runtime) -> dict:
    """Trailing stop, regime panic, score collapse and profit tiers for each holding; peaks are persisted."""
    ctx = runtime.context
    day: date = state["as_of"]
    out: list[ExitOrder] = []
    pol = policy(ctx.settings)
    for sym, row in ctx.store.positions().items():
        price = ctx.market.price(sym, day)
        if price is None:
            continue
        pos = PositionState(symbol=sym, quantity=row["quantity"], avg_price=row["avg_price"],
                            entry_date=date.fromisoformat(row["entry_date"]), initial_stop=row["initial_stop"],
                            peak=row["peak"], trail_pct=row["trail_pct"], tiers_hit=row["tiers_hit"])
        new, decision = update_and_check(pos, price, state["regime"], agent_support(state["proposals"], sym), pol)
        if new.peak != row["peak"]:
            ctx.store.upsert_position({**row, "peak": new.peak})
        if decision is not None:
            out.append(ExitOrder(symbol=sym, kind=decision.kind, fraction=decision.fraction,
                                 quantity=row["quantity"] * decision.fraction, price=price, trigger=decision.trigger,
                                 reason=decision.reason, new_trail=decision.new_trail,
                                 new_tiers_hit=decision.new_tiers_hit))
    return {"exits": out, "summary": ", ".join(f"{e.kind} {e.symbol} ({e.trigger})" for e in out) or "no exits"}
