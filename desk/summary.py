"""Readable run summaries: the night's regime, proposals, verdicts and intents; the morning's orders and book."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def night_data(state: dict) -> dict[str, Any]:
    verdicts = {v.proposal_key: v for v in state.get("verdicts", [])}
    return {
        "as_of": state["as_of"].isoformat(), "run_id": state["run_id"], "regime": state["regime"],
        "base_regime": state["weather"].base_regime, "narrative": state["view"].narrative,
        "threshold": state.get("threshold"), "threshold_reason": state.get("threshold_reason"),
        "proposals": [{"symbol": p.symbol, "agent": p.agent, "action": str(p.action), "strength": round(p.strength, 3),
                       "verdict": verdicts[p.key].decision if p.key in verdicts else None,
                       "verdict_reason": verdicts[p.key].reason if p.key in verdicts else None,
                       "rationale": p.rationale}
                      for p in state["proposals"] if str(p.action) != "HOLD"],
        "picks": [{"symbol": p.symbol, "score": round(p.score, 1), "selected": p.selected} for p in state["picks"]],
        "intents": [{"intent_id": i.intent_id, "side": i.side, "kind": i.kind, "quantity": round(i.quantity, 4),
                     "weight": round(i.target_weight, 4), "reasons": i.reasons} for i in state["intents"]],
        "denials": {sym: [f"{d.rule}: {d.reason}" for d in ds] for sym, ds in state.get("denials", {}).items()},
    }


def morning_data(state: dict) -> dict[str, Any]:
    return {
        "session": state["session"].isoformat(), "run_id": state["run_id"],
        "quote_sources": sorted(set(state.get("quote_source", {}).values())),
        "results": [r.model_dump() for r in state.get("results", [])],
        "equity": state.get("equity"), "cash": state.get("cash"),
    }


def print_night(console: Console, data: dict) -> None:
    console.rule(f"[bold]Night {data['as_of']}[/]")
    console.print(f"Regime [bold]{data['regime']}[/] (fused base {data['base_regime']})")
    console.print(data["narrative"], highlight=False)
    props = Table("symbol", "agent", "action", "strength", "verdict", "reason", title="Proposals and verdicts")
    for p in data["proposals"]:
        props.add_row(p["symbol"], p["agent"], p["action"], f"{p['strength']:.2f}", p["verdict"] or "-",
                      (p["verdict_reason"] or "")[:70])
    console.print(props)
    console.print(f"Picks threshold {data['threshold']:.0f}: {data['threshold_reason']}", highlight=False)
    intents = Table("intent", "side", "qty", "weight", "why", title="Intents")
    for i in data["intents"]:
        intents.add_row(i["intent_id"], i["side"], f"{i['quantity']:.2f}", f"{i['weight']:.1%}", i["reasons"][0][:90])
    console.print(intents if data["intents"] else "No intents tonight.")
    for sym, ds in sorted(data["denials"].items()):
        console.print(f"  denied {sym}: {'; '.join(ds)}", highlight=False)


def print_morning(console: Console, data: dict) -> None:
    console.rule(f"[bold]Morning {data['session']}[/]")
    if "latest_close" in data["quote_sources"]:
        console.print(f"No bar for {data['session']} yet: quoted and filled at the latest close.")
    t = Table("symbol", "side", "status", "qty", "price", "reason", title="Orders and fills")
    for r in data["results"]:
        t.add_row(r["symbol"], r["side"], r["status"], f"{r['quantity']:.2f}",
                  f"{r['price']:.2f}" if r["price"] else "-", (r["reason"] or "")[:70])
    console.print(t if data["results"] else "No orders this morning.")
    if data["equity"] is not None:
        console.print(f"Book value [bold]{data['equity']:,.2f}[/] (cash {data['cash']:,.2f})")
