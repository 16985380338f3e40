"""Dashboard test kit: a home with a book (the real graphs run over a few sessions), `desk serve` on it as an operator
starts it, and a headless Chromium whose console the tests read.

Browser tests skip with one line when Chromium, chromedriver or selenium is missing, except in CI (``CI`` set): there
they fail (``tests.browser_kit.need_browser``). Screenshots go to ``$DESKTEST_ARTIFACTS/dashboard`` when set, else
to the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# the last sessions of the bundled history, run as a live desk would run them (nothing is chosen by them)
BOOK_NIGHTS = (date(2022, 12, 19), date(2022, 12, 20), date(2022, 12, 21), date(2022, 12, 22))


def build_book(home: Path, nights: tuple[date, ...] = BOOK_NIGHTS) -> None:
    """Run the night and the morning of each date on ``home`` through the command core, as `desk run --date` does."""
    from desk.actor import Actor
    from desk.config import load_settings
    from desk.core.core import Core

    core = Core(load_settings(home=home))
    for night in nights:
        core.execute("run", {"phase": "all", "date": night}, Actor(who="test", via="cli"))


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DESK_", "SLACK_"))}
    return {**env, "DESK_HOME": str(home), **extra}


@dataclass
class Served:
    url: str  # the dashboard's address, as `desk serve` printed it
    proc: subprocess.Popen[str]


@contextmanager
def desk_serve(home: Path, env: Mapping[str, str] | None = None, *args: str) -> Iterator[Served]:
    """`desk serve --http-port 0 --no-scheduler` on ``home``; yields once it printed the dashboard's address; stops
    it with SIGTERM."""
    proc = subprocess.Popen([sys.executable, "-m", "desk.cli", "serve", "--http-port", "0", "--no-scheduler",
                             "--no-slack", *args], cwd=ROOT, env=dict(env or clean_env(home)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        for _ in range(5):
            line = proc.stdout.readline() if proc.stdout else ""
            if "the dashboard is at" in line:
                url = line.split("the dashboard is at ")[1].split()[0]
                break
            if not line:
                break
        if url is None:
            proc.kill()
            raise AssertionError(f"desk serve printed no dashboard address: {proc.communicate()[1][-2000:]}")
        yield Served(url=url, proc=proc)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def get(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def post(url: str, form: Mapping[str, str], headers: Mapping[str, str] | None = None) -> tuple[int, Any, dict]:
    from urllib.parse import urlencode

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a: Any, **k: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, data=urlencode(form).encode(), method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded", **dict(headers or {})})
    try:
        with opener.open(req, timeout=30) as res:
            body = res.read()
            return res.status, json.loads(body) if body.startswith(b"{") else body, dict(res.headers)
    except urllib.error.HTTPError as exc:
        body = exc.read()
        return exc.code, json.loads(body) if body.startswith(b"{") else body, dict(exc.headers)


# ---------------------------------------------------------------------- the browser
def chromium() -> Any:
    """A headless Chromium (loopback only) whose console log can be read (``driver.get_log("browser")``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from brokers.web.browser import args_for
    from brokers.web.config import BrowserSettings

    os.environ["SE_OFFLINE"] = "true"  # never let Selenium download a driver or a browser
    s = BrowserSettings(loopback_only=True, window=(1400, 1800))
    profile = tempfile.mkdtemp(prefix="desk-dashboard-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(s.chromium)
    for arg in args_for(s, profile):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(s.chromedriver)), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    quit_browser = driver.quit

    def quit_and_forget_profile() -> None:  # the profile is ~11 MB a browser: never left behind in /tmp
        try:
            quit_browser()
        finally:
            shutil.rmtree(profile, ignore_errors=True)

    driver.quit = quit_and_forget_profile
    return driver


def wait_for(check: Any, timeout: float = 30.0, every: float = 0.05) -> Any:
    """``check()``'s first truthy answer within ``timeout`` seconds, else AssertionError. An element not drawn yet
    (or drawn again while read) is a falsy answer."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    tick, end = threading.Event(), time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < end:
        try:
            got = check()
        except (NoSuchElementException, StaleElementReferenceException) as exc:
            got, last = None, exc
        if got:
            return got
        tick.wait(every)
    raise AssertionError(f"not within {timeout:.0f} s: {getattr(check, '__doc__', None) or check} ({last})")


def reads(driver: Any) -> int:
    """How many times the page has read all its panels."""
    return int(driver.execute_script("return document.body.getAttribute('data-reads') || '0'"))


def open_page(driver: Any, url: str) -> None:
    driver.get(url)
    wait_for(lambda: reads(driver) >= 1, 60)


def console_errors(driver: Any) -> list[dict]:
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def shots_dir(fallback: Path) -> Path:
    where = Path(os.environ["DESKTEST_ARTIFACTS"]) / "dashboard" if os.environ.get("DESKTEST_ARTIFACTS") else fallback
    where.mkdir(parents=True, exist_ok=True)
    return where
