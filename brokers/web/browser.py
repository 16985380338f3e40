"""One headless Chromium per execution run, driven through the system's chromedriver; relaunched if it dies.

Selenium is imported here, lazily, so the desk runs on a machine without it or without a browser. ``SE_OFFLINE``
is set so Selenium never tries to download a driver, and the chromedriver path is given explicitly, so Selenium
Manager is not consulted at all. Each launch gets a fresh temporary profile, removed on close.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from typing import Any

from brokers.base import BrokerError
from brokers.web.config import BrowserSettings

log = logging.getLogger("brokers.web")
BASE_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
             "--disable-dev-shm-usage", "--disable-extensions", "--disable-default-apps",
             "--password-store=basic", "--no-default-browser-check")
LOOPBACK_ONLY = ("--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>;127.0.0.1;localhost",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1")


def selenium_missing() -> str | None:
    """Why the web broker cannot run here (no selenium, no browser, no driver), or None."""
    try:
        import selenium  # noqa: F401 - imported only to learn whether it is installed
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    settings = BrowserSettings()
    for what, path in (("Chromium", settings.chromium), ("chromedriver", settings.chromedriver)):
        if not path.is_file():
            return f"{what} not found at {path} (apt-get install chromium chromium-driver)"
    return None


_LOST = ("chrome not reachable", "disconnected", "session deleted", "no such session", "invalid session id",
         "target window already closed", "unable to receive message from renderer", "connection refused")


def is_lost(exc: BaseException) -> bool:
    """Whether ``exc`` means the browser or its driver is gone (killed, crashed), not that a page misbehaved."""
    if isinstance(exc, ConnectionError | OSError):
        return True
    try:
        import urllib3
        from selenium.common.exceptions import InvalidSessionIdException, NoSuchWindowException, WebDriverException
    except ImportError:
        return False
    if isinstance(exc, InvalidSessionIdException | NoSuchWindowException | urllib3.exceptions.HTTPError):
        return True
    return isinstance(exc, WebDriverException) and any(m in (exc.msg or "").lower() for m in _LOST)


def args_for(settings: BrowserSettings, profile: str) -> list[str]:
    args = [a for a in BASE_ARGS if not (settings.headed and a.startswith("--headless"))]
    args += [f"--user-data-dir={profile}", f"--window-size={settings.window[0]},{settings.window[1]}"]
    if settings.loopback_only:
        args += LOOPBACK_ONLY
    return args + list(settings.extra_args)


class Browser:
    """Owns one WebDriver; ``driver`` launches it on first use and again after ``lost()``; ``close()`` ends it."""

    def __init__(self, settings: BrowserSettings | None = None, page_timeout_s: float = 20.0) -> None:
        self.settings = settings or BrowserSettings()
        self.page_timeout_s = page_timeout_s
        self._driver: Any = None
        self._profile: str | None = None
        self.launches = 0

    @property
    def driver(self) -> Any:
        if self._driver is None:
            self._driver = self._launch()
        return self._driver

    def _launch(self) -> Any:
        try:
            from selenium import webdriver
            from selenium.common.exceptions import WebDriverException
            from selenium.webdriver.chrome.service import Service
        except ImportError:
            raise BrokerError("the web broker needs selenium: pip install selenium") from None
        s = self.settings
        for what, path in (("Chromium", s.chromium), ("chromedriver", s.chromedriver)):
            if not path.is_file():
                raise BrokerError(f"{what} not found at {path}: install chromium and chromium-driver "
                                  "(apt-get install chromium chromium-driver) or set broker.web.browser paths")
        os.environ["SE_OFFLINE"] = "true"  # never let Selenium download a driver or a browser
        self._profile = tempfile.mkdtemp(prefix="desk-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = str(s.chromium)
        for arg in args_for(s, self._profile):
            options.add_argument(arg)
        options.page_load_strategy = "normal"
        try:
            driver = webdriver.Chrome(service=Service(executable_path=str(s.chromedriver)), options=options)
        except WebDriverException as exc:
            self._remove_profile()
            raise BrokerError(f"could not start Chromium ({exc.msg or type(exc).__name__}); check that "
                              f"{s.chromium} and {s.chromedriver} are the same version") from None
        driver.set_page_load_timeout(self.page_timeout_s)
        driver.set_script_timeout(self.page_timeout_s)
        self.launches += 1
        log.info("web broker: Chromium started (%s, launch %d)", "headed" if s.headed else "headless", self.launches)
        return driver

    def lost(self) -> None:
        """Forget a browser that died (or was killed); the next ``driver`` launches a new one."""
        driver, self._driver = self._driver, None
        if driver is not None:
            try:
                driver.quit()
            except Exception:  # it is already gone; quitting is best effort
                log.debug("web broker: quitting a lost browser failed", exc_info=True)
        self._remove_profile()

    def probe(self) -> None:
        """After a failure: if the browser no longer answers, forget it (the next use launches a new one)."""
        if self._driver is not None:
            try:
                self._driver.current_url  # noqa: B018 - a cheap round trip
            except Exception as exc:  # noqa: BLE001 - any failure here means the browser is gone
                if is_lost(exc):
                    self.lost()

    def close(self) -> None:
        self.lost()

    def _remove_profile(self) -> None:
        if self._profile:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    def pids(self) -> list[int]:
        """The chromedriver's pid and its descendants' (Chromium), for tests that kill the browser mid-order."""
        if self._driver is None:
            return []
        root = self._driver.service.process.pid
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                children.setdefault(ppid, []).append(int(entry))
        out, todo = [], [root]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo += children.get(pid, [])
        return out

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
