"""The sandbox broker over plain HTTP (no browser): login, ticket, book, faults, escaping, bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from brokers.otp import totp
from brokers.sandbox import FaultError, Faults, SandboxServer, serve
from brokers.sandbox.book import RANDOM_REJECTS
from brokers.sandbox.prices import PriceTable
from tests.sandbox_kit import HOSTILE, Client

@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with serve(prices={"AAA": 100.0, "BBB": 50.0}, session=date(2024, 1, 2)) as s:
        yield s


@pytest.fixture
def client(server: SandboxServer) -> Client:
    c = Client(server)
    c.login()
    return c


def test_pages_need_both_login_steps(server: SandboxServer) -> None:
    c = Client(server)
    assert c.call("/orders")[1].endswith("/login?next=%2Forders")
    assert c.call("/login", {"user": "desk", "password": "wrong"})[0] == 401
    assert c.call("/login", {"user": "desk", "password": "sandbox"})[1].split("?")[0].endswith("/login/code")
    assert c.call("/orders")[1].split("?")[0].endswith("/login")  # a password alone is not a session
    assert c.call("/login/code", {"code": "000000" if totp(server.credentials.totp_secret) != "000000"
                                  else "111111"})[0] == 401
    assert c.call("/login/code", {"code": totp(server.credentials.totp_secret)})[0] == 200
    assert c.call("/orders")[1].endswith("/orders")


def test_login_next_never_leaves_the_site(server: SandboxServer) -> None:
    c = Client(server)
    c.call("/login", {"user": "desk", "password": "sandbox", "next": "//evil.example/x"})
    _, url, _ = c.call("/login/code", {"code": totp(server.credentials.totp_secret), "next": "//evil.example/x"})
    assert url.startswith(server.url)


def test_order_is_booked_once_per_ticket_and_a_replayed_ticket_is_refused(client: Client, server: SandboxServer) -> None:
    page = client.call("/trade")[2]
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    form = {"symbol": "AAA", "side": "buy", "quantity": "2", "order_type": "market", "reference": "r-1",
            "token": token}
    status, url, body = client.call("/orders", form)
    assert status == 200 and url.endswith("/orders/SB-000001") and 'data-status="Filled"' in body
    again = client.call("/orders", form)
    assert again[0] == 409 and "already submitted" in again[2]
    assert len(server.book.orders()) == 1 and server.book.cash == pytest.approx(100_000 - 200 - 1)


@pytest.mark.parametrize(("fields", "message"), [
    ({"reference": ""}, "client reference is required"),
    ({"quantity": "abc"}, "quantity 'abc' is not a number"),
    ({"quantity": "-3"}, "quantity must be a number greater than 0"),
    ({"quantity": "nan"}, "quantity must be a number greater than 0"),
    ({"side": "short"}, "side must be buy or sell"),
    ({"order_type": "limit", "limit_price": ""}, "limit price"),
    ({"reference": "x" * 65}, "at most 64"),
])
def test_malformed_ticket_is_refused_with_its_reason_and_books_nothing(client: Client, server: SandboxServer,
                                                                         fields: dict, message: str) -> None:
    status, _, body = client.ticket(**fields)
    assert status == 400 and message in body.replace("&#x27;", "'")
    assert server.book.orders() == []


def test_hostile_text_is_escaped_on_every_page(client: Client, server: SandboxServer) -> None:
    client.ticket(reference=HOSTILE, symbol=HOSTILE[:60])
    pages = [client.call("/orders")[2], client.call("/orders/SB-000001")[2],
             client.call("/orders?" + urllib.parse.urlencode({"ref": HOSTILE}))[2],
             client.call("/instruments?" + urllib.parse.urlencode({"q": HOSTILE}))[2],
             client.call("/trade?" + urllib.parse.urlencode({"symbol": HOSTILE}))[2]]
    for page in pages:
        assert "<img" not in page and "<script>alert" not in page
        assert "&lt;" in page
    (booked,) = server.book.orders()
    assert booked.reference == HOSTILE and booked.status == "rejected" and booked.reason.startswith("no price for <")


def test_pages_forbid_inline_script(client: Client, server: SandboxServer) -> None:
    with urllib.request.urlopen(server.url + "/login", timeout=5) as r:
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]


def test_faults_switch_at_run_time_through_admin_json_and_form(server: SandboxServer) -> None:
    c = Client(server)
    assert json.loads(c.call("/_admin/faults", json_body={"faults": "maintenance"})[2])["maintenance"] is True
    assert c.call("/login")[0] == 503 and 'id="maintenance"' in c.call("/login")[2]
    assert c.call("/_admin/faults", {"faults": "slow=0.2"})[0] == 200 and server.faults == Faults(slow=0.2)
    status, _, body = c.call("/_admin/faults", {"faults": "slw"})
    assert status == 400 and "did you mean 'slow'" in body and server.faults == Faults(slow=0.2)


def test_slow_fault_delays_every_app_page(server: SandboxServer) -> None:
    server.set_faults("slow=0.3")
    started = time.monotonic()
    Client(server).call("/login")
    assert time.monotonic() - started >= 0.3


def test_expire_fault_ends_the_session_after_its_pages(client: Client, server: SandboxServer) -> None:
    server.set_faults("expire=2")
    assert client.call("/orders")[1].endswith("/orders")
    assert client.call("/portfolio")[1].endswith("/portfolio")
    _, url, body = client.call("/orders")
    assert "expired=1" in url and "Your session has expired" in body
    assert "expired" not in client.call("/orders")[1]  # the session is gone: a plain login now
    client.login()  # logging in again gives a new session (it lands on the portfolio)


def test_expired_session_books_no_order(client: Client, server: SandboxServer) -> None:
    page = client.call("/trade")[2]
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    server.set_faults("expire=1")
    client.call("/orders")  # the last page of the session
    status, url, _ = client.call("/orders", {"symbol": "AAA", "side": "buy", "quantity": "1", "reference": "e-1",
                                             "order_type": "market", "token": token})
    assert "/login" in url and server.book.orders() == []


def test_lost_confirmation_books_the_order_but_answers_with_a_gateway_error(client: Client,
                                                                            server: SandboxServer) -> None:
    server.set_faults("lost_confirmation")
    status, _, body = client.ticket(reference="lc-1")
    assert status == 502 and "SB-000001" not in body and 'name="app"' not in body
    assert [o.reference for o in server.book.orders()] == ["lc-1"]


def test_reject_fault_is_seeded_and_gives_a_reason() -> None:
    def run() -> list[str | None]:
        with serve(prices={"AAA": 100.0}, faults="reject=0.5", seed=3) as s:
            c = Client(s)
            c.login()
            for i in range(8):
                c.ticket(reference=f"rj-{i}", quantity="1")
            return [o.reason for o in s.book.orders()]
    first = run()
    assert first == run()
    assert {r for r in first if r} <= set(RANDOM_REJECTS) and None in first and any(first)


def test_partial_fill_works_until_cancelled(client: Client, server: SandboxServer) -> None:
    server.set_faults("partial=0.25")
    client.ticket(reference="pf-1", quantity="8")
    (o,) = server.book.orders()
    assert (o.status, o.filled_qty) == ("partially_filled", 2)
    assert client.call("/orders/SB-000001/cancel", {})[0] == 200
    assert server.book.orders()[0].status == "cancelled" and server.book.holdings()[0].quantity == 2


def test_limit_order_below_the_price_works_and_one_above_fills(client: Client, server: SandboxServer) -> None:
    client.ticket(reference="l-1", order_type="limit", limit_price="90")
    client.ticket(reference="l-2", order_type="limit", limit_price="110")
    assert [(o.status, o.avg_price) for o in server.book.orders()] == [("working", None), ("filled", 100.0)]


def test_admin_book_lists_orders_and_cash(client: Client, server: SandboxServer) -> None:
    client.ticket(reference="b-1")
    book = json.loads(client.call("/_admin/book")[2])
    assert book["cash"] == pytest.approx(100_000 - 201) and book["orders"][0]["reference"] == "b-1"


@pytest.mark.parametrize(("spec", "message"), [
    ("slw", "did you mean 'slow'"), ("reject=2", "reject"), ("slow=-1", "slow"), ("maintenance=yes", "no value"),
    ("expire=0", "expire"), ("partial=1", "partial"),
])
def test_bad_fault_spec_is_a_clear_error(spec: str, message: str) -> None:
    with pytest.raises(FaultError, match=message):
        Faults.parse(spec)


def test_fault_spec_round_trips() -> None:
    faults = Faults.parse("slow,reject=0.25,rerender,expire=3")
    assert Faults.parse(faults.spec()) == faults and faults.active() == ["slow", "reject", "expire", "rerender"]


def test_prices_from_csv_callable_and_bundled(tmp_path: Path) -> None:
    csv = tmp_path / "p.csv"
    csv.write_text("symbol,price\nxom,101.5\nAAPL,130\n")
    assert PriceTable.of(csv).get("XOM").price == 101.5
    assert PriceTable.of(lambda s: 5.0 if s == "Q" else None).get("Q").price == 5.0
    bundled = PriceTable.of("bundled:2020-03-16")
    assert bundled.session == date(2020, 3, 16) and bundled.get("AAPL").source == "close"


@pytest.mark.parametrize(("text", "message"), [("symbol,price\nAAA,abc\n", "not a number"),
                                               ("symbol,price\nAAA,-1\n", "price > 0"),
                                               ("AAA,1,2\n", "expected 'symbol,price'"), ("", "no symbol,price")])
def test_bad_price_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        PriceTable.of(path)


def test_sandbox_serves_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        serve(prices={"AAA": 1.0}, host="0.0.0.0")


def test_cli_prints_the_port_it_bound_and_refuses_bad_faults(tmp_path: Path) -> None:
    prices = tmp_path / "p.csv"
    prices.write_text("AAA,10\n")
    proc = subprocess.Popen([sys.executable, "-m", "brokers.sandbox", "--port", "0", "--prices", str(prices)],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    bad = subprocess.run([sys.executable, "-m", "brokers.sandbox", "--faults", "maintenace"], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "did you mean 'maintenance'" in bad.stderr and "Traceback" not in bad.stderr
