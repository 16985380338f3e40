"""Night: the four-tier sizing cascade (FULL_RL / BLENDED / PURE_KELLY / EMERGENCY_FLAT) for selected picks, then
the shrink-only steps, and the exit rules for every holding. The hard rules still have the last word after it."""

from __future__ import annotations

import math
import time
from datetime import date

import pandas as pd
from langgraph.runtime import Runtime

from graph.config import DeskConfig
from graph.context import DeskContext
from graph.nodes.book import book_view
from graph.nodes.guard import entries_blocked
from graph.nodes.picks import asset_health
from graph.state import ExitOrder, NightState, Sized
from models.api import AsOfArgs, SizeArgs, SymbolsArgs
from tools.agents import agent_support
from tools.budget import book_scale, correlation
from tools.exits import ExitPolicy, PositionState, update_and_check
from tools.kelly import KellyPrior, calibrated, kelly_share, state_fraction
from tools.sizing import cascade, weather_share
from tools.tiers import choose_tier
from tools.trust import AgentRecord
from vocab.contracts import Denial, Proposal, SizingFactor
from vocab.terms import Regime, SizingTier, VolState

# The regime step of the sizing cascade, a priori: size falls as the regime turns hostile, from full size in a calm
# uptrend to TraderBot's floor of 0.25x in a panic ("a position-size modifier (0.25–1.0x)"); the steps
# between are evenly judged, not fitted (none was chosen by looking at data, let alone data from 2019 on).
REGIME_SIZE: dict[Regime, float] = {
    Regime.CALM_UPTREND: 1.0, Regime.RISK_ON_TREND: 0.9, Regime.CHOPPY: 0.6, Regime.RISK_OFF_TREND: 0.4,
    Regime.HIGH_VOL_PANIC: 0.25,
}


def _record(ctx: DeskContext, state: NightState, tool: str, args: dict, out: dict, version: str | None,
            t0: float) -> None:
    ctx.store.record_tool_call(state["run_id"], tool, args, out, version, (time.perf_counter() - t0) * 1000)


def volatility_state(ctx: DeskContext, state: NightState) -> tuple[VolState | None, str]:
    """Tonight's volatility state from the HMM when it is usable (else unknown, and why)."""
    day = state["as_of"]
    a = ctx.tools.models.availability("vol_state", day)
    if not a.usable:
        return None, f"volatility state unknown: {a.reason}"
    t0 = time.perf_counter()
    try:
        r = ctx.tools.models.vol_state(AsOfArgs(as_of=day))
    except Exception as exc:  # noqa: BLE001 - an unknown state sizes with the cautious share, and says so
        return None, f"volatility state unknown: the HMM failed ({type(exc).__name__}: {exc})"
    _record(ctx, state, "volatility_state", {"as_of": str(day)},
            {"state": r.state, "p": round(r.probabilities[r.state], 4)}, r.model_version, t0)
    return VolState(r.state), f"HMM {r.model_version}: {r.state} (p={r.probabilities[r.state]:.2f})"


def garch_vols(ctx: DeskContext, state: NightState, symbols: list[str]) -> tuple[dict[str, float], str]:
    """GARCH(1,1) forecasts per symbol and the version, when the model is usable (else none, and why not)."""
    day = state["as_of"]
    a = ctx.tools.models.availability("garch", day)
    if not symbols or not a.usable:
        return {}, f"GARCH out: {a.reason}" if symbols else "no symbols"
    t0 = time.perf_counter()
    try:
        r = ctx.tools.models.garch(SymbolsArgs(as_of=day, symbols=symbols))
    except Exception as exc:  # noqa: BLE001 - no forecast: the realised volatility targets instead, and says so
        return {}, f"GARCH failed ({type(exc).__name__}: {exc})"
    vols = {f.symbol: f.vol for f in r.forecasts if f.available and f.vol}
    _record(ctx, state, "garch_volatility", {"as_of": str(day), "symbols": symbols},
            {k: round(v, 4) for k, v in vols.items()}, r.model_version, t0)
    return vols, f"GARCH {r.model_version}"


def _mean(pairs: list[tuple[float, float]]) -> float:
    total = sum(w for w, _ in pairs)
    return sum(w * x for w, x in pairs) / total if total > 0 else 0.0


