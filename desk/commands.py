"""Command logic, apart from transport: each returns plain data or raises DeskError. The CLI (and later Slack)
only parse and format."""

from __future__ import annotations

import difflib
import json
from datetime import date
from typing import Any

from desk.errors import DeskError
from memory.store import Store
from tools.contracts import Intent


def status(store: Store) -> dict[str, Any]:
    state = store.desk_state()
    snaps = store.snapshots()
    last = snaps.iloc[-1] if len(snaps) else None
    return {
        "halted": bool(state["halted"]), "halt_reason": state["reason"], "halted_since": state["since"],
        "data_until": store.get_meta("data_until"),
        "breakers": [{k: b[k] for k in ("name", "tripped", "sessions", "reason")} for b in store.breakers()],
        "symbols": len(store.symbols()), "stale": [s["symbol"] for s in store.symbols() if s["stale"]],
        "positions": {s: {"quantity": round(p["quantity"], 4), "avg_price": round(p["avg_price"], 4),
                          "stop": round(max(p["initial_stop"], p["peak"] * (1 - p["trail_pct"])), 4)}
                      for s, p in store.positions().items()},
        "equity": None if last is None else round(float(last["equity"]), 2),
        "cash": None if last is None else round(float(last["cash"]), 2),
        "as_of": None if last is None else snaps.index[-1].date().isoformat(),
        "last_runs": [{k: r[k] for k in ("run_id", "kind", "as_of", "status")} for r in store.runs(limit=4)],
    }


def why(store: Store, target: str) -> dict[str, Any]:
    """Explain an intent (by id) or the latest decision on a symbol: the full reason chain."""
    row = store.intent(target)
    if row is None:
        sym = target.upper()
        rows = [r for r in store.intents() if r["symbol"] == sym]
        if not rows and any(s["symbol"] == sym for s in store.symbols()):
            raise DeskError(f"no intents for {sym} yet; run `desk run` first or see `desk status`")
        if not rows:
            known = sorted({r["symbol"] for r in store.intents()} | {s["symbol"] for s in store.symbols()})
            hint = difflib.get_close_matches(sym, known, n=1)
            more = f"; did you mean {hint[0]}?" if hint else "; try `desk status` or an intent id"
            raise DeskError(f"no intent or symbol '{target}' in the store{more}")
        row = max(rows, key=lambda r: (r["as_of"], r["intent_id"]))
    intent = Intent.model_validate_json(row["payload"])
    orders = [o for o in store.orders() if o["intent_id"] == intent.intent_id]
    fills = [f for o in orders for f in store.fills() if f["client_order_id"] == o["client_order_id"]]
    return {
        "intent_id": intent.intent_id, "as_of": intent.as_of.isoformat(), "symbol": intent.symbol,
        "side": intent.side, "kind": intent.kind, "quantity": intent.quantity, "status": row["status"],
        "status_reason": row["status_reason"], "reasons": intent.reasons,
        "sizing": [f.model_dump() for f in intent.sizing], "verdicts": intent.verdicts,
        "denials": [d.model_dump() for d in intent.denials],
        "orders": [{k: o[k] for k in ("client_order_id", "status", "session", "quantity")} for o in orders],
        "fills": [{k: f[k] for k in ("quantity", "price", "commission", "session", "price_source")} for f in fills],
    }


def halt(store: Store, reason: str, actor: str) -> dict[str, Any]:
    if not reason.strip():
        raise DeskError("a halt needs a reason: desk halt --reason TEXT")
    store.set_halted(True, reason.strip(), actor)
    return {"halted": True, "reason": reason.strip()}


def resume(store: Store, actor: str) -> dict[str, Any]:
    """Lift an operator's halt and clear any circuit breaker early (both audited)."""
    halted, breakers = store.desk_state()["halted"], store.breakers()
    if not halted and not breakers:
        raise DeskError("the desk is not halted and no circuit breaker is set")
    if halted:
        store.set_halted(False, None, actor)
    cleared = store.clear_breakers(actor, "operator resume")
    return {"halted": False, "breakers_cleared": cleared}


def data_status(store: Store) -> dict[str, Any]:
    return {"data_until": store.get_meta("data_until"),
            "symbols": [{k: s[k] for k in ("symbol", "kind", "source", "first_date", "last_date", "rows", "stale")}
                        for s in store.symbols()]}


def parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DeskError(f"not a date: {text!r} (use YYYY-MM-DD)") from None


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, default=str)
