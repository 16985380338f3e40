"""The page-object base: open a page of the site, know which page the browser is on, log in when asked to, wait.

``open(path, expect)`` is the one way to navigate: it lands on ``expect`` or says why not. A login or code page
on the way (a fresh browser, an expired session) logs in and repeats the navigation, within the call's login
budget; a maintenance page is waited out by the policy (see ``brokers.web.config``); anything else is an error.
Every wait is an explicit WebDriverWait; nothing sleeps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

from selenium.common.exceptions import (NoSuchElementException, StaleElementReferenceException, TimeoutException,
                                        WebDriverException)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from brokers.base import BrokerError, BrokerUnavailable
from brokers.otp import totp
from brokers.web.artifacts import Recorder
from brokers.web.browser import Browser
from brokers.web.config import WebBrokerSettings
from brokers.web.site import SiteMap

log = logging.getLogger("brokers.web")
Report = Callable[[str, str], None]

STATE_JS = """
const [app, pages] = arguments;
if (document.readyState !== 'complete') return 'loading';
if (!document.querySelector(app)) return 'none';
for (const [name, css] of pages) { if (document.querySelector(css)) return name; }
return 'other';
"""
# chromedriver's words for an element whose page went away between finding it and using it; Selenium raises them as
# a plain WebDriverException ("unknown error: unhandled inspector error"), not as a stale element.
_DETACHED = ("does not belong to the document", "no node with given id", "node is detached", "no node found")


def detached(exc: BaseException) -> bool:
    """Whether ``exc`` says the element's page re-rendered or went away (stale), not that the browser failed."""
    if isinstance(exc, StaleElementReferenceException):
        return True
    return isinstance(exc, WebDriverException) and any(m in (exc.msg or "").lower() for m in _DETACHED)


def left(page: WebElement) -> Callable[[Any], bool]:
    """A wait condition: the browser has left the page whose root element is ``page``."""
    def gone(_: Any) -> bool:
        try:
            page.is_enabled()
        except WebDriverException as exc:
            if detached(exc):
                return True
            raise
        return False
    return gone


_ORDER = ("maintenance", "login", "code", "confirmation", "ticket", "blotter", "portfolio", "instruments")


class _Hush(logging.Filter):
    """Drops Selenium's wire log (it logs every command's body at DEBUG) while a secret is being typed."""

    def __init__(self) -> None:
        super().__init__()
        self.active = 0

    def filter(self, record: logging.LogRecord) -> bool:
        return self.active == 0


_HUSH = _Hush()
for _name in ("selenium.webdriver.remote.remote_connection", "urllib3.connectionpool"):
    logging.getLogger(_name).addFilter(_HUSH)


@contextmanager
def secret_typing() -> Iterator[None]:
    """While inside, no wire log of the browser driver is written (a typed password would be in it)."""
    _HUSH.active += 1
    try:
        yield
    finally:
        _HUSH.active -= 1


class LoginRefused(BrokerError):
    """The site refused the credentials or the one-time code: not retried (it could lock the account)."""


