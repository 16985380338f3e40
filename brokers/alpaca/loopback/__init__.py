"""A loopback Alpaca API on 127.0.0.1 for tests, demos and benchmarks: the REST paths alpaca-py calls, an account
book priced from bundled data, and fault switches (``brokers.alpaca.loopback.faults``).

``serve(port=0, prices="bundled:2017-03-02", faults="lost=1")`` returns a running LoopbackServer (``.url``, ``.keys``,
``.book``, ``.set_faults()``, ``.set_session()``, ``.stop()``); ``desk sandbox-broker --api alpaca`` runs one from
the shell.
"""

from brokers.alpaca.loopback.faults import FaultError, Faults
from brokers.alpaca.loopback.server import DEFAULT_KEYS, LoopbackServer, serve

__all__ = ["DEFAULT_KEYS", "FaultError", "Faults", "LoopbackServer", "serve"]
