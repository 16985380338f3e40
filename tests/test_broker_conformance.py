"""The broker conformance suite: one contract, every broker (paper, the web broker driving the sandbox in headless
Chromium, and Alpaca through alpaca-py against the loopback Alpaca API). A broker states what it supports (partial
fills, confirmations that can go missing, commissions, refusals booked as orders); the properties of a capability
run for the brokers that have it, and the brokers without it are held to the opposite property (a paper fill is
always complete, Alpaca charges no commission), never faked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from brokers.base import Broker, BrokerError, Order, QuantityRules
from brokers.paper import PaperBroker
from brokers.alpaca.loopback import serve as serve_alpaca
from brokers.sandbox import serve
from tests.alpaca_kit import alpaca_broker
from tests.broker_kit import D1, order, prices
from tests.browser_kit import browser, web_broker  # noqa: F401 - the module-scoped browser fixture

PARTIAL, TIMEOUTS = "partial_fills", "lost_confirmations"
COMMISSIONS = "commissions"  # the broker charges one on every fill (Alpaca charges none on US equities)
BOOKS_REFUSALS = "books_refusals"  # a refused order is an order in the broker's book (Alpaca books nothing)
LIMITS = "limit_orders"  # the broker places limit orders (the others refuse them with the reason)


@dataclass
class BrokerCase:
    """A broker ready to trade with 100 000 cash; a symbol it prices at 100 and one it cannot price.

    ``booked(cid)`` counts the orders with that id in the broker's own book (not through the broker under test).
    ``partial(ratio)`` / ``lose_confirmation()`` switch a capability on for a ``with`` block.
    """

    broker: Broker
    booked: Callable[[str], int]
    symbol: str = "AAA"
    unpriced_symbol: str = "ZZZ"
    supports: frozenset[str] = frozenset()
    partial: Callable[[float], AbstractContextManager[object]] = field(default=lambda r: nullcontext())
    lose_confirmation: Callable[[], AbstractContextManager[object]] = field(default=nullcontext)
    cleanup: list[Callable[[], None]] = field(default_factory=list)


def paper_case(tmp_path: Path, request: pytest.FixtureRequest) -> BrokerCase:
    broker = PaperBroker(tmp_path / "paper.db", prices(), session=D1, slippage_bps=0)

    def booked(cid: str) -> int:
        return broker.db.execute("SELECT count(*) FROM orders WHERE client_order_id=?", [cid]).fetchone()[0]
    return BrokerCase(broker, booked, supports=DECLARED[paper_case], cleanup=[broker.close])


class _Faults:
    """Switch a fault on for a ``with`` block, over the server's ``base`` switches (kept before and after)."""

    def __init__(self, server, spec: str, base: str = "") -> None:
        self.server, self.spec, self.base = server, spec, base

    def __enter__(self) -> None:
        self.server.set_faults(",".join(s for s in (self.base, self.spec) if s))

    def __exit__(self, *exc: object) -> None:
        self.server.set_faults(self.base or None)


def web_case(tmp_path: Path, request: pytest.FixtureRequest) -> BrokerCase:
    shared = request.getfixturevalue("browser")
    server = serve(prices={"AAA": 100.0, "BBB": 50.0}, session=D1)
    broker = web_broker(server, shared, tmp_path / "artifacts")

    def booked(cid: str) -> int:
        return sum(o.reference == cid for o in server.book.orders())
    return BrokerCase(broker, booked, supports=DECLARED[web_case],
                      partial=lambda r: _Faults(server, f"partial={r}"),
                      lose_confirmation=lambda: _Faults(server, "lost_confirmation"),
                      cleanup=[broker.close, server.stop])


def alpaca_case(tmp_path: Path, request: pytest.FixtureRequest) -> BrokerCase:
    """Alpaca: AAA and BBB are assets Alpaca does not trade in fractions (whole shares, as every case's); ``booked``
    counts the loopback's orders with the id plus its refusals of it (a refusal books nothing at Alpaca, but it was
    the broker acting on the id); a lost confirmation is a blackout after the order was booked (the answer and
    every lookup after it dropped)."""
    whole = "whole=AAA+BBB"
    server = serve_alpaca(prices={"AAA": 100.0, "BBB": 50.0}, session=D1, faults=whole)
    broker = alpaca_broker(server)
    return BrokerCase(broker, server.book.booked, supports=DECLARED[alpaca_case],
                      partial=lambda r: _Faults(server, f"partial={r}", whole),
                      lose_confirmation=lambda: _Faults(server, "blackout", whole),
                      cleanup=[broker.close, server.stop])


