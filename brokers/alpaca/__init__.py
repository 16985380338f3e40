"""Alpaca (paper and live) through the official SDK, alpaca-py: the broker (``brokers.alpaca.broker``), its
settings and keys (``brokers.alpaca.config``), and a loopback Alpaca API for tests (``brokers.alpaca.loopback``).

Importing this package imports neither alpaca-py nor requests' session machinery: the desk on its paper default
never pays for them.
"""
