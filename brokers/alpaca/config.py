"""Typed settings of the Alpaca adapter (``broker.alpaca`` in the desk's settings) and its keys (secret, apart).

Keys come from ``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY`` (Alpaca's own variable names), or from a TOML file
(``key_id``, ``secret_key``) readable by its owner only, named by ``APCA_SECRETS_FILE``. They are not ``DESK_*``
settings on purpose: secrets are not configuration, never enter the desk's settings, graph state or the store, and
print as ``**********``.

Addresses. ``broker.url`` (the trading API) unset means Alpaca's own: the paper API, or the live API when
``broker.alpaca.live = true``. The market data API (quotes, daily bars) is ``broker.alpaca.data_url`` when set, else
``broker.url`` when that is set (one server answering both, as the loopback server and a proxy do), else Alpaca's
data API. Quotes are the latest trade on ``quote_feed`` (``iex``: every account may read it), daily bars come from
``bar_feed`` (``sip``: the whole tape, free for bars older than 15 minutes).

Timeouts and retries (``AlpacaOptions``), stated once: every HTTP call has a connect and a read timeout; a 429 is
retried after its ``Retry-After`` (else 1, 2, 4 … s) at most ``rate_limit_retries`` times and never past
``max_retry_wait_s`` in all; nothing else is retried by the HTTP layer. What a lost answer to an order means is the
broker's business (``brokers.alpaca.broker``): the order is looked up by its client_order_id, never sent blind.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from brokers.base import BrokerError

KEY_ID_VAR, SECRET_VAR, SECRETS_FILE_VAR = "APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "APCA_SECRETS_FILE"
PAPER_URL, LIVE_URL, DATA_URL = ("https://paper-api.alpaca.markets", "https://api.alpaca.markets",
                                 "https://data.alpaca.markets")


class AlpacaKeysMissing(BrokerError):
    """No usable keys: the message is one line saying which variable or file to set."""


class AlpacaOptions(BaseModel):
    """``broker.alpaca.*``: live or paper, the data address and feeds, timeouts and the retry policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    live: bool = Field(False, description="trade the live account (real money); paper when false")
    data_url: str | None = Field(None, description="the market data API (default: broker.url, else Alpaca's)")
    quote_feed: Literal["iex", "sip", "delayed_sip"] = "iex"
    bar_feed: Literal["iex", "sip"] = "sip"
    connect_timeout_s: float = Field(5.0, gt=0, le=120)
    read_timeout_s: float = Field(10.0, gt=0, le=300)
    rate_limit_retries: int = Field(3, ge=0, le=10, description="429 answers retried after Retry-After")
    max_retry_wait_s: float = Field(30.0, ge=0, le=600, description="the longest all 429 waits of one call add up to")
    lookup_attempts: int = Field(3, ge=1, le=10, description="lookups by client_order_id after a lost answer")
    lookup_pause_s: float = Field(0.5, ge=0, le=30, description="pause between those lookups")
    submit_attempts: int = Field(3, ge=1, le=10, description="sends of one order the broker never received")
    fill_wait_s: float = Field(5.0, ge=0, le=120, description="how long a submit waits for a working order to fill")
    fill_poll_s: float = Field(0.25, gt=0, le=10)


def trading_url(url: str | None, options: AlpacaOptions) -> str:
    return (url or (LIVE_URL if options.live else PAPER_URL)).rstrip("/")


def data_url(url: str | None, options: AlpacaOptions) -> str:
    return (options.data_url or url or DATA_URL).rstrip("/")


class AlpacaKeys(BaseModel):
    """An API key pair; ``secret_key`` never prints."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_id: SecretStr
    secret_key: SecretStr

    def values(self) -> tuple[str, str]:
        return self.key_id.get_secret_value(), self.secret_key.get_secret_value()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlpacaKeys:
        env = os.environ if environ is None else environ
        if env.get(SECRETS_FILE_VAR):
            return cls.from_file(Path(env[SECRETS_FILE_VAR]))
        key_id, secret = env.get(KEY_ID_VAR, "").strip(), env.get(SECRET_VAR, "").strip()
        if not key_id or not secret:
            missing = " and ".join(v for v, x in ((KEY_ID_VAR, key_id), (SECRET_VAR, secret)) if not x)
            raise AlpacaKeysMissing(f"Alpaca keys missing: set {missing} (the account's API key pair), or "
                                    f"{SECRETS_FILE_VAR} (a chmod 600 TOML file with key_id and secret_key)")
        return cls(key_id=SecretStr(key_id), secret_key=SecretStr(secret))

    @classmethod
    def from_file(cls, path: Path) -> AlpacaKeys:
        if not path.is_file():
            raise AlpacaKeysMissing(f"Alpaca secrets file {path} not found ({SECRETS_FILE_VAR})")
        if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise AlpacaKeysMissing(f"Alpaca secrets file {path} is readable by others; run chmod 600 {path}")
        try:
            raw = tomllib.loads(path.read_text())
            keys = cls(key_id=SecretStr(str(raw.get("key_id", "")).strip()),
                       secret_key=SecretStr(str(raw.get("secret_key", "")).strip()))
        except (tomllib.TOMLDecodeError, ValidationError, UnicodeDecodeError, OSError) as exc:
            raise AlpacaKeysMissing(f"Alpaca secrets file {path} is unusable ({type(exc).__name__}); it needs "
                                    "key_id and secret_key") from None
        if not all(keys.values()):
            raise AlpacaKeysMissing(f"Alpaca secrets file {path} needs both key_id and secret_key")
        return keys