FACTORIES = [paper_case, web_case, alpaca_case]
DECLARED = {paper_case: frozenset({COMMISSIONS, BOOKS_REFUSALS}),
            web_case: frozenset({PARTIAL, TIMEOUTS, COMMISSIONS, BOOKS_REFUSALS}),
            alpaca_case: frozenset({PARTIAL, TIMEOUTS, LIMITS})}


def _with(capability: str, present: bool = True) -> list:
    """The factories of brokers that have (or lack) a capability, decided by building nothing: by declaration."""
    return [f for f in FACTORIES if (capability in DECLARED[f]) == present]


def _case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerCase]:
    made = request.param(tmp_path, request)
    yield made
    for done in made.cleanup:
        done()


def _ids(f: Callable) -> str:
    return f.__name__.removesuffix("_case")


@pytest.fixture(params=FACTORIES, ids=_ids)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerCase]:
    yield from _case(request, tmp_path)


@pytest.fixture(params=_with(PARTIAL), ids=_ids)
def partial_case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerCase]:
    yield from _case(request, tmp_path)


@pytest.fixture(params=_with(PARTIAL, present=False), ids=_ids)
def complete_case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerCase]:
    yield from _case(request, tmp_path)


@pytest.fixture(params=_with(TIMEOUTS), ids=_ids)
def timeout_case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerCase]:
    yield from _case(request, tmp_path)


@pytest.fixture(params=_with(LIMITS), ids=_ids)
def limit_case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerCase]:
    yield from _case(request, tmp_path)


@pytest.fixture(params=_with(LIMITS, present=False), ids=_ids)
def market_only_case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerCase]:
    yield from _case(request, tmp_path)


def test_declared_capabilities_match_the_cases() -> None:
    assert _with(PARTIAL) == [web_case, alpaca_case] and _with(TIMEOUTS) == [web_case, alpaca_case]
    assert _with(PARTIAL, False) == [paper_case] and _with(COMMISSIONS, False) == [alpaca_case]


# ---------------------------------------------------------------- submit, fill, resubmit


def test_contract_submit_fills_and_status_reports_the_same_fill(case: BrokerCase) -> None:
    s = case.broker.submit(order("f-1", case.symbol, quantity=3))
    assert (s.status, s.filled_qty, s.avg_price, s.client_order_id) == ("filled", 3, 100.0, "f-1")
    assert s.is_final and (s.commission > 0) == (COMMISSIONS in case.supports)
    assert case.broker.status("f-1") == s and case.booked("f-1") == 1


def test_contract_resubmit_returns_same_status_fills_once_and_debits_cash_once(case: BrokerCase) -> None:
    b = case.broker
    cash0 = b.account().cash
    first = b.submit(order("dup-1", case.symbol, quantity=3))
    cash1 = b.account().cash
    again = b.submit(order("dup-1", case.symbol, quantity=3))
    assert first.status == "filled" and again == first and b.status("dup-1") == first
    assert case.booked("dup-1") == 1
    assert b.positions()[case.symbol].quantity == pytest.approx(3)
    assert b.account().cash == pytest.approx(cash1) == cash0 - 3 * first.avg_price - first.commission


@pytest.mark.parametrize("change", [{"quantity": 4}, {"side": "sell"}, {"symbol": "BBB"}])
def test_contract_resubmit_of_same_id_with_different_order_raises(case: BrokerCase, change: dict) -> None:
    b = case.broker
    b.submit(order("dup-2", case.symbol, quantity=3))
    fields = {"cid": "dup-2", "symbol": case.symbol, "side": "buy", "quantity": 3, **change}
    with pytest.raises(BrokerError, match="dup-2.*different order"):
        b.submit(order(fields["cid"], fields["symbol"], fields["side"], fields["quantity"]))
    assert b.positions()[case.symbol].quantity == pytest.approx(3) and case.booked("dup-2") == 1


@pytest.mark.parametrize("method", ["status", "cancel"])
def test_contract_unknown_client_order_id_raises(case: BrokerCase, method: str) -> None:
    with pytest.raises(BrokerError, match="never-sent"):
        getattr(case.broker, method)("never-sent")


def test_contract_cancel_of_a_final_order_returns_it_unchanged(case: BrokerCase) -> None:
    sent = case.broker.submit(order("c-1", case.symbol, quantity=1))
    cancelled = case.broker.cancel("c-1")
    assert sent.status == "filled" and cancelled == sent and case.broker.status("c-1") == sent


# ---------------------------------------------------------------- rejections, each with its reason


