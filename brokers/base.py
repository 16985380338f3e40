"""The broker protocol every adapter implements (paper, Selenium web, API brokers), and its value types.

Every adapter passes the one conformance suite in ``tests/test_broker_conformance.py``.

| method                         | required | what it promises                                                 |
| ------------------------------ | -------- | ---------------------------------------------------------------- |
| ``account() -> Account``       | yes      | cash, positions marked at the session's quote, equity = sum      |
| ``positions() -> dict``        | yes      | symbol -> Position for every non-zero holding                    |
| ``quote(symbol) -> Quote``     | yes      | the price an order would fill at (before slippage); BrokerError  |
|                                |          | when the symbol has no price                                     |
| ``submit(order) -> OrderStatus`` | yes    | idempotent on ``client_order_id`` (see below); a refused order   |
|                                |          | (a limit order at a broker that places market orders only, too) |
|                                |          | comes back ``rejected`` with its reason, it does not raise; an   |
|                                |          | order whose outcome the broker could not confirm (a timeout, a   |
|                                |          | lost confirmation, maintenance) comes back ``unknown``           |
| ``status(id) -> OrderStatus``  | yes      | the order's current status, asked of the broker's own book (this |
|                                |          | resolves ``unknown``); BrokerError for an id it never saw        |
| ``cancel(id) -> OrderStatus``  | yes      | cancels an open order; an order already final (filled, rejected, |
|                                |          | cancelled) comes back unchanged; BrokerError for an unknown id   |
| ``quantity_rules(symbol)``     | yes      | the QuantityRules of the symbol: whole shares, or fractions to a |
|   ``-> QuantityRules``         |          | given number of decimals, and a minimum notional; an order off   |
|                                |          | its units comes back ``rejected`` with the reason (a sell of the |
|                                |          | whole holding is always in units)                                |
| ``orders() -> list``           | optional | every order the broker knows, oldest first (for reconciliation)  |
| ``set_session(day)``           | optional | simulated brokers only: move the broker's clock (replay)         |
| ``close()``                    | optional | release files, sockets or browsers                               |

Idempotency (ARCHITECTURE.md: invariant 3, "no order twice"): submitting a ``client_order_id`` the broker already knows
returns the existing status and never fills again; the same id with a different symbol, side or quantity is a caller bug
and raises BrokerError. ``check_resubmit`` implements that rule for every adapter.

States: ``accepted`` (working, nothing filled), ``partially_filled`` (working, ``filled_qty`` of ``quantity``
done; cancelling it keeps what filled), ``filled``, ``rejected``, ``cancelled`` (final; a cancelled order may carry
a partial ``filled_qty``) and ``unknown``: the broker was asked but did not say what happened. An ``unknown``
order may or may not be on the broker's book; ``status()`` asks the book, and a later ``submit`` of the same id
looks the id up at the broker before sending anything, so resolving an unknown order never places it twice.
Reads that cannot be answered now (maintenance, a lost browser, a timeout) raise BrokerUnavailable.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vocab.terms import FINAL_ORDER_STATES, OrderState, Side

PriceSourceName = Literal["open", "close", "latest_close", "latest_trade"]


class BrokerError(Exception):
    """A broker call that cannot be answered (unknown order id, conflicting resubmit, no price, bad file)."""


class BrokerUnavailable(BrokerError):
    """The broker cannot answer now (maintenance, a timeout, a lost session or browser); retry later."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Order(_Frozen):
    """A request to trade; ``client_order_id`` is deterministic so a retry is recognised as the same order."""

    client_order_id: str = Field(min_length=1)
    symbol: str = Field(min_length=1)
    side: Side
    quantity: float = Field(gt=0)
    order_type: Literal["market", "limit"] = "market"
    limit_price: float | None = Field(None, gt=0, description="a limit order's worst price; None for a market order")

    @model_validator(mode="after")
    def _limit_has_a_price(self) -> Order:
        if (self.order_type == "limit") != (self.limit_price is not None):
            raise ValueError("a limit order needs a limit_price and a market order has none")
        return self


class OrderStatus(_Frozen):
    """Where one order stands: its fill (quantity, average price incl. slippage, commission) or why not.

    ``broker_order_id`` is the broker's own id for the order when it has one (a web broker's confirmation).
    """

    client_order_id: str
    symbol: str
    side: Side
    quantity: float
    status: OrderState
    filled_qty: float = Field(ge=0)
    avg_price: float | None
    commission: float = Field(ge=0)
    session: date
    price_source: str | None
    reason: str | None
    broker_order_id: str | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_ORDER_STATES