def pick_kelly(proposals: list[Proposal], records: dict[str, AgentRecord], weights: dict[str, float],
               prior_strength: float, prior: KellyPrior = "no_edge") -> tuple[float, float, float | None, str]:
    """The pick's full Kelly fraction, confidence and IC: weighted (by tonight's agent weights) over its
    proposals; the IC is unknown if any agent's is."""
    kellys, confs, ics, parts = [], [], [], []
    for p in proposals:
        rec = records.get(p.agent) or AgentRecord(agent=p.agent, resolved=0, wins=0)
        k = calibrated(p.confidence, rec.wins, rec.resolved, rec.mean_win, rec.mean_loss, prior_strength, prior)
        w = weights.get(p.agent, 1.0)
        kellys.append((w, k.full_kelly))
        confs.append((w, p.confidence))
        ics.append((w, rec.ic))
        parts.append(f"{p.agent}: p {k.p_win:.2f}, b {k.payoff:.2f} over {k.resolved} resolved (prior p "
                     f"{k.prior_p:.2f}, {prior.replace('_', ' ')}) → f* {k.full_kelly:.3f}")
    ic = None if not ics or any(x is None for _, x in ics) else _mean([(w, x) for w, x in ics])
    return _mean(kellys), _mean(confs), ic, "; ".join(parts)


def tier_share(tier: SizingTier, k: float, rl_action: float | None) -> float:
    """The tier's share of the base weight, from Kelly's share ``k`` (tools.kelly.kelly_share) and the RL action."""
    if tier is SizingTier.FIXED:
        return 1.0
    if tier is SizingTier.PURE_KELLY:
        return k
    if tier is SizingTier.FULL_RL:
        return float(rl_action or 0.0)
    if tier is SizingTier.BLENDED:
        return 0.5 * float(rl_action or 0.0) + 0.5 * k
    return 0.0