def test_contract_buy_beyond_cash_is_rejected_with_reason(case: BrokerCase) -> None:
    b = case.broker
    cash = b.account().cash
    s = b.submit(order("big", case.symbol, quantity=2 * cash / b.quote(case.symbol).price))
    assert s.status == "rejected" and s.filled_qty == 0 and s.avg_price is None
    assert "insufficient cash" in s.reason
    assert b.account().cash == pytest.approx(cash) and case.symbol not in b.positions()


def test_contract_sell_beyond_holding_is_rejected_with_reason(case: BrokerCase) -> None:
    b = case.broker
    b.submit(order("buy-2", case.symbol, quantity=2))
    s = b.submit(order("sell-5", case.symbol, side="sell", quantity=5))
    assert s.status == "rejected" and "no shorting" in s.reason
    assert b.positions()[case.symbol].quantity == pytest.approx(2)


def test_contract_order_for_unpriced_symbol_is_rejected_with_reason(case: BrokerCase) -> None:
    s = case.broker.submit(order("nop", case.unpriced_symbol, quantity=1))
    assert s.status == "rejected" and "no price" in s.reason and case.unpriced_symbol in s.reason


def test_contract_quote_for_unpriced_symbol_raises(case: BrokerCase) -> None:
    with pytest.raises(BrokerError, match="no price"):
        case.broker.quote(case.unpriced_symbol)


def test_contract_quote_prices_a_known_symbol(case: BrokerCase) -> None:
    q = case.broker.quote(case.symbol)
    assert (q.symbol, q.price) == (case.symbol, 100.0)


def test_contract_rejected_order_resubmitted_stays_rejected(case: BrokerCase) -> None:
    first = case.broker.submit(order("nop-2", case.unpriced_symbol, quantity=1))
    assert case.broker.submit(order("nop-2", case.unpriced_symbol, quantity=1)) == first
    assert case.booked("nop-2") == 1


# ---------------------------------------------------------------- account and positions follow the fills


def test_contract_account_and_positions_are_consistent_with_fills(case: BrokerCase) -> None:
    b = case.broker
    cash0 = b.account().cash
    fills = [b.submit(order("a-1", case.symbol, quantity=5)), b.submit(order("a-2", "BBB", quantity=4)),
             b.submit(order("a-3", case.symbol, side="sell", quantity=2))]
    assert all(f.status == "filled" for f in fills)
    acct, positions = b.account(), b.positions()
    flow = sum((-1 if f.side == "buy" else 1) * f.filled_qty * f.avg_price - f.commission for f in fills)
    assert acct.cash == pytest.approx(cash0 + flow)
    assert {s: p.quantity for s, p in positions.items()} == {case.symbol: pytest.approx(3), "BBB": pytest.approx(4)}
    assert acct.positions_value == pytest.approx(sum(p.market_value for p in positions.values()))
    assert acct.equity == pytest.approx(acct.cash + acct.positions_value)


def test_contract_selling_the_whole_holding_removes_the_position(case: BrokerCase) -> None:
    b = case.broker
    b.submit(order("rt-buy", case.symbol, quantity=2))
    s = b.submit(order("rt-sell", case.symbol, side="sell", quantity=2))
    assert s.status == "filled" and case.symbol not in b.positions()


# ---------------------------------------------------------------- orders in broker units


def test_contract_broker_declares_whole_shares_by_default(case: BrokerCase) -> None:
    assert case.broker.quantity_rules(case.symbol) == QuantityRules()


def test_contract_quantity_off_the_brokers_units_is_rejected_with_the_reason(case: BrokerCase) -> None:
    b = case.broker
    cash = b.account().cash
    s = b.submit(order("frac", case.symbol, quantity=898.8360073704553 / 100))
    assert s.status == "rejected" and s.filled_qty == 0 and "whole shares" in s.reason
    assert b.status("frac") == s and b.account().cash == pytest.approx(cash) and case.symbol not in b.positions()


# ---------------------------------------------------------------- reconciliation through orders()


def test_contract_orders_lists_every_order_oldest_first_as_status_reports_it(case: BrokerCase) -> None:
    b = case.broker
    sent = [b.submit(order("r-1", case.symbol, quantity=1)), b.submit(order("r-2", case.unpriced_symbol, quantity=1)),
            b.submit(order("r-3", "BBB", quantity=2))]
    listed = b.orders()
    booked = sent if BOOKS_REFUSALS in case.supports else [sent[0], sent[2]]  # Alpaca books no refused order
    assert [o.client_order_id for o in listed] == [o.client_order_id for o in booked]
    assert [o.status for o in listed] == [o.status for o in booked]
    assert listed == [b.status(o.client_order_id) for o in booked]
    assert b.status("r-2") == sent[1] and sent[1].status == "rejected"
    held: dict[str, float] = {}
    for o in listed:
        held[o.symbol] = held.get(o.symbol, 0.0) + (1 if o.side == "buy" else -1) * o.filled_qty
    assert {s: q for s, q in held.items() if q} == {s: p.quantity for s, p in b.positions().items()}