class Quote(_Frozen):
    """The reference price of a symbol for the broker's session, and which price it is."""

    symbol: str
    price: float = Field(gt=0)
    as_of: date
    source: PriceSourceName


class Account(_Frozen):
    """Cash, the marked value of the positions, and their sum."""

    cash: float
    equity: float
    positions_value: float
    session: date


class Position(_Frozen):
    """One holding (long only at the paper broker), marked at the session's quote."""

    symbol: str
    quantity: float
    avg_price: float
    market_price: float
    market_value: float


class QuantityRules(_Frozen):
    """The quantities a broker accepts for one symbol (whole shares unless the broker allows fractions; ARCHITECTURE.md: defaults and real parts).

    ``decimals`` 0 is whole shares; ``decimals`` n > 0 allows fractions in steps of 10**-n. An order worth less than
    ``min_notional`` dollars at its reference price is refused. Quantities are read as the decimal they print as
    (``repr``), so 0.3 is 3 tenths, not the binary number just below it.
    """

    decimals: int = Field(0, ge=0, le=9)
    min_notional: float = Field(0.0, ge=0)

    @property
    def step(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimals)

    def describe(self) -> str:
        units = "whole shares" if self.decimals == 0 else f"fractions of a share to {self.decimals} decimal(s)"
        return units + (f", at least {self.min_notional:,.2f} an order" if self.min_notional else "")

    def _at(self, quantity: float, rounding: str) -> Decimal:
        return Decimal(repr(float(quantity))).quantize(self.step, rounding=rounding)

    def floor(self, quantity: float) -> float:
        """The largest quantity the broker accepts that is not above ``quantity`` (0 when none is)."""
        return max(0.0, float(self._at(quantity, ROUND_FLOOR)))

    def ceil(self, quantity: float) -> float:
        """The smallest quantity the broker accepts that is not below ``quantity``."""
        return float(self._at(quantity, ROUND_CEILING))

    def accepts(self, quantity: float) -> bool:
        """True when ``quantity`` is a whole number of steps."""
        return Decimal(repr(float(quantity))) == self._at(quantity, ROUND_FLOOR)

    @staticmethod
    def text(quantity: float) -> str:
        """The quantity as a ticket takes it: the decimal it prints as, no exponent, no trailing zeros (``898``,
        ``0.5``, ``0.0000001``)."""
        out = f"{Decimal(repr(float(quantity))):f}"
        return out.rstrip("0").rstrip(".") if "." in out else out

    def refusal(self, quantity: float, price: float | None, whole_holding: bool = False) -> str | None:
        """Why an order of ``quantity`` at ``price`` is not in these units, or None when it is. A sell of the whole
        holding is always accepted (a position bought in other units must still be closable)."""
        if whole_holding:
            return None
        if not self.accepts(quantity):
            return f"quantity {quantity!r} is not in the broker's units ({self.describe()})"
        if price is not None and self.min_notional and quantity * price < self.min_notional:
            return (f"order value {quantity * price:,.2f} is below the broker's minimum of {self.min_notional:,.2f}")
        return None


WHOLE_SHARES = QuantityRules()


@runtime_checkable
class Broker(Protocol):
    """The required methods; see the module docstring for the optional ones."""

    def account(self) -> Account: ...

    def positions(self) -> dict[str, Position]: ...

    def quote(self, symbol: str) -> Quote: ...

    def submit(self, order: Order) -> OrderStatus: ...

    def status(self, client_order_id: str) -> OrderStatus: ...

    def cancel(self, client_order_id: str) -> OrderStatus: ...

    def quantity_rules(self, symbol: str) -> QuantityRules: ...


def check_resubmit(existing: OrderStatus, order: Order) -> OrderStatus:
    """Return ``existing`` if ``order`` repeats it; raise BrokerError if the id is reused for another order."""
    diffs = [f"{name} {getattr(existing, name)!r} != {getattr(order, name)!r}"
             for name in ("symbol", "side", "quantity") if getattr(existing, name) != getattr(order, name)]
    if diffs:
        raise BrokerError(f"client_order_id {order.client_order_id!r} already used for a different order "
                          f"({'; '.join(diffs)}); use a new id for a new order")
    return existing
