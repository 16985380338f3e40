"""`desk report`: one self-contained HTML file that renders every chart in a real headless Chromium with the network
off, and the same figures as JSON."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.support.ui import WebDriverWait

from desk import evals
from desk.config import load_settings
from desk.actor import Actor
from evals.case import EvalCase
from evals.report import CHARTS
from tests.browser_kit import need_browser
from tests.kit import run_cli


@pytest.fixture
def evaluated(home):
    cases = [EvalCase(start=date(2018, 1, 2), end=date(2018, 1, 31), ablate=a) for a in ((), ("overlay",))]
    return evals.decisions(load_settings(home=home), cases, pool=False, actor=Actor(who="test", via="fixture"))


def test_desk_report_writes_html_and_json_that_name_every_chart(evaluated, capsys):
    code, out, err = run_cli(capsys, "report", "latest", "--json")
    assert code == 0, err
    files = json.loads(out)
    assert files["eval_id"] == evaluated.eval_id and files["charts"] == list(CHARTS)
    figures = json.loads(Path(files["json_path"]).read_text())
    assert set(figures) == set(CHARTS) and all(figures[name]["data"] for name in CHARTS)
    page = Path(files["html"]).read_text()
    assert "<script src=" not in page  # plotly.js is inline: nothing to fetch
    assert "validation (2015–2018)" in page and "hold-out" in page


def test_the_report_renders_every_chart_offline_in_headless_chromium(evaluated, capsys, tmp_path):
    need_browser()
    from brokers.web.browser import Browser
    from brokers.web.config import BrowserSettings

    code, out, _ = run_cli(capsys, "report", evaluated.eval_id)
    assert code == 0
    page = Path(out.strip())
    browser = Browser(BrowserSettings(loopback_only=True, window=(1300, 4200)))
    try:
        d = browser.driver
        d.execute_cdp_cmd("Network.enable", {})
        d.execute_cdp_cmd("Network.emulateNetworkConditions",
                          {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
        d.get(page.as_uri())
        script = ("const out = {};"
                  "for (const el of document.querySelectorAll('.js-plotly-plot')) {"
                  "  out[el.id] = {traces: (el.data || []).length, svgs: el.querySelectorAll('.main-svg').length,"
                  "                drawn: el.querySelectorAll('.trace path, .hm image, .trace image').length};"
                  "}"
                  "return out;")

        def all_drawn(driver) -> dict | bool:
            got = driver.execute_script(script)
            return got if len(got) == len(CHARTS) and all(v["drawn"] for v in got.values()) else False

        try:  # an explicit wait, as the web broker's page objects do
            rendered = WebDriverWait(d, 20, poll_frequency=0.2).until(all_drawn)
        except TimeoutException:
            rendered = d.execute_script(script)  # what was drawn by then: the assertions below name it
        assert set(rendered) == {f"chart-{name}" for name in CHARTS}, rendered
        for name, got in rendered.items():
            assert got["traces"] > 0 and got["svgs"] > 0 and got["drawn"] > 0, (name, got)
        fetched = d.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert not [u for u in fetched if not u.startswith("file:")], fetched
        shot = tmp_path / "report.png"
        assert d.save_screenshot(str(shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    finally:
        browser.close()