def sizing(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    """Size each selected pick through the four-tier cascade, then the shrink-only steps. A pick whose proposals
    lack a verdict fails closed: no entry, and the denial says which proposal went unreviewed. An open circuit
    breaker sizes every entry flat (EMERGENCY_FLAT), and the denial says so."""
    ctx = runtime.context
    day = state["as_of"]
    cfg = ctx.config.sizing
    snap = state["weather"]
    verdicts = {v.proposal_key: v for v in state["verdicts"]}
    by_key = {p.key: p for p in state.get("proposals", [])}
    denials: dict[str, list[Denial]] = {}  # this node's own; the state's reducer merges them (graph/state.py)
    selected = [p for p in state["picks"] if p.selected]
    blocked = entries_blocked(ctx, day)
    vstate, vreason = volatility_state(ctx, state) if selected and cfg.mode != "fixed" else (None, "not needed")
    frac, frac_why = state_fraction(vstate, cfg.kelly_fractions, cfg.unknown_state_fraction)
    held = ctx.store.positions()
    vols, garch = (garch_vols(ctx, state, sorted({p.symbol for p in selected} | set(held)))
                   if cfg.mode != "fixed" and selected else ({}, "not used"))
    r_share, e_share, t_share, notes = weather_share(cfg.weather, state["regime"], REGIME_SIZE[state["regime"]],
                                                     snap.sizing_modifier, snap.risk_throttle)
    rl = ctx.tools.models.availability("rl_sizer", day)
    records = state.get("agent_records", {})
    weights = state.get("agent_weights", {})
    base = ctx.config.picks.base_weight
    out: list[Sized] = []
    for pick in selected:
        missing = [k for k in pick.proposal_keys if k not in verdicts]
        if missing or not pick.proposal_keys:
            why = f"no overlay verdict for {', '.join(missing)}" if missing else "no proposal behind the pick"
            denials[pick.symbol] = [*denials.get(pick.symbol, []),
                                    Denial(rule="no_verdict", reason=f"{why}: no entry (fails closed)")]
            continue
        vs = [verdicts[k] for k in pick.proposal_keys]
        props = [by_key[k] for k in pick.proposal_keys if k in by_key]
        full, confidence, ic, kelly_why = pick_kelly(props, records, weights, cfg.prior_strength, cfg.kelly_prior)
        tier, gates = choose_tier(cfg.mode, blocked=blocked, rl_usable=rl.usable, rl_reason=rl.reason,
                                  confidence=confidence, ic=ic, full_confidence=cfg.full_rl_confidence,
                                  full_ic=cfg.full_rl_ic, blended_confidence=cfg.blended_confidence,
                                  blended_ic=cfg.blended_ic)
        if tier is SizingTier.EMERGENCY_FLAT:   # sized flat; the hard rules then deny it for the same reason
            denials[pick.symbol] = [*denials.get(pick.symbol, []),
                                    Denial(rule="emergency_flat", reason=f"EMERGENCY_FLAT: {gates[0]}: no entry")]
        rl_action = None
        if tier in (SizingTier.FULL_RL, SizingTier.BLENDED):
            try:
                rl_action, _ = rl_size(ctx, state, pick, props)
            except Exception as exc:  # noqa: BLE001 - the RL sizer fails closed to Kelly, and says so
                tier, gates = SizingTier.PURE_KELLY, [*gates, f"RL sizer failed ({type(exc).__name__}: {exc}): "
                                                              f"PURE_KELLY instead"]
        kelly_weight = full * frac
        k, modifier = kelly_share(kelly_weight, base, cfg.kelly_floor)
        share = tier_share(tier, k, rl_action)
        why = {SizingTier.FIXED: "the base weight alone",
               SizingTier.PURE_KELLY: f"{modifier}; Kelly {kelly_weight:.2%} = full {full:.3f} × {frac_why} "
                                      f"({kelly_why})",
               SizingTier.FULL_RL: f"RL sizer {rl.model_version}: size {rl_action or 0:.3f} of the base weight",
               SizingTier.BLENDED: f"½ RL size {rl_action or 0:.3f} + ½ Kelly share ({modifier}; Kelly "
                                   f"{kelly_weight:.2%}, {frac_why})",
               SizingTier.EMERGENCY_FLAT: "flat: entries are blocked"}[tier]
        overlay_mult = min(v.size_multiplier for v in vs)
        garch_vol = vols.get(pick.symbol)
        asset_vol = garch_vol if garch_vol else (pick.vol_21d if pick.vol_21d else float("nan"))
        source = (f"{garch} forecast" if garch_vol else f"realised 21-session volatility (no forecast: {garch}"
                  + (" has no stationary fit for this symbol)" if vols else ")"))
        weight, factors = cascade(
            base_weight=base, asset_vol=asset_vol, target_vol=ctx.config.picks.target_vol,
            regime_modifier=r_share, overlay_multiplier=overlay_mult,
            disagreement=pick.dissent, expert_modifier=e_share, risk_throttle=t_share,
            tier=(str(tier), share, why), vol_source=source, notes=notes)
        tighter = [v.stop for v in vs if v.stop]
        stop = max([*tighter, pick.stop] if pick.stop else tighter, default=None)
        out.append(Sized(symbol=pick.symbol, weight=weight, price=pick.price, score=pick.score, stop=stop,
                         factors=factors, verdicts=vs, tier=tier,
                         gates=[*gates, f"vol state: {vreason}" if cfg.mode != "fixed" else "vol state not used"]))
    out, budget = to_budget(ctx, state, out, held, vols, r_share)
    out, zeroed = drop_zero(out, denials)
    tiers = sorted({str(s.tier) for s in out})
    return {"sized": out, "denials": denials, "vol_state": vstate, "vol_state_reason": vreason,
            "summary": (", ".join(f"{s.symbol} {s.weight:.1%}" for s in out) or "nothing to size")
                       + (f" (tiers: {', '.join(tiers)})" if tiers else "")
                       + (f"; {budget}" if budget else "") + (f"; {zeroed}" if zeroed else "")}


def to_budget(ctx: DeskContext, state: NightState, sized: list[Sized], held: dict, vols: dict[str, float],
              regime_share: float) -> tuple[list[Sized], str]:
    """Scale the night's entries together to the book's risk budget (tools.budget); a ``budget`` factor on each."""
    cfg = ctx.config.sizing
    if cfg.budget == "off" or not sized:
        return sized, ""
    day = state["as_of"]
    book = book_view(ctx, day)
    if book.equity <= 0:
        return sized, ""
    rows = ctx.market.feature_dicts(day)
    symbols = sorted({s.symbol for s in sized} | set(held))
    own = {sym: vols.get(sym) or (rows.get(sym) or {}).get("vol_21d") or math.nan for sym in symbols}
    reading = book_scale({k: v / book.equity for k, v in book.positions.items()}, {s.symbol: s.weight for s in sized},
                         own, correlation(ctx.market.arrays, symbols, day), symbols, cfg.target_vol, regime_share,
                         cfg.budget, ctx.config.risk.max_weight)
    out = []
    for s in sized:
        w = s.weight * reading.scale
        factor = SizingFactor(name="budget", multiplier=reading.scale, weight_after=w, reason=reading.reason)
        out.append(s.model_copy(update={"weight": w, "factors": [*s.factors, factor]}))
    return out, f"budget ×{reading.scale:.2f} (book {reading.book_vol:.1%} of {reading.budget:.1%})"


def drop_zero(sized: list[Sized], denials: dict[str, list[Denial]]) -> tuple[list[Sized], str]:
    """Entries sized to nothing leave the night with a denial naming the factor that zeroed them (so a night with
    no exposure says which rule made it so)."""
    kept, why = [], {}
    for s in sized:
        if s.weight > 0 or s.tier is SizingTier.EMERGENCY_FLAT:   # a flat entry already says why; the rules deny it
            kept.append(s)
            continue
        f = next((f for f in s.factors if f.multiplier <= 0), None)
        reason = f"sized to 0 by the {f.name} factor: {f.reason}" if f else "sized to 0"
        denials[s.symbol] = [*denials.get(s.symbol, []), Denial(rule="zero_size", reason=reason)]
        why.setdefault(f.name if f else "?", []).append(s.symbol)
    return kept, "; ".join(f"sized to 0 by {k}: {', '.join(v)}" for k, v in why.items())


def rl_size(ctx: DeskContext, state: NightState, pick, props: list[Proposal]) -> tuple[float, str]:
    """The RL sizer's action in [0, 1] for one pick (asked only when it is promoted and usable tonight)."""
    import numpy as np

    day = state["as_of"]
    book = book_view(ctx, day)
    bench = ctx.market.close[ctx.config.data.benchmark].loc[:pd.Timestamp(day)].dropna().to_numpy()[-22:]
    index_vol = float(np.diff(np.log(bench)).std(ddof=1) * np.sqrt(252)) if len(bench) == 22 else None
    args = SizeArgs(as_of=day, strength=_mean([(1.0, p.strength) for p in props]),
                    confidence=_mean([(1.0, p.confidence) for p in props]), vol_21d=pick.vol_21d,
                    ret_21d=pick.ret_21d, index_vol_21d=index_vol,
                    book_gross=sum(book.positions.values()) / book.equity if book.equity > 0 else 0.0)
    t0 = time.perf_counter()
    r = ctx.tools.models.rl_sizer(args)
    _record(ctx, state, "rl_sizer", args.model_dump(mode="json"), {"size": round(r.size, 4)}, r.model_version, t0)
    return r.size, r.model_version


def policy(config: DeskConfig) -> ExitPolicy:
    r = config.risk
    return ExitPolicy(trailing_stop=r.trailing_stop, profit_tiers=tuple(r.profit_tiers),
                      tier_exit_fraction=r.tier_exit_fraction, tier_trails=tuple(r.tier_trails),
                      score_collapse=r.score_collapse, trailing=r.trailing_exits)


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
        pos = PositionState(symbol=sym, quantity=row.quantity, avg_price=row.avg_price,
                            entry_date=row.entry_date, initial_stop=row.initial_stop,
                            peak=row.peak, trail_pct=row.trail_pct, tiers_hit=row.tiers_hit)
        _, decision = update_and_check(pos, price, state["regime"], agent_support(state["proposals"], sym), pol,
                                       health.get(sym))
        marks[sym] = price
        if decision is not None:
            out.append(ExitOrder(symbol=sym, kind=decision.kind, fraction=decision.fraction,
                                 quantity=row.quantity * decision.fraction, price=price, trigger=decision.trigger,
                                 reason=decision.reason, new_trail=decision.new_trail,
                                 new_tiers_hit=decision.new_tiers_hit))
    return {"exits": out, "marks": marks,
            "summary": ", ".join(f"{e.kind} {e.symbol} ({e.trigger})" for e in out) or "no exits"}