# ---------------------------------------------------------------- partial fills, by capability


def test_contract_partial_fill_works_until_cancelled_and_keeps_what_filled(partial_case: BrokerCase) -> None:
    b = partial_case.broker
    cash0 = b.account().cash
    with partial_case.partial(0.5):
        s = b.submit(order("p-1", partial_case.symbol, quantity=4))
    assert (s.status, s.filled_qty, s.is_final) == ("partially_filled", 2, False)
    assert b.status("p-1") == s and b.positions()[partial_case.symbol].quantity == pytest.approx(2)
    cancelled = b.cancel("p-1")
    assert (cancelled.status, cancelled.filled_qty, cancelled.is_final) == ("cancelled", 2, True)
    assert b.cancel("p-1") == cancelled and b.submit(order("p-1", partial_case.symbol, quantity=4)) == cancelled
    assert b.account().cash == pytest.approx(cash0 - 2 * 100.0 - s.commission)
    assert partial_case.booked("p-1") == 1


def test_contract_without_partial_fills_every_fill_is_complete(complete_case: BrokerCase) -> None:
    b = complete_case.broker
    statuses = [b.submit(order(f"w-{q}", complete_case.symbol, quantity=q)) for q in (1, 3, 7)]
    assert all(s.status == "filled" and s.filled_qty == s.quantity for s in statuses)
    assert all(b.cancel(s.client_order_id) == s for s in statuses)


# ---------------------------------------------------------------- lost confirmations, by capability


def test_contract_lost_confirmation_is_unknown_then_resolved_by_status_and_never_resent(
        timeout_case: BrokerCase) -> None:
    b = timeout_case.broker
    with timeout_case.lose_confirmation():
        s = b.submit(order("t-1", timeout_case.symbol, quantity=3))
    assert (s.status, s.is_final, s.filled_qty) == ("unknown", False, 0) and "not confirmed" in s.reason
    assert timeout_case.booked("t-1") == 1
    resolved = b.status("t-1")
    assert (resolved.status, resolved.filled_qty) == ("filled", 3)
    assert b.submit(order("t-1", timeout_case.symbol, quantity=3)) == resolved
    assert timeout_case.booked("t-1") == 1 and b.positions()[timeout_case.symbol].quantity == pytest.approx(3)



# ---------------------------------------------------------------- limit orders, by capability


def _limit(cid: str, symbol: str, price: float, side: str = "buy", quantity: float = 2) -> Order:
    return Order(client_order_id=cid, symbol=symbol, side=side, quantity=quantity, order_type="limit",
                 limit_price=price)


def test_contract_marketable_limit_fills_no_worse_than_its_limit(limit_case: BrokerCase) -> None:
    s = limit_case.broker.submit(_limit("l-1", limit_case.symbol, 101.0))
    assert (s.status, s.filled_qty) == ("filled", 2) and s.avg_price <= 101.0


def test_contract_limit_away_from_the_market_works_until_cancelled(limit_case: BrokerCase) -> None:
    b = limit_case.broker
    cash = b.account().cash
    s = b.submit(_limit("l-2", limit_case.symbol, 90.0))
    assert (s.status, s.filled_qty, s.is_final) == ("accepted", 0, False) and b.status("l-2") == s
    cancelled = b.cancel("l-2")
    assert (cancelled.status, cancelled.filled_qty, cancelled.is_final) == ("cancelled", 0, True)
    assert b.account().cash == pytest.approx(cash) and limit_case.booked("l-2") == 1


def test_contract_limit_order_at_a_market_only_broker_is_rejected_with_the_reason(
        market_only_case: BrokerCase) -> None:
    b = market_only_case.broker
    s = b.submit(_limit("l-3", market_only_case.symbol, 101.0))
    assert s.status == "rejected" and "market orders only" in s.reason and b.status("l-3") == s
    assert market_only_case.symbol not in b.positions()


def test_limit_order_needs_a_price_and_a_market_order_has_none() -> None:
    with pytest.raises(ValueError, match="limit_price"):
        Order(client_order_id="x", symbol="AAA", side="buy", quantity=1, order_type="limit")
    with pytest.raises(ValueError, match="limit_price"):
        Order(client_order_id="x", symbol="AAA", side="buy", quantity=1, limit_price=10.0)
