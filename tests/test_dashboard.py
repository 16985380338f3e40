"""The dashboard in a real browser: `desk serve` on a home with a book the real graphs made, headless Chromium on its
page. Each panel shows the numbers the command line gives (`desk status --json`, `desk ops NAME --json`), the page
logs no console error, its JSON under /api/ is the CLI's, it reads again when the desk changes, and text from the
store (a halt's reason) renders as text. Screenshots of each panel are written (tests/dashboard_kit.shots_dir)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.browser_kit import need_browser
from tests.dashboard_kit import (build_book, chromium, clean_env, console_errors, desk_serve, get, open_page, reads,
                                 shots_dir, wait_for)
from tests.kit import clone_home, run_cli

pytestmark = pytest.mark.slow
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> & "quotes"'


@pytest.fixture(scope="module")
def book_home(seeded_home, tmp_path_factory) -> Path:
    home = clone_home(seeded_home, tmp_path_factory.mktemp("dashboard") / "home")
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("DESK_"):
                mp.delenv(key)
        build_book(home)
    return home


@pytest.fixture(scope="module")
def served(book_home):
    with desk_serve(book_home, clean_env(book_home)) as s:
        yield s


@pytest.fixture(scope="module")
def driver():
    need_browser()
    d = chromium()
    yield d
    d.quit()


@pytest.fixture
def cli(book_home, capsys, monkeypatch):
    for key in list(os.environ):
        if key.startswith("DESK_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DESK_HOME", str(book_home))

    def run(*args: str) -> dict:
        code, out, err = run_cli(capsys, *args, "--json")
        assert code == 0, err
        return json.loads(out)

    return run


def money(x: float | None) -> str:
    return "–" if x is None else f"{x:,.2f}"


def pct(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.2f}%"


def cell(driver, panel: str, key: str | None, field: str):
    from selenium.webdriver.common.by import By

    row = f'tr[data-key="{key}"] ' if key is not None else ""
    return driver.find_element(By.CSS_SELECTOR, f'#panel-{panel} {row}[data-field="{field}"]')


def test_api_serves_the_cli_json_of_each_panel(served, cli):
    assert get(served.url + "api/status") == (200, cli("status"))
    for name in ("book", "holdings", "positions", "runs", "pnl", "intents", "agents", "candidates", "orders",
                 "weather", "regimes"):
        assert get(served.url + f"api/{name}") == (200, cli("ops", name)), name
    assert get(served.url + "api/models") == (200, cli("models"))  # the command line's own, served to the page too
    assert get(served.url + "api/runs?limit=3") == (200, cli("ops", "runs", "3"))
    book = cli("ops", "book")
    assert book["curve"] and book["equity"] is not None and book["benchmark_return"] is not None


def test_each_panel_renders_the_numbers_the_cli_gives(served, driver, cli, tmp_path):
    from selenium.webdriver.common.by import By

    open_page(driver, served.url)
    book = cli("ops", "book")
    for field, shown in (("equity", money), ("cash", money), ("exposure", pct), ("day_change", money),
                         ("total_return", pct), ("benchmark_return", pct), ("equal_weight_return", pct),
                         ("max_drawdown", pct)):
        got = cell(driver, "book", None, field)
        assert got.text == shown(book[field]), field
        assert float(got.get_attribute("data-value")) == book[field], field
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#chart-value .main-svg"))  # once plotly.js is loaded

    holdings = cli("ops", "holdings")
    assert holdings["holdings"], "the replayed book holds something"
    for h in holdings["holdings"]:
        for field, shown in (("avg_price", money), ("price", money), ("value", money), ("pnl", money),
                             ("pnl_pct", pct), ("stop", money), ("trail_pct", pct)):
            got = cell(driver, "holdings", h["symbol"], field)
            assert got.text == shown(h[field]), (h["symbol"], field)
            assert float(got.get_attribute("data-value")) == h[field]
        assert float(cell(driver, "holdings", h["symbol"], "quantity").get_attribute("data-value")) == h["quantity"]
        assert cell(driver, "holdings", h["symbol"], "tier").text == (h["tier"] or "–")
        assert cell(driver, "holdings", h["symbol"], "intent_id").text == (h["intent_id"] or "–")
        assert cell(driver, "holdings", h["symbol"], "agents").text == (", ".join(h["agents"]) or "–")

    runs = cli("ops", "runs", "15")["runs"]
    shown = [r.get_attribute("data-key") for r in driver.find_elements(By.CSS_SELECTOR, "#runs-latest tbody tr")]
    assert shown == [r["run_id"] for r in runs]
    for r in runs:
        assert driver.find_element(By.CSS_SELECTOR, f'#runs-latest tr[data-key="{r["run_id"]}"] '
                                                    '[data-field="status"]').text == r["status"]
    status = cli("status")
    assert cell(driver, "status", None, "halted").get_attribute("data-value") == str(status["halted"]).lower()
    assert float(cell(driver, "status", None, "llm_usd_today").get_attribute("data-value")) == status["llm_usd_today"]
    for panel in ("book", "status", "holdings", "runs"):  # each figure says when it was read
        assert "read " in driver.find_element(By.CSS_SELECTOR, f"#panel-{panel} .when").text

    shots = shots_dir(tmp_path)
    driver.save_screenshot(str(shots / "dashboard.png"))
    for panel in ("book", "status", "holdings", "runs"):
        driver.find_element(By.ID, f"panel-{panel}").screenshot(str(shots / f"panel-{panel}.png"))
    assert all((shots / f"panel-{p}.png").stat().st_size > 1000 for p in ("book", "status", "holdings", "runs"))
    size = driver.get_window_size()
    driver.set_window_size(1200, 820)  # the README's picture: the top of the page
    driver.execute_script("window.scrollTo(0, 0)")
    wait_for(lambda: driver.execute_script(  # plotly redraws its charts for the new width
        "return [...document.querySelectorAll('.main-svg')].every(s => s.getBoundingClientRect().right <= innerWidth)"))
    driver.save_screenshot(str(shots / "readme.png"))
    driver.set_window_size(size["width"], size["height"])
    assert console_errors(driver) == []


def dec(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def test_the_nights_and_mornings_panels_show_the_cli_numbers_and_why_is_one_click_away(served, driver, cli, tmp_path):
    from selenium.webdriver.common.by import By

    open_page(driver, served.url)
    cands = cli("ops", "candidates")
    assert cands["candidates"] and any(c["denials"] for c in cands["candidates"]), "the book's nights denied something"
    for c in cands["candidates"]:
        assert float(cell(driver, "candidates", c["symbol"], "score").get_attribute("data-value")) == c["score"]
        assert cell(driver, "candidates", c["symbol"], "selected").text == ("yes" if c["selected"] else "no")
        assert cell(driver, "candidates", c["symbol"], "denials").text == (
            "; ".join(f"{d['rule']}: {d['reason']}" for d in c["denials"]) or "–")
        assert cell(driver, "candidates", c["symbol"], "intent_id").text == (c["intent_id"] or "–")
    intents = cli("ops", "intents")
    for i in intents["intents"]:
        assert cell(driver, "intents", i["intent_id"], "status").text == i["status"]
    orders = cli("ops", "orders")
    assert orders["orders"], "the book's mornings sent orders"
    for o in orders["orders"]:
        assert cell(driver, "orders", o["client_order_id"], "price").text == money(o["price"])
        assert cell(driver, "orders", o["client_order_id"], "price_source").text == (o["price_source"] or "–")
    weather = cli("ops", "weather")
    assert cell(driver, "weather", None, "regime").get_attribute("data-value") == weather["regime"]
    assert cell(driver, "weather", None, "narrative").text == weather["narrative"].strip()
    for name, layer in weather["layers"].items():
        assert cell(driver, "weather", name, "score").text == dec(layer["score"])
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#chart-regimes .main-svg"))
    nights = [r for r in cli("ops", "runs", "200")["runs"] if r["kind"] == "night" and r["status"] == "ok"]
    assert [n["run_id"] for n in cli("ops", "regimes")["nights"]] == [n["run_id"] for n in reversed(nights)]
    for a in cli("ops", "agents")["agents"]:
        assert cell(driver, "agents", a["agent"], "weight").text == dec(a["weight"])
        assert cell(driver, "agents", a["agent"], "hit_rate").text == pct(a["hit_rate"])
    for m in cli("models")["models"]:
        assert cell(driver, "models", m["version"], "status").text == m["status"]

    # a candidate that became an intent, else a holding's opening intent: either panel's link opens why
    found = [("candidates", c["intent_id"]) for c in cands["candidates"] if c["intent_id"]] + [
        ("holdings", h["intent_id"]) for h in cli("ops", "holdings")["holdings"] if h["intent_id"]]
    assert found, "the book holds an intent to ask why about"
    panel, target = found[0]
    driver.find_element(By.CSS_SELECTOR, f'#panel-{panel} a[data-why="{target}"]').click()
    why = cli("why", target)
    wait_for(lambda: cell(driver, "why", None, "intent_id").get_attribute("data-value") == target)
    assert why["sizing"]
    for f in why["sizing"]:
        assert cell(driver, "why", f["name"], "multiplier").text == dec(f["multiplier"])
        assert cell(driver, "why", f["name"], "weight_after").text == pct(f["weight_after"])
        assert cell(driver, "why", f["name"], "reason").text == f["reason"]
    shots = shots_dir(tmp_path)
    for panel in ("candidates", "intents", "orders", "why", "weather", "agents", "models"):
        driver.find_element(By.ID, f"panel-{panel}").screenshot(str(shots / f"panel-{panel}.png"))
    assert console_errors(driver) == []


def test_page_reads_again_when_the_desk_changes_and_hostile_text_stays_text(served, driver, cli, book_home):
    from selenium.webdriver.common.by import By

    from datetime import date

    from memory.store import Store

    open_page(driver, served.url)
    before = reads(driver)
    try:
        store = Store(book_home / "desk.sqlite")
        try:
            store.trip_breaker("daily_loss", date(2022, 12, 22), 2, HOSTILE)  # as the breakers node would
        finally:
            store.close()
        halted = cli("halt", "--reason", HOSTILE)
        assert halted["effect"]
        wait_for(lambda: reads(driver) > before and "HALTED" in driver.find_element(By.ID, "state").text, 30)
        badge = driver.find_element(By.ID, "state")
        assert badge.text == f"HALTED: {HOSTILE}"  # the markup is shown, not run
        assert driver.execute_script("return window.pwned === undefined")
        assert not driver.find_elements(By.CSS_SELECTOR, "header img, #panel-status img, #panel-status script")
        assert HOSTILE in cell(driver, "status", None, "halted").text
        assert cell(driver, "status", "daily_loss", "reason").text == HOSTILE
    finally:
        cli("resume")  # clears the breaker too
    wait_for(lambda: driver.find_element(By.ID, "state").text == "trading", 30)
    wait_for(lambda: not driver.find_elements(By.CSS_SELECTOR, '#panel-status tr[data-key="daily_loss"]'))
    assert console_errors(driver) == []


def test_a_request_naming_another_host_is_refused_on_loopback(served):
    status, body = get(served.url + "api/status", {"Host": "attacker.example:80"})
    assert status == 403 and "loopback" in body["error"]
    status, body = get(served.url + "api/nope")
    assert status == 404 and "status" in body["error"]
    status, body = get(served.url + "api/runs?limit=many")
    assert status == 400 and "runs" in body["error"]
    code, health = get(served.url.removesuffix("/") + "/health")  # 503 here: the book's data is years old
    assert get(served.url + "api/health") == (200, {**health, "http_status": code})
