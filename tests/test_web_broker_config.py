"""The web broker's parts that need no browser: site maps, credentials, settings, parsing, one-time codes, the
resolve loop, and that the desk imports without Selenium."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from brokers.base import BrokerError, BrokerUnavailable, Order, OrderStatus, QuantityRules
from brokers.otp import totp
from brokers.resolve import settle
from brokers.web import BrowserSettings, WebBrokerSettings, WebCredentials, load_site
from brokers.web.browser import Browser, args_for
from brokers.web.parse import order_status

SANDBOX_MAP = (Path(__file__).parents[1] / "brokers" / "web" / "sites" / "sandbox.toml").read_text()


def test_shipped_sandbox_map_loads_and_carries_the_desks_client_order_ids() -> None:
    site = load_site("sandbox")
    assert site.name == "sandbox" and site.orders.status_map["Filled"] == "filled"
    assert site.reference.check("id", "desk-" + "0123456789abcdef01234567") is None
    assert "does not match" in site.reference.check("id", "has space")
    assert "longer than 64" in site.reference.check("id", "x" * 65)


def test_site_map_declares_the_tickets_quantity_units_whole_shares_unless_it_says(tmp_path: Path) -> None:
    assert load_site("sandbox").quantities == QuantityRules()
    path = tmp_path / "fractional.toml"
    path.write_text(SANDBOX_MAP + "\n[quantities]\ndecimals = 3\nmin_notional = 1.0\n")
    assert load_site(path).quantities == QuantityRules(decimals=3, min_notional=1.0)
    path.write_text(SANDBOX_MAP + "\n[quantities]\ndecimal = 3\n")
    with pytest.raises(BrokerError, match="quantities.decimal: Extra inputs are not permitted"):
        load_site(path)


def test_unknown_site_names_the_shipped_ones() -> None:
    with pytest.raises(BrokerError, match="no selector map for site 'sandbx'; shipped: sandbox"):
        load_site("sandbx")


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace('login = "form#login"', 'logn = "form#login"'), "pages.login: Field required"),
    (lambda t: t.replace('"Filled" = "filled"', '"Filled" = "done"'), "status_map maps to \\['done'\\]"),
    (lambda t: t.replace("[paths]", "[paths"), "not valid TOML"),
    (lambda t: t.replace('pattern = "^[A-Za-z0-9._:-]+$"', 'pattern = "(["'),
     "reference.pattern: Value error, not a valid regular expression"),
])
def test_broken_site_map_fails_at_load_naming_the_key(tmp_path: Path, edit, message: str) -> None:
    path = tmp_path / "broker.toml"
    path.write_text(edit(SANDBOX_MAP))
    with pytest.raises(BrokerError, match=message):
        load_site(path)


def test_credentials_from_environment_and_their_absence() -> None:
    env = {"BROKER_WEB_USER": "ops", "BROKER_WEB_PASSWORD": "pw-1", "BROKER_WEB_TOTP_SECRET": "JBSWY3DPEHPK3PXP"}
    creds = WebCredentials.from_env(env)
    assert creds.user == "ops" and creds.password.get_secret_value() == "pw-1"
    assert "pw-1" not in repr(creds) and "JBSWY3DP" not in str(creds)
    with pytest.raises(BrokerError, match="set BROKER_WEB_USER and BROKER_WEB_PASSWORD"):
        WebCredentials.from_env({"BROKER_WEB_USER": "ops"})


def test_secret_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text('user = "ops"\npassword = "pw-2"\ntotp_secret = "JBSWY3DPEHPK3PXP"\n')
    path.chmod(0o644)
    with pytest.raises(BrokerError, match="readable by others; run chmod 600"):
        WebCredentials.from_env({"BROKER_WEB_SECRETS_FILE": str(path)})
    path.chmod(0o600)
    assert WebCredentials.from_env({"BROKER_WEB_SECRETS_FILE": str(path)}).password.get_secret_value() == "pw-2"
    path.write_text("user = \n")
    with pytest.raises(BrokerError, match="unusable") as err:
        WebCredentials.from_file(path)
    assert "pw-2" not in str(err.value)


def test_settings_refuse_a_non_http_url_and_unknown_keys() -> None:
    creds = WebCredentials(user="u", password=SecretStr("p"))
    with pytest.raises(ValidationError, match="http:// or https://"):
        WebBrokerSettings(url="ftp://x", credentials=creds)
    with pytest.raises(ValidationError, match="Extra inputs"):
        WebBrokerSettings(url="http://127.0.0.1:1", credentials=creds, sitemap="x")
    assert WebBrokerSettings(url="http://127.0.0.1:1/", credentials=creds).url == "http://127.0.0.1:1"


def test_browser_arguments_are_headless_offline_and_fresh_profile() -> None:
    args = args_for(BrowserSettings(loopback_only=True), "/tmp/profile-x")
    assert "--headless=new" in args and "--user-data-dir=/tmp/profile-x" in args and "--disable-quic" in args
    assert any(a.startswith("--proxy-server=") for a in args)
    assert not any(a.startswith("--headless") for a in args_for(BrowserSettings(headed=True), "/p"))


def test_missing_chromium_is_a_clear_error_not_a_download(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="Chromium not found at .*apt-get install chromium chromium-driver"):
        Browser(BrowserSettings(chromium=tmp_path / "no-chromium")).driver  # noqa: B018 - reading it starts the browser


def test_desk_imports_brokers_without_selenium() -> None:
    code = ("import sys; sys.modules['selenium'] = None\n"
            "import brokers.paper, brokers.web, brokers.sandbox, brokers.resolve\n"
            "from brokers.web.browser import Browser\n"
            "try:\n    Browser().driver\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "BrokerError the web broker needs selenium: pip install selenium"


def test_unreadable_blotter_value_names_the_field_and_the_map() -> None:
    row = {"broker_order_id": "SB-1", "client_order_id": "c", "symbol": "AAA", "side": "buy", "quantity": "abc",
           "status": "Filled", "filled_qty": "1", "avg_price": "1", "commission": "1", "session": "2024-01-02",
           "price_source": "close", "reason": ""}
    with pytest.raises(BrokerError, match="blotter page: quantity 'abc' is not a number; the selector map"):
        order_status(load_site("sandbox"), row, "blotter")
    with pytest.raises(BrokerError, match="status 'Done' is not one of"):
        order_status(load_site("sandbox"), {**row, "quantity": "1", "status": "Done"}, "blotter")


def test_totp_matches_the_rfc_6238_vector() -> None:
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of "12345678901234567890"
    assert totp(secret, at=59, digits=8) == "94287082" and totp(secret, at=1111111109, digits=8) == "07081804"
    with pytest.raises(ValueError, match="not valid base32"):
        totp("not base32 !!")


class ScriptedBroker:
    """Answers submit/status from scripts, and counts the calls."""

    def __init__(self, submits: list[str], statuses: list[str | Exception]) -> None:
        self.submits, self.statuses, self.calls = submits, statuses, []

    def _s(self, order: Order, state: str) -> OrderStatus:
        return OrderStatus(client_order_id=order.client_order_id, symbol=order.symbol, side=order.side,
                           quantity=order.quantity, status=state, filled_qty=order.quantity if state == "filled"
                           else 0, avg_price=1.0 if state == "filled" else None, commission=0, session=date(2024, 1, 2),
                           price_source=None, reason=None)

    def submit(self, order: Order) -> OrderStatus:
        self.calls.append("submit")
        return self._s(order, self.submits.pop(0))

    def status(self, cid: str) -> OrderStatus:
        self.calls.append("status")
        nxt = self.statuses.pop(0)
        if isinstance(nxt, Exception):
            raise nxt
        return self._s(Order(client_order_id=cid, symbol="AAA", side="buy", quantity=1), nxt)


ORDER = Order(client_order_id="c-1", symbol="AAA", side="buy", quantity=1)


def test_settle_resolves_unknown_by_status_before_submitting_again() -> None:
    b = ScriptedBroker(["unknown"], ["filled"])
    assert settle(b, ORDER).status == "filled" and b.calls == ["submit", "status"]
    b = ScriptedBroker(["unknown", "filled"], ["unknown"])
    assert settle(b, ORDER).status == "filled" and b.calls == ["submit", "status", "submit"]


def test_settle_stops_at_an_unavailable_broker_and_reports_unknown() -> None:
    b = ScriptedBroker(["unknown"], [BrokerUnavailable("maintenance")])
    assert settle(b, ORDER).status == "unknown" and b.calls == ["submit", "status"]


def test_browser_tests_skip_locally_with_one_line_and_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import brokers.web.browser as browser_module
    from tests.browser_kit import need_browser

    monkeypatch.setattr(browser_module, "selenium_missing", lambda: "Chromium not found at /nowhere")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="need Chromium: Chromium not found at /nowhere"):
        need_browser()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="never skip in CI"):
        need_browser()


# chromedriver's message when an element's page re-rendered between finding and using it (seen in CI, 2026-12-01)
INSPECTOR = ('unknown error: unhandled inspector error: {"code":-32000,"message":"Node with given id does not '
             'belong to the document"}')


def test_a_node_that_left_its_document_counts_as_a_page_that_changed_not_a_failed_browser() -> None:
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    from brokers.web.session import detached, left

    assert detached(WebDriverException(INSPECTOR)) and detached(StaleElementReferenceException("stale"))
    assert not detached(WebDriverException("chrome not reachable")) and not detached(ValueError("x"))

    class Page:
        def __init__(self, exc: Exception | None) -> None:
            self.exc = exc

        def is_enabled(self) -> bool:
            if self.exc:
                raise self.exc
            return True
    assert left(Page(WebDriverException(INSPECTOR)))(None) is True
    assert left(Page(None))(None) is False
    with pytest.raises(WebDriverException, match="not reachable"):
        left(Page(WebDriverException("chrome not reachable")))(None)


def test_outcome_read_while_the_page_re_renders_is_read_again_never_sent_again() -> None:
    from types import SimpleNamespace

    from selenium.common.exceptions import WebDriverException

    from brokers.web.pages import Placed, TicketPage, Unconfirmed

    reports: list[str] = []
    session = SimpleNamespace(site=SimpleNamespace(ticket=None), report=lambda kind, text: reports.append(kind),
                              settings=SimpleNamespace(retry=SimpleNamespace(stale_retries=3)))
    page = TicketPage(session)  # type: ignore[arg-type]  # a stand-in session with only what the page reads
    placed = Placed(ScriptedBroker([], [])._s(ORDER, "filled"))
    answers: list[object] = [WebDriverException(INSPECTOR), placed]

    def read(order: Order, root: object) -> object:
        nxt = answers.pop(0)
        if isinstance(nxt, Exception):
            raise nxt
        return nxt
    page._read_outcome = read  # type: ignore[method-assign]  # a scripted reading of the page
    assert page._outcome(ORDER, None) == placed and reports == ["stale"]
    answers[:] = [WebDriverException("chrome not reachable"), placed]
    out = page._outcome(ORDER, None)
    assert isinstance(out, Unconfirmed) and "not reachable" in out.reason and answers == [placed]
