"""Alpaca test kit: a loopback Alpaca server and an AlpacaBroker wired to it with short waits."""

from __future__ import annotations

from pydantic import SecretStr

from brokers.alpaca.broker import AlpacaBroker
from brokers.alpaca.config import AlpacaKeys, AlpacaOptions
from brokers.alpaca.loopback import LoopbackServer

# Waits short enough for tests, long enough for a loaded 2-core machine.
FAST = AlpacaOptions(connect_timeout_s=5, read_timeout_s=5, lookup_pause_s=0.01, fill_wait_s=0.3, fill_poll_s=0.05,
                     max_retry_wait_s=5)


def keys(server: LoopbackServer) -> AlpacaKeys:
    return AlpacaKeys(key_id=SecretStr(server.keys[0]), secret_key=SecretStr(server.keys[1]))


def alpaca_broker(server: LoopbackServer, options: AlpacaOptions = FAST, **kw) -> AlpacaBroker:
    return AlpacaBroker(keys(server), server.url, options, **kw)


def alpaca_env(server: LoopbackServer) -> dict[str, str]:
    """The environment a `desk` process needs to trade at ``server``."""
    return {"APCA_API_KEY_ID": server.keys[0], "APCA_API_SECRET_KEY": server.keys[1],
            "DESK_BROKER__KIND": "alpaca", "DESK_BROKER__URL": server.url,
            "DESK_BROKER__ALPACA__FILL_WAIT_S": "0.3", "DESK_BROKER__ALPACA__LOOKUP_PAUSE_S": "0.01"}
