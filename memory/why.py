"""The reason chain of an intent, read once for every door: `desk why`, `/desk why`, the chat agent's ``why`` tool.

An intent carries its own chain (agent reasons, every sizing factor, every verdict and rule that touched it: see
``vocab.contracts.Intent``); this query adds what became of it (its status, orders and fills) and the proposals
behind it. A target is an intent id, or a symbol for its latest intent.
"""

from __future__ import annotations

import difflib
from datetime import date
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from vocab.contracts import Denial, Intent

if TYPE_CHECKING:  # the records are imported by the doors' result types, which must stay cheap to import
    from memory.store import Store


class NotFound(LookupError):
    """The record holds nothing by that name; the message says what it does hold."""


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProposalRow(_Row):
    agent: str
    action: str
    model_version: str | None


class OrderRow(_Row):
    client_order_id: str
    status: str
    session: str
    quantity: float


class FillRow(_Row):
    quantity: float
    price: float
    commission: float
    session: str
    price_source: str


class NotEnteredRow(_Row):
    """A night after the intent on which its symbol was a selected pick and was not bought, and why."""

    as_of: date
    score: float
    denials: list[Denial]


class ReasonChain(_Row):
    """An intent as the night wrote it, and what became of it."""

    intent: Intent
    status: str
    status_reason: str | None
    proposals: list[ProposalRow]
    orders: list[OrderRow]
    fills: list[FillRow]
    not_entered: NotEnteredRow | None = None


def reason_chain(store: Store, target: str) -> ReasonChain:
    """The chain of the intent ``target`` names (an id, or a symbol for its latest); NotFound says what exists."""
    row = store.intent(target)
    if row is None:
        sym = target.upper()
        rows = [r for r in store.intents() if r.symbol == sym]
        if not rows:
            raise NotFound(_missing(store, target, sym))
        row = max(rows, key=lambda r: (r.as_of, r.intent_id))
    intent = row.intent
    later = store.latest_denied_pick(intent.symbol)
    orders = [o for o in store.orders() if o.intent_id == intent.intent_id]
    ids = {o.client_order_id for o in orders}
    return ReasonChain(
        intent=intent, status=row.status, status_reason=row.status_reason,
        proposals=[ProposalRow(**p.model_dump()) for p in store.proposals_for(intent.as_of, intent.symbol)],
        orders=[OrderRow(**o.model_dump(mode="json", include=set(OrderRow.model_fields))) for o in orders],
        fills=[FillRow(**f.model_dump(mode="json", include=set(FillRow.model_fields))) for f in store.fills()
               if f.client_order_id in ids],
        not_entered=NotEnteredRow(**later.model_dump()) if later and later.as_of > intent.as_of else None)


def _missing(store: Store, target: str, sym: str) -> str:
    denied = store.latest_denied_pick(sym)
    if denied:
        last = denied.denials[-1]
        return (f"no intents for {sym}: on {denied.as_of} it was a selected pick (score {denied.score:.0f}) and was "
                f"not bought: {last.rule}: {last.reason}")
    known_symbols = {s.symbol for s in store.symbols()}
    if sym in known_symbols:
        return f"no intents for {sym} yet; run `desk run` first or see `desk status`"
    known = sorted({r.symbol for r in store.intents()} | known_symbols)
    hint = difflib.get_close_matches(sym, known, n=1)
    more = f"; did you mean {hint[0]}?" if hint else "; try `desk status` or an intent id"
    return f"no intent or symbol {target!r} in the store{more}"
