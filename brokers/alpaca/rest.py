"""alpaca-py's clients with a timeout on every call and 429s that honour ``Retry-After``.

alpaca-py sends every request through one ``requests.Session`` with no timeout (a hung server hangs the desk) and
retries 429 and 504 itself, three times, three seconds apart, whatever the server asked — a 504 to an order being
the one answer that must not be sent blind again. So each client gets a ``TimedSession`` (a timeout on every call;
429 waited out as the server asks, within the policy of ``AlpacaOptions``) and its own retry loop switched off:
every other failure reaches the broker, which decides (``brokers.alpaca.broker``).

Both are private attributes of alpaca-py's ``RESTClient`` (``_session``, ``_retry``); ``harden`` checks they are
there and refuses to run on a version that moved them, rather than running without timeouts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from brokers.alpaca.config import AlpacaKeys, AlpacaOptions, data_url, trading_url
from brokers.base import BrokerError

log = logging.getLogger("brokers.alpaca")


def retry_after(response: requests.Response, attempt: int) -> float:
    """Seconds the server asked to wait (``Retry-After``: seconds or an HTTP date); 1, 2, 4 … when it did not say."""
    raw = (response.headers.get("Retry-After") or "").strip()
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            try:
                return max(0.0, (parsedate_to_datetime(raw) - datetime.now(UTC)).total_seconds())
            except (TypeError, ValueError):
                pass
    return float(2 ** attempt)


class TimedSession(requests.Session):
    """A session whose every request has ``(connect, read)`` timeouts and waits out 429s as the server asks."""

    def __init__(self, options: AlpacaOptions, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__()
        self.options, self._sleep = options, sleep

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        o = self.options
        kwargs["timeout"] = kwargs.get("timeout") or (o.connect_timeout_s, o.read_timeout_s)
        waited = 0.0
        for attempt in range(o.rate_limit_retries + 1):
            response = super().request(method, url, *args, **kwargs)
            if response.status_code != 429 or attempt == o.rate_limit_retries:
                return response
            wait = retry_after(response, attempt)
            if waited + wait > o.max_retry_wait_s:
                log.warning("alpaca 429 on %s: the server asks %.1f s more, beyond the %.0f s allowed; giving up",
                            _path(url), wait, o.max_retry_wait_s)
                return response
            log.info("alpaca 429 on %s: waiting %.1f s as Retry-After asks", _path(url), wait)
            response.close()
            self._sleep(wait)
            waited += wait
        raise AssertionError("unreachable")


def _path(url: str | bytes) -> str:
    text = url.decode() if isinstance(url, bytes) else url
    return "/" + text.split("://", 1)[-1].partition("/")[2].partition("?")[0]


def harden(client: Any, session: TimedSession) -> Any:
    """Give an alpaca-py client ``session`` and switch its own retry loop off; refuse a client that moved them."""
    if not isinstance(getattr(client, "_session", None), requests.Session) or not isinstance(
            getattr(client, "_retry", None), int):
        from importlib.metadata import version

        raise BrokerError(f"alpaca-py {version('alpaca-py')} no longer has the session and retry attributes the "
                          "desk sets for timeouts; install the version pyproject.toml names")
    client._session = session
    client._retry = 0
    return client


def trading_client(keys: AlpacaKeys, url: str | None, options: AlpacaOptions, session: TimedSession) -> Any:
    from alpaca.trading.client import TradingClient

    key_id, secret = keys.values()
    return harden(TradingClient(api_key=key_id, secret_key=secret, paper=not options.live,
                                url_override=trading_url(url, options)), session)


def data_client(keys: AlpacaKeys, url: str | None, options: AlpacaOptions, session: TimedSession) -> Any:
    from alpaca.data.historical.stock import StockHistoricalDataClient

    key_id, secret = keys.values()
    return harden(StockHistoricalDataClient(api_key=key_id, secret_key=secret, url_override=data_url(url, options)),
                  session)
