"""Place an order once and see it through to a known state, over any Broker (the morning's execution loop).

``settle(broker, order)``: submit; while the answer is ``unknown``, ask ``status()`` (the broker's own book); if
the book does not have the order either, submit again — every broker looks the id up before sending, so this never
places it twice. Gives up after ``rounds`` and returns the last (possibly still ``unknown``) status: the caller
records it and the next run resolves it the same way.
"""

from __future__ import annotations

from brokers.base import Broker, BrokerUnavailable, Order, OrderStatus


def settle(broker: Broker, order: Order, rounds: int = 3) -> OrderStatus:
    status = broker.submit(order)
    for _ in range(rounds):
        if status.status != "unknown":
            return status
        try:
            status = broker.status(order.client_order_id)
        except BrokerUnavailable:
            return status
        if status.status == "unknown":
            status = broker.submit(order)
    return status
