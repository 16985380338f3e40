"""What each LLM prompt receives: the desk's values as prompt fields, every piece of data delimited as data.

Numbers the desk computed are formatted here; everything else that reaches a prompt from data (symbols, agent names,
rationales, notes, layer states and sources, sectors) goes through ``delimited``: JSON between ``<data>`` tags that
nothing inside can close.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from graph.providers.base import BookEntry, BookSummary, finite
from graph.providers.prompting import delimited, weather_fields
from memory.track_record import Outcomes
from vocab.contracts import ASSET_FEATURES, Proposal, WeatherSnapshot
from vocab.terms import REGIME_ORDER

Record = Mapping[str, Sequence[Outcomes]]  # agent (and "*") -> outcomes by decision
REVERSAL = {True: "You may also reverse an entry's direction (`reverse`) when the inputs clearly argue for the "
                  "opposite side.",
            False: "You may not reverse a direction: `reverse` is recorded as a veto."}


def _number(value: object, digits: int = 4) -> float | None:
    number = finite(value)
    return None if number is None else float(f"{number:.{digits}g}")


def _numbers(values: Mapping[str, object], names: Sequence[str] | None = None) -> dict[str, float | None]:
    keys = names if names is not None else sorted(values)
    return {k: _number(values.get(k)) for k in keys if k in values}


def outcomes(record: Record | None, agent: str | None = None) -> dict[str, dict[str, float | int]]:
    """The resolved track record for one agent (or every agent, ``*``) as small JSON-ready numbers."""
    rows = (record or {}).get(agent or "*", ())
    return {o.decision: {"n": o.n, "mean_return": round(o.mean_return, 4), "hit_rate": round(o.hit_rate, 3)}
            for o in rows}


def weather(snapshot: WeatherSnapshot) -> dict[str, str]:
    """The weather analyst's fields: the desk's numbers as they are, the layers, experts and notes as data."""
    plain = weather_fields(snapshot)
    return {**plain,
            "regime_ladder": " < ".join(str(r) for r in REGIME_ORDER),
            "layers": delimited(plain["layers"]), "unavailable": delimited(plain["unavailable"]),
            "experts": delimited(plain["experts"]), "notes": delimited(plain["notes"])}


def weather_brief(snapshot: WeatherSnapshot) -> str:
    """The weather as one data block for the overlay and the risk reviewer."""
    layers = {n: {"state": r.state, "score": _number(r.score, 3)} if r.available else "unavailable"
              for n, r in sorted(snapshot.layers.items())}
    experts = {k: (v if isinstance(v, bool) or v is None else _number(v, 3)) for k, v in sorted(snapshot.experts.items())}
    return delimited({"regime": str(snapshot.regime), "base_regime": str(snapshot.base_regime),
                      "sizing_modifier": _number(snapshot.sizing_modifier, 3),
                      "risk_throttle": _number(snapshot.risk_throttle, 3), "layers": layers, "experts": experts,
                      "notes": list(snapshot.notes)})


def proposal_data(pid: str, p: Proposal, features: Mapping[str, float | None], record: Record | None) -> dict:
    """One proposal as the batch prompt shows it (``features`` already formatted by ``_numbers``)."""
    return {"id": pid, "symbol": p.symbol, "action": str(p.action), "agent": p.agent, "style": str(p.style),
            "model_version": p.model_version, "strength": _number(p.strength, 3),
            "confidence": _number(p.confidence, 3), "horizon_days": p.horizon_days,
            "stop": _number(p.stop, 6), "rationale": p.rationale, "inputs": _numbers(p.inputs),
            "features": features,
            "track_record": {"this_agent": outcomes(record, p.agent), "all_agents": outcomes(record)}}


def batch(proposals: Mapping[str, Proposal], snapshot: WeatherSnapshot,
          features: Mapping[str, Mapping[str, float]], records: Mapping[str, Record], *,
          allow_reverse: bool) -> dict[str, str]:
    symbols = {p.symbol for p in proposals.values()}
    shown = {s: _numbers(features.get(s, {}), ASSET_FEATURES) for s in symbols}  # once per symbol, not per agent
    items = [proposal_data(pid, p, shown[p.symbol], records.get(p.symbol)) for pid, p in proposals.items()]
    return {"as_of": snapshot.as_of.isoformat(), "regime": str(snapshot.regime), "weather": weather_brief(snapshot),
            "proposals": delimited(items), "count": str(len(items)), "reversal": REVERSAL[allow_reverse]}


def single(p: Proposal, snapshot: WeatherSnapshot, features: Mapping[str, float], record: Record | None, *,
           allow_reverse: bool) -> dict[str, str]:
    return {"as_of": p.as_of.isoformat(), "symbol": delimited(p.symbol), "action": str(p.action),
            "agent": delimited(p.agent), "model_version": delimited(p.model_version),
            "strength": f"{p.strength:.3f}", "confidence": f"{p.confidence:.3f}",
            "horizon_days": str(p.horizon_days), "stop": "none" if p.stop is None else f"{p.stop:.4f}",
            "rationale": delimited(p.rationale), "inputs": delimited(_numbers(p.inputs)),
            "features": delimited(_numbers(features, ASSET_FEATURES)), "regime": str(snapshot.regime),
            "weather": weather_brief(snapshot),
            "track_record": delimited({"this_agent": outcomes(record, p.agent), "all_agents": outcomes(record)}),
            "reversal": REVERSAL[allow_reverse]}


def book(entries: Sequence[BookEntry], snapshot: WeatherSnapshot, summary: BookSummary,
         records: Mapping[str, Record]) -> dict[str, str]:
    rows = [{"symbol": e.symbol, "weight": _number(e.weight), "score": _number(e.score), "agents": list(e.agents),
             "vol_21d": _number(e.vol_21d), "ret_21d": _number(e.ret_21d), "sector": e.sector,
             "track_record": outcomes(records.get(e.symbol))} for e in entries]
    experts = {k: (v if isinstance(v, bool) or v is None else _number(v, 3)) for k, v in sorted(snapshot.experts.items())}
    return {"as_of": snapshot.as_of.isoformat(), "regime": str(summary.regime),
            "equity": f"{summary.equity:.2f}", "cash": f"{summary.cash:.2f}",
            "held": delimited({s: _number(w) for s, w in sorted(summary.held.items()) if math.isfinite(w)}),
            "entries": delimited(rows), "experts": delimited(experts), "weather": weather_brief(snapshot)}
