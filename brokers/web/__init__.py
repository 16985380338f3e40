"""The Selenium web broker: the Broker protocol over a trading web site, in headless Chromium.

Importing this package does not import Selenium; ``WebBroker`` (and the browser) do, when first used, so the
desk runs where neither Selenium nor a browser is installed. See ``brokers.web.broker`` for the behaviour,
``brokers.web.config`` for settings and the retry policy, ``brokers.web.site`` for selector maps.
"""

from __future__ import annotations

from typing import Any

from brokers.web.config import BrowserSettings, RetryPolicy, Timeouts, WebBrokerSettings, WebCredentials
from brokers.web.site import SiteMap, load_site

__all__ = ["Browser", "BrowserSettings", "RetryPolicy", "SiteMap", "Timeouts", "WebBroker", "WebBrokerSettings",
           "WebCredentials", "load_site", "selenium_missing"]


def __getattr__(name: str) -> Any:
    if name == "WebBroker":
        from brokers.web.broker import WebBroker
        return WebBroker
    if name in ("Browser", "selenium_missing"):
        from brokers.web import browser
        return getattr(browser, name)
    raise AttributeError(f"module 'brokers.web' has no attribute {name!r}")
