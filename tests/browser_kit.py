"""Browser test kit: one headless Chromium per test module, a sandbox per test, a web broker wired to both.

Import the fixtures into a test module (``from tests.browser_kit import browser  # noqa: F401``). Browser tests
skip with one line when Chromium, chromedriver or selenium is missing, except in CI (``CI`` set): there they fail.
The browser may reach 127.0.0.1 only (``loopback_only``), on top of the socket guard in conftest.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from brokers.sandbox import SandboxServer
from brokers.web import BrowserSettings, RetryPolicy, Timeouts, WebBrokerSettings, WebCredentials

FAST = Timeouts(page_s=10, element_s=5, confirm_s=3, poll_s=0.02)
FAST_RETRY = RetryPolicy(maintenance_wait_s=1.0, maintenance_poll_s=0.2)


def need_browser() -> None:
    from brokers.web.browser import selenium_missing

    why = selenium_missing()
    if why is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"browser tests never skip in CI: {why}")
    pytest.skip(f"browser tests need Chromium: {why}")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    need_browser()
    from brokers.web.browser import Browser

    b = Browser(BrowserSettings(loopback_only=True), page_timeout_s=FAST.page_s)
    yield b
    b.close()


def web_settings(server: SandboxServer, artifacts: Path | None, **changes: object) -> WebBrokerSettings:
    c = server.credentials
    return WebBrokerSettings(url=server.url, artifacts_dir=artifacts, timeouts=FAST, retry=FAST_RETRY,
                             credentials=WebCredentials(user=c.user, password=SecretStr(c.password),
                                                        totp_secret=SecretStr(c.totp_secret)),
                             browser=BrowserSettings(loopback_only=True)).model_copy(update=changes)


def web_broker(server: SandboxServer, browser: object, artifacts: Path | None, **changes: object):
    from brokers.web import WebBroker

    return WebBroker(web_settings(server, artifacts, **changes), browser=browser)  # type: ignore[arg-type]  # the module's shared browser fixture
