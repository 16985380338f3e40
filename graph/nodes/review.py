"""Night: the risk reviewer looks at the whole book of new entries — it may shrink or veto, never enlarge.

Each entry carries its sector from ``data.sectors`` (by default the GICS sectors of the bundled universe, see
``tools.data.bundled.EQUITY_SECTORS``), so the reviewer's crowded-sector check sees them; a symbol the table does not
name has no sector, and the reviewer's summary says how many entries it could not place.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import DeskContext
from graph.nodes.book import book_view
from graph.providers.base import BookEntry, BookSummary
from graph.providers.scope import call_scope
from graph.state import NightState
from vocab.contracts import Denial, SizingFactor


def risk_review(state: NightState, runtime: Runtime[DeskContext]) -> dict:
    ctx = runtime.context
    picks = {p.symbol: p for p in state["picks"]}
    sectors = ctx.config.data.sectors
    book = book_view(ctx, state["as_of"])
    entries = [BookEntry(symbol=s.symbol, weight=s.weight, score=s.score, agents=picks[s.symbol].agents,
                         vol_21d=picks[s.symbol].vol_21d, ret_21d=picks[s.symbol].ret_21d,
                         sector=sectors.get(s.symbol))
               for s in state["sized"]]
    summary = BookSummary(equity=book.equity, cash=book.cash, regime=state["regime"],
                          held={k: v / book.equity for k, v in book.positions.items()} if book.equity else {})
    with call_scope(state["run_id"], state["as_of"]):
        review = ctx.provider.review_book(entries, state["weather"], summary)
    sized = []
    for s in state["sized"]:
        if s.symbol in review.veto:
            continue
        mult = min(1.0, max(0.0, review.shrink.get(s.symbol, 1.0)))
        if mult < 1.0:
            factor = SizingFactor(name="risk_reviewer", multiplier=mult, weight_after=s.weight * mult,
                                  reason=review.summary)
            s = s.model_copy(update={"weight": s.weight * mult, "factors": [*s.factors, factor]})
        sized.append(s)
    denials = {sym: [Denial(rule="risk_reviewer", reason=why)] for sym, why in review.veto.items()}
    return {"review": review, "sized": sized, "denials": denials, "summary": _said(review)}


def _said(review) -> str:
    """The review's summary, and who answered at what cost when a model did."""
    p = review.provenance
    paid = f" [{p.provider} {p.model}, ${p.cost_usd:.4f}]" if p.call_id and not p.replayed else ""
    return review.summary + paid
