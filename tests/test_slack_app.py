"""The Slack transport through a real `desk serve` HTTP port: Bolt's HTTP mode with signed requests (a forged
signature and a stale timestamp are refused), the slash command answered within Slack's 3 seconds, long commands
acknowledged first and answered in a thread, mentions, approval buttons, unauthorised users; Socket Mode's
dispatch; /health and /metrics."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from urllib.parse import urlencode

import pytest
from slack_bolt.request import BoltRequest

from desk.core.core import Core
from desk.serve.main import Serve
from desk.slack.app import SlackCommands, build_app
from desk.slack.sender import web_client
from memory.overrides import Overrides
from tests import kit
from tests.slack_kit import (CHANNEL, OPERATOR, READER, STRANGER, FakeSlack, blocks_text, post_signed, settings)

NIGHT = date(2017, 3, 1)


@pytest.fixture
def fake():
    f = FakeSlack().start()
    yield f
    f.stop()


@pytest.fixture
def serve(home, fake):
    s = settings(home, fake, slack={"mode": "http"})
    server = Serve(s, host="127.0.0.1", port=0, scheduler=False).start()
    server.url = f"http://127.0.0.1:{server.port.port}"
    yield server
    server.stop()


def _slash(fake, text: str, user: str = OPERATOR, channel: str = CHANNEL) -> str:
    return urlencode({"token": "legacy", "team_id": "TDESK", "channel_id": channel, "user_id": user,
                      "command": "/desk", "text": text, "response_url": fake.response_url, "trigger_id": "t1"})


def _until(check: Callable[[], object], seconds: float = 120.0):
    """Wait (bounded, without sleeping the thread blind) until ``check()`` is truthy."""
    tick = threading.Event()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        got = check()
        if got:
            return got
        tick.wait(0.05)
    raise AssertionError("timed out")


def test_a_signed_slash_command_is_answered_in_its_acknowledgement_within_3_seconds(serve, fake):
    status, body, seconds = post_signed(serve.url + "/slack/events", _slash(fake, "status", user=READER))
    assert status == 200 and seconds < 3.0
    answer = json.loads(body)
    assert answer["response_type"] == "in_channel" and "ATTENTION — stale data: data ends 2022-12-28" in \
        blocks_text(answer)  # the bundled history, years behind the calendar: never "running"


def test_a_forged_signature_and_a_stale_timestamp_are_refused_and_change_nothing(serve, fake, home):
    before = kit.store_fingerprint(home)
    body = _slash(fake, "halt forged")
    assert post_signed(serve.url + "/slack/events", body, forge=True)[0] == 401
    assert post_signed(serve.url + "/slack/events", body, timestamp=int(time.time()) - 600)[0] == 401
    unsigned = urllib.request.Request(serve.url + "/slack/events", data=body.encode(), method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(unsigned, timeout=10)
    assert err.value.code == 401
    assert kit.store_fingerprint(home) == before
    assert not kit.open_store(home).desk_state().halted


def test_an_unauthorised_user_is_refused_with_a_message_and_the_attempt_is_audited(serve, fake, home):
    status, body, _ = post_signed(serve.url + "/slack/events", _slash(fake, "halt <!channel> sell everything",
                                                                      user=STRANGER))
    answer = json.loads(body)
    assert status == 200 and answer["response_type"] == "ephemeral"
    assert "only operators may `halt`" in blocks_text(answer) and "<!channel>" not in body
    store = kit.open_store(home)
    assert not store.desk_state().halted
    [row] = [a for a in store.audit_log() if a.action == "refused"]
    assert row.actor == "slack:USTRANGER1" and row.target == "halt"


def test_an_operators_halt_takes_effect_and_is_echoed_in_the_channel(serve, fake, home):
    status, body, _ = post_signed(serve.url + "/slack/events", _slash(fake, "halt CPI print at 8:30"))
    assert status == 200 and "halt desk by slack:UOPERATOR1" in blocks_text(json.loads(body))
    assert kit.open_store(home).desk_state().reason == "CPI print at 8:30"
    echo = _until(lambda: [p for p in fake.posts() if "override: halt desk" in p["text"]])
    assert "effect: new entries are blocked" in blocks_text(echo[0])


def test_a_long_command_is_acknowledged_at_once_and_answered_in_a_thread(serve, fake, home):
    status, body, seconds = post_signed(serve.url + "/slack/events", _slash(fake, f"run night {NIGHT}"))
    assert status == 200 and seconds < 3.0 and "working on it" in blocks_text(json.loads(body))

    def answered():
        return [p for p in fake.posts() if p.get("thread_ts") and "night 2017-03-01: ran" in blocks_text(p)]

    [reply] = _until(answered)
    top = next(p for p in fake.posts() if "run night 2017-03-01 — asked by UOPERATOR1" in blocks_text(p))
    assert top.get("thread_ts") is None
    assert kit.open_store(home).runs(kind="night", limit=1)[0].status == "ok"


def test_a_slash_command_is_acknowledged_within_3_seconds_while_a_graph_runs(serve, fake, home):
    post_signed(serve.url + "/slack/events", _slash(fake, f"run night {NIGHT}"))
    _until(lambda: kit.open_store(home).runs(kind="night", limit=1))  # the night has started
    timings = [post_signed(serve.url + "/slack/events", _slash(fake, "positions", user=READER))
               for _ in range(5)]
    assert all(status == 200 and seconds < 3.0 for status, _, seconds in timings)


def test_a_mention_is_answered_in_its_thread(serve, fake):
    event = {"type": "event_callback", "team_id": "TDESK", "api_app_id": "ADESK", "event_id": "Ev1",
             "event_time": int(time.time()), "event": {"type": "app_mention", "user": READER,
                                                        "text": "<@UDESKBOT> runs 3", "ts": "1700000000.000200",
                                                        "channel": CHANNEL, "event_ts": "1700000000.000200"}}
    status, _, seconds = post_signed(serve.url + "/slack/events", json.dumps(event), content_type="application/json")
    assert status == 200 and seconds < 3.0
    reply = _until(lambda: [p for p in fake.posts() if p.get("thread_ts") == "1700000000.000200"])
    assert "Latest runs" in blocks_text(reply[0])


def test_the_approve_button_resumes_a_paused_morning_and_a_strangers_click_is_refused(home, fake):
    s = settings(home, fake, slack={"mode": "http"}, execution={"require_approval": True})
    d = kit.desk(home, checkpointing=True, settings={"execution": {"require_approval": True}})
    d.night(NIGHT)
    run_id = d.morning(NIGHT)["run_id"]
    server = Serve(s, host="127.0.0.1", port=0, scheduler=False).start()
    url = f"http://127.0.0.1:{server.port.port}/slack/events"
    try:
        def click(user: str, action_id: str, value: str) -> int:
            payload = {"type": "block_actions", "user": {"id": user}, "team": {"id": "TDESK"},
                       "api_app_id": "ADESK", "token": "legacy", "trigger_id": "t", "channel": {"id": CHANNEL},
                       "container": {"type": "message", "message_ts": "1005.000100", "channel_id": CHANNEL},
                       "message": {"ts": "1005.000100"}, "response_url": fake.response_url,
                       "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": value,
                                    "action_ts": "1"}]}
            status, _, seconds = post_signed(url, urlencode({"payload": json.dumps(payload)}))
            assert seconds < 3.0
            return status

        assert click(STRANGER, "desk_approve", run_id) == 200
        refused = _until(lambda: [c for c in fake.calls if c.method.startswith("response")])
        assert "only operators may `approve`" in json.dumps(refused[0].args)
        assert kit.open_store(home).run(run_id).status == "paused"
        entries = [i.intent_id for i in Overrides(d.store).approval(run_id).intents if i.side == "buy"]
        assert click(OPERATOR, "desk_veto:0", entries[0]) == 200
        _until(lambda: Overrides(kit.open_store(home)).vetoes([entries[0]]))
        assert click(OPERATOR, "desk_approve", run_id) == 200
        _until(lambda: kit.open_store(home).run(run_id).status == "ok")
        store = kit.open_store(home)
        assert store.intent(entries[0]).status == "vetoed"
        assert Overrides(store).approval(run_id).actor == "slack:UOPERATOR1"
        _until(lambda: [p for p in fake.posts() if p.get("thread_ts") == "1005.000100"])
    finally:
        server.stop()


def test_socket_mode_dispatches_the_same_commands(home, fake):
    s = settings(home, fake, slack={"mode": "socket"})
    worker = ThreadPoolExecutor(1)
    app = build_app(s, SlackCommands(s, Core(s), web_client(s.slack), worker))
    body = {"token": "legacy", "team_id": "TDESK", "channel_id": CHANNEL, "user_id": READER, "command": "/desk",
            "text": "status", "response_url": fake.response_url, "trigger_id": "t1"}
    resp = app.dispatch(BoltRequest(body=body, mode="socket_mode"))
    assert resp.status == 200 and "ATTENTION \\u2014 stale data" in resp.body
    body["user_id"], body["text"] = STRANGER, "resume"
    resp = app.dispatch(BoltRequest(body=body, mode="socket_mode"))
    assert "only operators may `resume`" in resp.body
    worker.shutdown()


def test_health_and_metrics(serve, fake, home):
    kit.desk(home, checkpointing=True).night(NIGHT)
    kit.open_store(home).set_halted(True, "drill", "test")
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(serve.url + "/health", timeout=10)
    health = json.loads(answer.value.read())
    assert answer.value.code == 503 and health["status"] == "attention" and health["halted"] is True
    assert health["slack"]["mode"] == "http" and "desk halted: drill" in health["reasons"][0]
    with urllib.request.urlopen(serve.url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    assert 'desk_runs_total{kind="night",status="ok"} 1.0' in text
    assert "desk_halted 1.0" in text
    assert 'desk_step_duration_seconds_count{node="agents"} 1.0' in text
    assert 'desk_overlay_verdicts_total{fallback="false",provider="rules"}' in text and "desk_llm_calls_total{" not in text
    assert 'desk_outbox_depth{status="pending"}' in text and "desk_paused_runs 0.0" in text
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(serve.url + "/nope", timeout=10)
    assert err.value.code == 404
