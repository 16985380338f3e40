"""What a failed Alpaca call means for an order: refused (with the reason in the desk's words and Alpaca's), a
duplicate client_order_id, bad keys, not found, never sent, or sent with its answer lost.

| what happened                                        | kind        | the broker then                               |
| ---------------------------------------------------- | ----------- | --------------------------------------------- |
| 401 (or 403 ``forbidden``)                            | ``auth``    | one line: the keys were refused               |
| 403 / 422 / 400 with a reason                        | ``refused`` | ``rejected``, reason kept; nothing was booked |
| 422 ``client_order_id must be unique``               | ``duplicate`` | reads the order by its id                   |
| 404                                                  | ``not_found`` | —                                           |
| 429 after the waits, a connection never made          | ``not_sent``  | may send again (nothing reached Alpaca)     |
| 5xx, a read timeout, a connection dropped mid-answer  | ``lost``    | looks the order up before anything else       |
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import requests

Kind = Literal["auth", "refused", "duplicate", "not_found", "not_sent", "lost"]
MAX_MESSAGE = 300


@dataclass(frozen=True)
class Failure:
    kind: Kind
    status: int | None
    code: int | None
    message: str

    def describe(self) -> str:
        where = " ".join(str(x) for x in (self.status, self.code) if x is not None)
        return f"{where}: {self.message}" if where else self.message


def scrub(text: str, secrets: Iterable[str]) -> str:
    """One line, at most MAX_MESSAGE characters, with every secret value masked (a hostile server may echo keys)."""
    for value in secrets:
        if value:
            text = text.replace(value, "***")
    line = " ".join(text.split())
    return line if len(line) <= MAX_MESSAGE else line[:MAX_MESSAGE - 1] + "…"


def _body(raw: str) -> tuple[int | None, str]:
    try:
        data = json.loads(raw)
    except (ValueError, TypeError):
        return None, raw
    if not isinstance(data, dict):
        return None, raw
    code = data.get("code")
    message = data.get("message")
    return (code if isinstance(code, int) else None), (str(message) if message is not None else raw)


def classify(exc: BaseException, secrets: Iterable[str] = ()) -> Failure | None:
    """The Failure an exception from alpaca-py or requests stands for; None for anything else (a bug: re-raise)."""
    from alpaca.common.exceptions import APIError

    secrets = tuple(secrets)
    if isinstance(exc, APIError):
        status = exc.status_code
        code, message = _body(str(exc))
        message = scrub(message, secrets) or f"HTTP {status}"
        low = message.lower()
        if status == 401 or (status == 403 and code is None and low.startswith("forbidden")):
            return Failure("auth", status, code, message)
        if status == 404:
            return Failure("not_found", status, code, message)
        if status == 429:
            return Failure("not_sent", status, code, f"rate limited ({message})")
        if status is not None and status >= 500:
            return Failure("lost", status, code, message)
        if "must be unique" in low:
            return Failure("duplicate", status, code, message)
        return Failure("refused", status, code, message)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Failure("not_sent", None, None, "could not connect in time")
    if isinstance(exc, requests.exceptions.Timeout):
        return Failure("lost", None, None, "no answer in time (read timeout)")
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = scrub(str(exc), secrets)
        never = "Failed to establish a new connection" in text or "Connection refused" in text
        return Failure("not_sent" if never else "lost", None, None,
                       "connection refused" if never else "connection dropped before the answer")
    if isinstance(exc, requests.exceptions.RequestException):
        return Failure("lost", None, None, scrub(f"{type(exc).__name__}: {exc}", secrets))
    return None


def refusal_reason(f: Failure, symbol: str, side: str, quantity: float) -> str:
    """A refusal in the desk's words, Alpaca's own message kept after them."""
    low, said = f.message.lower(), f"Alpaca: {f.message}"
    if "buying power" in low:
        return f"insufficient cash (buying power) for {side} {quantity:g} {symbol}; {said}"
    if "insufficient qty" in low or "qty available" in low:
        return f"cannot sell {quantity:g} {symbol}: more than the account holds (no shorting); {said}"
    if "pattern day" in low:
        return f"pattern-day-trader protection refused the order; {said}"
    if "fraction" in low or "must be integer" in low:
        return f"{symbol} is not fractionable at Alpaca: whole shares only; {said}"
    if "not tradable" in low or "not active" in low:
        return f"{symbol} is not tradable at Alpaca; {said}"
    if "asset" in low and "not found" in low:
        return f"no price for {symbol} at Alpaca: it lists no such asset; {said}"
    if "cost basis" in low or "notional" in low:
        return f"below Alpaca's minimum order value; {said}"
    if "market" in low and ("closed" in low or "hours" in low):
        return f"market closed; {said}"
    return f"Alpaca refused the order ({f.describe()})"
