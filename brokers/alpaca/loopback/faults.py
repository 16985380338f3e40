"""The loopback Alpaca server's fault switches, parsed from ``latency=0.2,lost=1,...`` and switchable at run time.

Counted switches take how many requests they hit; without a value they hit every request while on.

| switch        | value (default)      | what the server does                                                        |
| ------------- | -------------------- | --------------------------------------------------------------------------- |
| ``latency``   | seconds (0.2)        | every API request answers after this delay                                  |
| ``slow_orders`` | seconds (2)        | an order is booked, then its answer comes this late (past a client's timeout) |
| ``lost``      | count (every)        | an order is booked, then its connection is dropped without an answer        |
| ``blackout``  | none                 | from the next order booked on, every answer is dropped (the broker went dark) |
| ``error5xx``  | count (every)        | 500 ``internal server error`` before anything is done                       |
| ``rate_limit`` | count (every)       | 429 with ``Retry-After: retry_after`` before anything is done               |
| ``retry_after`` | seconds (1)        | the ``Retry-After`` of a 429                                                |
| ``lag``       | count (every)        | a lookup by client_order_id answers 404 although the order exists           |
| ``partial``   | fill ratio (0.5)     | market orders fill this share and keep working for the rest                 |
| ``closed``    | none                 | the clock says closed; orders queue (``accepted``) until ``/_admin/open``   |
| ``holiday``   | none                 | the calendar has no session on the server's day (it disagrees with XNYS)    |
| ``whole``     | symbols (A+B)        | these assets are not fractionable: a fractional quantity is refused         |
| ``untradable`` | symbols (A+B)       | these assets are not tradable                                               |
| ``pdt``       | none                 | buys are refused by pattern-day-trader protection (403)                     |
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

EVERY = 1_000_000_000
_FLAGS = ("closed", "holiday", "pdt", "blackout")
_COUNTED = ("lost", "error5xx", "rate_limit", "lag")
_VALUED: dict[str, float] = {"latency": 0.2, "slow_orders": 2.0, "retry_after": 1.0, "partial": 0.5}
_SYMBOLS = ("whole", "untradable")
NAMES = (*_VALUED, *_COUNTED, *_FLAGS, *_SYMBOLS)


class FaultError(ValueError):
    """A fault spec that cannot be parsed; the message says which switch and what is allowed."""


class Faults(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    latency: float | None = Field(None, gt=0, le=120)
    slow_orders: float | None = Field(None, gt=0, le=120)
    retry_after: float = Field(1.0, ge=0, le=600)
    partial: float | None = Field(None, gt=0, lt=1)
    lost: int | None = Field(None, ge=1)
    error5xx: int | None = Field(None, ge=1)
    rate_limit: int | None = Field(None, ge=1)
    lag: int | None = Field(None, ge=1)
    closed: bool = False
    blackout: bool = False
    holiday: bool = False
    pdt: bool = False
    whole: frozenset[str] = frozenset()
    untradable: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, spec: str | None) -> Faults:
        values: dict[str, Any] = {}
        for raw in (spec or "").split(","):
            item = raw.strip()
            if not item:
                continue
            name, _, value = (p.strip() for p in item.partition("="))
            if name not in NAMES:
                hint = difflib.get_close_matches(name, NAMES, n=1)
                raise FaultError(f"unknown fault {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                                 + f"; known: {', '.join(NAMES)}")
            if name in _FLAGS:
                if value:
                    raise FaultError(f"fault {name!r} takes no value (got {value!r})")
                values[name] = True
            elif name in _SYMBOLS:
                if not value:
                    raise FaultError(f"fault {name!r} needs symbols, e.g. {name}=AAPL+MSFT")
                values[name] = frozenset(s.strip().upper() for s in value.split("+") if s.strip())
            elif name in _COUNTED:
                values[name] = value or EVERY
            else:
                values[name] = value or _VALUED[name]
        try:
            return cls(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise FaultError(f"fault {err['loc'][0]!r}: {err['msg']} (got {err['input']!r})") from None

    def spec(self) -> str:
        parts = [n for n in _FLAGS if getattr(self, n)]
        parts += [n if getattr(self, n) == EVERY else f"{n}={getattr(self, n)}" for n in _COUNTED
                  if getattr(self, n) is not None]
        parts += [f"{n}={getattr(self, n)}" for n in ("latency", "slow_orders", "partial") if getattr(self, n) is not None]
        parts += [f"{n}={'+'.join(sorted(getattr(self, n)))}" for n in _SYMBOLS if getattr(self, n)]
        if self.retry_after != 1.0:
            parts.append(f"retry_after={self.retry_after}")
        return ",".join(sorted(parts))
