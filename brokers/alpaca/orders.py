"""Alpaca's orders in the desk's terms: the status map, the reason each status carries, and the order requests sent.

| Alpaca status                                                    | desk status                                 |
| ---------------------------------------------------------------- | ------------------------------------------- |
| ``filled``                                                       | ``filled``                                  |
| ``partially_filled``; any working status with a fill             | ``partially_filled``                        |
| ``new``, ``accepted``, ``pending_new``, ``held``, ``done_for_day``, ``accepted_for_bidding``, ``pending_*``, ``suspended``, ``calculated``, ``stopped`` | ``accepted`` (working) |
| ``canceled``, ``expired`` (a day order the close left unfilled), ``replaced`` | ``cancelled``, with what filled |
| ``rejected``                                                     | ``rejected``                                |

Alpaca charges no commission on US equities: ``commission`` is 0. ``session`` is the New York date the order was
submitted; ``price_source`` of a fill is ``alpaca_fill`` (the broker's average fill price).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from brokers.base import Order, OrderState, OrderStatus

NEW_YORK = ZoneInfo("America/New_York")
FILL_SOURCE = "alpaca_fill"
QTY_DECIMALS = 9  # Alpaca keeps a quantity to 9 decimal places
_CANCELLED = {"canceled": "cancelled", "expired": "expired", "replaced": "replaced"}


def _value(x: Any) -> str:
    return str(getattr(x, "value", x))


def _num(x: Any) -> float:
    return float(x) if x not in (None, "") else 0.0


def _when(t: datetime | None) -> str:
    return t.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M:%S %Z") if t is not None else "an unstated time"


def to_status(o: Any) -> OrderStatus:
    """An alpaca-py ``Order`` as the desk's OrderStatus."""
    raw = _value(o.status)
    qty, filled = _num(o.qty), _num(o.filled_qty)
    avg = _num(o.filled_avg_price) if filled > 0 and o.filled_avg_price not in (None, "") else None
    state: OrderState
    reason: str | None
    if raw == "filled":
        state, reason = "filled", None
    elif raw in _CANCELLED:
        state = "cancelled"
        kept = f"; {filled:g} of {qty:g} filled before" if filled else ""
        if raw == "expired":
            reason = f"expired at Alpaca at {_when(o.expired_at)}: a day order not filled by the close{kept}"
        elif raw == "replaced":
            reason = f"replaced at Alpaca by order {o.replaced_by}{kept}"
        else:
            reason = f"cancelled at Alpaca at {_when(o.canceled_at)}{kept}"
    elif raw == "rejected":
        state = "rejected"
        reason = (f"rejected by Alpaca at {_when(o.failed_at)} after it was accepted (Alpaca's order carries no "
                  "reason; the account's activities may say)")
    elif filled > 0:
        state, reason = "partially_filled", f"{filled:g} of {qty:g} filled; the rest is working at Alpaca ({raw})"
    else:
        state, reason = "accepted", f"working at Alpaca ({raw}), nothing filled yet"
    submitted: datetime = o.submitted_at or o.created_at
    return OrderStatus(client_order_id=o.client_order_id, symbol=str(o.symbol), side=_value(o.side), quantity=qty,
                       status=state, filled_qty=filled, avg_price=avg, commission=0.0,
                       session=submitted.astimezone(NEW_YORK).date(),
                       price_source=FILL_SOURCE if filled > 0 else None, reason=reason,
                       broker_order_id=str(o.id))


def refused(order: Order, reason: str, session: date) -> OrderStatus:
    """A submit Alpaca refused outright: nothing was booked at the broker."""
    return OrderStatus(client_order_id=order.client_order_id, symbol=order.symbol, side=order.side,
                       quantity=order.quantity, status="rejected", filled_qty=0.0, avg_price=None, commission=0.0,
                       session=session, price_source=None, reason=reason)


def unknown(order: Order, reason: str, session: date) -> OrderStatus:
    return OrderStatus(client_order_id=order.client_order_id, symbol=order.symbol, side=order.side,
                       quantity=order.quantity, status="unknown", filled_qty=0.0, avg_price=None, commission=0.0,
                       session=session, price_source=None, reason=reason)


def at_alpaca(order: Order) -> Order:
    """``order`` with its quantity as Alpaca keeps it (9 decimals): what it sends, and what a resubmit is held to."""
    qty = round(order.quantity, QTY_DECIMALS)
    return order if qty == order.quantity else order.model_copy(update={"quantity": qty})


def request(order: Order) -> Any:
    """The alpaca-py request for ``order``: a market or limit day order carrying the desk's client_order_id."""
    from alpaca.trading.enums import OrderSide, TimeInForce
    from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

    fields = {"symbol": order.symbol, "qty": at_alpaca(order).quantity, "client_order_id": order.client_order_id,
              "side": OrderSide.BUY if order.side == "buy" else OrderSide.SELL, "time_in_force": TimeInForce.DAY}
    if order.order_type == "limit":
        return LimitOrderRequest(limit_price=order.limit_price, **fields)
    return MarketOrderRequest(**fields)
