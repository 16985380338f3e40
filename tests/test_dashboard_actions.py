"""The dashboard's login and actions against `desk serve` bound off loopback with `dashboard.actions` on: nothing is
shown without a login; a login needs a member of Slack's allow-lists and the desk's token; an action without a
valid session and its CSRF token is refused and changes nothing; an operator halts and resumes from the page in a
real browser, audited and through the core like Slack's; a reader may read but the core refuses them an action."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.browser_kit import need_browser
from tests.dashboard_kit import chromium, clean_env, console_errors, desk_serve, get, open_page, post, wait_for
from tests.kit import clone_home, store_fingerprint

pytestmark = pytest.mark.slow
TOKEN = "correct horse battery staple"
OPERATOR, READER, STRANGER = "U0OPERATOR", "U0READER", "U0STRANGER"


@pytest.fixture(scope="module")
def act_home(seeded_home, tmp_path_factory) -> Path:
    return clone_home(seeded_home, tmp_path_factory.mktemp("dashboard-actions") / "home")


def _env(home: Path, **more: str) -> dict[str, str]:
    return clean_env(home, DESK_DASHBOARD__TOKEN=TOKEN, DESK_SLACK__OPERATORS=json.dumps([OPERATOR]),
                     DESK_SLACK__READERS=json.dumps([READER]), **more)


@pytest.fixture(scope="module")
def served(act_home):
    with desk_serve(act_home, _env(act_home, DESK_DASHBOARD__ACTIONS="true"), "--host", "0.0.0.0") as s:
        s.url = s.url.replace("0.0.0.0", "127.0.0.1")
        yield s


def login(url: str, member: str, token: str = TOKEN) -> tuple[str | None, str | None]:
    """(the session cookie, its CSRF token), or (None, None) when the login was refused."""
    status, _, headers = post(url + "login", {"member": member, "token": token})
    assert status == 303
    cookie = headers.get("Set-Cookie")
    if not cookie:
        assert headers["Location"] == "/login?refused=1"
        return None, None
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    jar = cookie.split(";")[0]
    status, session = get(url + "api/session", {"Cookie": jar})
    assert status == 200
    return jar, session["csrf"]


def halted(home: Path) -> bool:
    from memory.store import Store

    store = Store(home / "desk.sqlite")
    try:
        return store.desk_state().halted
    finally:
        store.close()


def test_off_loopback_nothing_is_shown_without_a_login(served):
    assert get(served.url + "api/status")[0] == 401
    status, body, _ = post(served.url + "api/do/halt", {"reason": "x"})
    assert status == 401 and "log in" in body["error"]
    assert get(served.url.removesuffix("/") + "/health")[0] in (200, 503)  # the probes stay open
    assert get(served.url + "api/health")[0] == 401
    jar, _ = login(served.url, READER)
    assert get(served.url + "api/status", {"Cookie": jar})[0] == 200


def test_a_login_needs_a_listed_member_and_the_token(served):
    assert login(served.url, OPERATOR, "wrong token") == (None, None)
    assert login(served.url, STRANGER) == (None, None)  # the right token, a member on no list
    assert login(served.url, "<script>") == (None, None)
    jar, csrf = login(served.url, OPERATOR)
    assert jar and csrf


def test_an_action_without_a_valid_session_and_csrf_token_is_refused_and_changes_nothing(served, act_home):
    jar, csrf = login(served.url, OPERATOR)
    before = store_fingerprint(act_home / "desk.sqlite")
    for headers, form in (({}, {"reason": "no session"}),
                          ({}, {"reason": "a guessed token", "csrf": csrf}),
                          ({"Cookie": jar}, {"reason": "no csrf"}),
                          ({"Cookie": jar}, {"reason": "a wrong csrf", "csrf": "x" * len(csrf)}),
                          ({"Cookie": "desk_session=forged"}, {"reason": "a forged session", "csrf": csrf}),
                          ({"Cookie": jar, "Origin": "http://attacker.example"}, {"reason": "cross-site", "csrf": csrf})):
        status, body, _ = post(served.url + "api/do/halt", form, headers)
        assert (status, "refused" in body["error"]) == (403, True) or (status, body["error"]) == (401, "log in first "
                                                                                                        "(/login)"), form
    status, _ = get(served.url + f"api/do/halt?reason=get&csrf={csrf}", {"Cookie": jar})
    assert status == 405
    assert not halted(act_home)
    assert store_fingerprint(act_home / "desk.sqlite") == before


def test_a_reader_reads_but_the_core_refuses_them_an_action_and_audits_it(served, act_home):
    from memory.store import Store

    jar, csrf = login(served.url, READER)
    status, body, _ = post(served.url + "api/do/halt", {"reason": "reader tries", "csrf": csrf}, {"Cookie": jar})
    assert status == 403 and "only operators may `halt`" in body["error"] and READER in body["error"]
    assert not halted(act_home)
    store = Store(act_home / "desk.sqlite")
    try:
        refused = [a for a in store.audit_log(10) if a.action == "refused"]
    finally:
        store.close()
    assert refused and refused[0].actor == f"web:{READER}"


def test_an_operator_halts_and_resumes_from_the_page_through_the_core(served, act_home, tmp_path):
    from selenium.webdriver.common.by import By

    from memory.store import Store
    from tests.dashboard_kit import shots_dir

    need_browser()
    driver = chromium()
    try:
        driver.get(served.url)
        wait_for(lambda: "/login" in driver.current_url)
        driver.find_element(By.NAME, "member").send_keys(OPERATOR)
        driver.find_element(By.NAME, "token").send_keys(TOKEN)
        driver.find_element(By.CSS_SELECTOR, "form button").click()
        wait_for(lambda: driver.current_url.rstrip("/") == served.url.rstrip("/"))
        open_page(driver, served.url)
        assert OPERATOR in driver.find_element(By.ID, "who").text
        form = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, 'form[data-action="halt"]'))[0]
        form.find_element(By.NAME, "reason").send_keys("drill from the page")
        form.find_element(By.TAG_NAME, "button").click()
        wait_for(lambda: driver.find_element(By.ID, "state").text == "HALTED: drill from the page")
        assert halted(act_home)
        driver.find_element(By.ID, "panel-status").screenshot(str(shots_dir(tmp_path) / "panel-status-actions.png"))
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, 'form[data-action="resume"] button'))[0].click()
        wait_for(lambda: driver.find_element(By.ID, "state").text == "trading")
        assert not halted(act_home)
        assert console_errors(driver) == []
    finally:
        driver.quit()
    store = Store(act_home / "desk.sqlite")
    try:
        overrides = [a for a in store.audit_log(20) if a.action == "override"]
    finally:
        store.close()
    assert {(a.actor, (a.target or "").split()[0]) for a in overrides[:2]} == {(f"web:{OPERATOR}", "halt"),
                                                                               (f"web:{OPERATOR}", "resume")}


def test_actions_are_off_unless_configured(act_home):
    with desk_serve(act_home, _env(act_home)) as s:
        jar, csrf = login(s.url, OPERATOR)
        status, body, _ = post(s.url + "api/do/halt", {"reason": "off", "csrf": csrf}, {"Cookie": jar})
        assert status == 403 and "dashboard.actions" in body["error"]
        status, session = get(s.url + "api/session", {"Cookie": jar})
        assert session["actions"] is False
    assert not halted(act_home)


def test_too_many_refused_logins_close_the_door_for_a_while(act_home):
    with desk_serve(act_home, _env(act_home)) as s:
        for _ in range(5):
            assert login(s.url, OPERATOR, "guess") == (None, None)
        assert login(s.url, OPERATOR) == (None, None)  # the right token, but the door is closed for a minute
    assert os.environ.get("DESK_DASHBOARD__TOKEN") is None


def test_an_operator_vetoes_an_entry_then_approves_the_paused_morning_from_the_dashboard(seeded_home, tmp_path):
    from desk.actor import Actor
    from desk.config import load_settings
    from desk.core.core import Core
    from memory.store import Store

    home = clone_home(seeded_home, tmp_path / "home")
    approval = {"DESK_EXECUTION__REQUIRE_APPROVAL": "true"}
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("DESK_"):
                mp.delenv(key)
        for key, value in approval.items():
            mp.setenv(key, value)
        paused = Core(load_settings(home=home)).execute("run", {"phase": "all", "date": "2022-12-21"},
                                                        Actor(who="test", via="cli"))
    assert paused.status == "paused", paused.reason  # type: ignore[attr-defined]  # a RunResult
    run_id = paused.morning.run_id  # type: ignore[attr-defined]  # the paused morning
    store = Store(home / "desk.sqlite")
    try:
        entries = [i for i in store.intents(status="pending") if i.side == "buy"]
    finally:
        store.close()
    assert len(entries) >= 2, "the night planned entries to veto one of"
    with desk_serve(home, _env(home, DESK_DASHBOARD__ACTIONS="true", **approval)) as s:
        jar, csrf = login(s.url, OPERATOR)
        status, paused_shown = get(s.url + "api/status", {"Cookie": jar})
        assert [p["run_id"] for p in paused_shown["paused"]] == [run_id]
        status, body, _ = post(s.url + "api/do/veto", {"intent": entries[0].intent_id, "reason": "<b>not</b> today",
                                                       "csrf": csrf}, {"Cookie": jar})
        assert status == 200 and body["actor"] == f"web:{OPERATOR}" and body["action"] == "veto", body
        status, body, _ = post(s.url + "api/do/approve", {"run": run_id, "csrf": csrf}, {"Cookie": jar})
        assert status == 202 and body["accepted"] == "approve"

        def finished() -> bool:
            st = Store(home / "desk.sqlite")
            try:
                run = st.run(run_id)
                return run is not None and run.status == "ok"
            finally:
                st.close()

        wait_for(finished, 120, 0.2)
    store = Store(home / "desk.sqlite")
    try:
        vetoed = store.intent(entries[0].intent_id)
        approved = store.intent(entries[1].intent_id)
        overrides = {(a.actor, (a.target or "").split()[0]) for a in store.audit_log(20) if a.action == "override"}
    finally:
        store.close()
    assert vetoed is not None and vetoed.status != "filled" and "veto" in (vetoed.status_reason or "")
    assert approved is not None and approved.status == "filled"
    assert {(f"web:{OPERATOR}", "veto"), (f"web:{OPERATOR}", "approve")} <= overrides