class SiteSession:
    def __init__(self, settings: WebBrokerSettings, site: SiteMap, browser: Browser, recorder: Recorder,
                 report: Report) -> None:
        self.settings, self.site, self.browser, self.recorder, self.report = settings, site, browser, recorder, report
        self._pages = [(name, getattr(site.pages, name)) for name in _ORDER]
        self.logins_left = settings.retry.max_logins
        self.logins = 0

    @property
    def d(self) -> Any:
        return self.browser.driver

    def url(self, path: str, **query: str) -> str:
        return self.settings.url + path + (f"?{urlencode(query)}" if query else "")

    # ---------------------------------------------------------------- waits and state
    def wait(self, condition: Callable[[Any], Any], timeout: float | None = None, what: str = "the page") -> Any:
        t = self.settings.timeouts

        def polled(d: Any) -> Any:
            try:
                return condition(d)
            except WebDriverException as exc:
                if detached(exc):
                    return False  # the page re-rendered under the condition: look again at the next poll
                raise
        try:
            return WebDriverWait(self.d, timeout or t.element_s, poll_frequency=t.poll_s,
                                 ignored_exceptions=(NoSuchElementException,)).until(polled)
        except TimeoutException:
            raise BrokerUnavailable(f"{self.site.name}: timed out after {timeout or t.element_s:g}s waiting for "
                                    f"{what}") from None

    def state(self) -> str:
        return self.d.execute_script(STATE_JS, self.site.pages.app, self._pages)

    def settled(self, timeout: float | None = None) -> str:
        return self.wait(lambda d: (s := self.state()) != "loading" and s, timeout, "the page to load")

    def element(self, css: str, visible: bool = True) -> WebElement:
        def find(d: Any) -> WebElement | bool:
            el = d.find_element(By.CSS_SELECTOR, css)
            return el if not visible or el.is_displayed() else False
        return self.wait(find, what=f"element {css}")

    def snap(self, action: str, client_order_id: str | None = None) -> None:
        self.recorder.record(self.d, action, client_order_id, page=None)

    # ---------------------------------------------------------------- navigation
    def open(self, path: str, expect: str, action: str, client_order_id: str | None = None,
             query: dict[str, str] | None = None) -> None:
        url = self.url(path, **(query or {}))
        for _ in range(self.settings.retry.max_logins + 3):  # each turn logs in or waits out a maintenance
            try:
                self.d.get(url)
            except TimeoutException:
                self.snap(f"{action}-timeout", client_order_id)
                raise BrokerUnavailable(f"{self.site.name}: {path} did not load within "
                                        f"{self.settings.timeouts.page_s:g}s") from None
            state = self.settled()
            if state == expect:
                self.snap(action, client_order_id)
                return
            self.handle(state, url, expect)
        raise BrokerUnavailable(f"{self.site.name}: {path} kept sending the browser elsewhere (login, maintenance)")

    def handle(self, state: str, url: str, expect: str) -> None:
        """Deal with a page that is not the one expected: log in, wait out maintenance, or raise."""
        if state in ("login", "code"):
            self.login()
            return
        if state == "maintenance":
            self.wait_out_maintenance(url)
            return
        self.snap("unexpected-page")
        if state == "none":
            raise BrokerUnavailable(f"{self.site.name}: {url} did not answer with a page of the site "
                                    f"(browser shows {self.d.title!r})")
        raise BrokerError(f"{self.site.name}: expected the {expect} page at {url}, got the {state} page")

    def wait_out_maintenance(self, url: str) -> None:
        policy = self.settings.retry
        self.snap("maintenance")
        self.report("maintenance", f"{url} shows the maintenance page; waiting up to {policy.maintenance_wait_s:g}s")

        def back(d: Any) -> bool:
            d.get(url)
            return self.settled() != "maintenance"
        try:
            if policy.maintenance_wait_s <= 0:
                raise TimeoutException()
            WebDriverWait(self.d, policy.maintenance_wait_s, poll_frequency=policy.maintenance_poll_s).until(back)
        except TimeoutException:
            raise BrokerUnavailable(f"{self.site.name} is in maintenance (waited {policy.maintenance_wait_s:g}s); "
                                    "retry later") from None
        self.report("maintenance_over", url)

    # ---------------------------------------------------------------- login
    def login(self) -> None:
        if self.logins_left <= 0:
            raise BrokerUnavailable(f"{self.site.name}: logged in {self.settings.retry.max_logins} times in one call "
                                    "and the session keeps ending; retry later")
        self.logins_left -= 1
        creds, m = self.settings.credentials, self.site.login
        if self.state() != "login":
            self.d.get(self.url(self.site.paths.login))
            self.settled()
        self.element(m.user).clear()
        self.element(m.user).send_keys(creds.user)
        self.element(m.password).clear()
        with secret_typing():
            self.element(m.password).send_keys(creds.password.get_secret_value())
        self.element(m.submit).click()
        state = self.wait(lambda d: (s := self.state()) not in ("loading", "login") and s or self._refused(),
                          what="the one-time code page")
        if state == "refused":
            self.snap("login-refused")
            raise LoginRefused(f"{self.site.name} refused the login for user {creds.user!r}: {self._error_text()}")
        if state == "code":
            if creds.totp_secret is None:
                raise LoginRefused(f"{self.site.name} asks for a one-time code: set the TOTP secret "
                                   "(BROKER_WEB_TOTP_SECRET or totp_secret in the secret file)")
            with secret_typing():
                self.element(m.code).send_keys(totp(creds.totp_secret.get_secret_value()))
            self.element(m.code_submit).click()
            state = self.wait(lambda d: (s := self.state()) not in ("loading", "code") and s or self._refused("code"),
                              what="the page after the one-time code")
            if state == "refused":
                self.snap("login-refused")
                raise LoginRefused(f"{self.site.name} refused the one-time code: {self._error_text()} (is the "
                                   "clock right and the TOTP secret the site's?)")
        self.logins += 1
        self.report("login", f"logged in to {self.site.name} as {creds.user!r} (login {self.logins})")
        self.snap("login")

    def _refused(self, page: str = "login") -> str | bool:
        return "refused" if self.state() == page and self._error_text() else False

    def _error_text(self) -> str:
        found = self.d.find_elements(By.CSS_SELECTOR, self.site.login.error)
        return found[0].text.strip()[:200] if found else ""
