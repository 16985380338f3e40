"""`ask` from Slack, end to end (issue 19 item 6): a signed `/desk ask …` to `desk serve`'s Slack endpoint is
acknowledged at once and answered in a thread by the chat agent — a model (the loopback OpenAI server) that calls the
desk's tools (`why`) and answers from what they returned. No agent is injected: the serve process builds it."""

from __future__ import annotations

import json
import threading
import time
from datetime import date
from urllib.parse import urlencode

from desk.serve.main import Serve
from memory.store import Store
from tests import kit
from tests.llm_kit import Reply, ScriptedLLM, Text, ToolCalls
from tests.slack_kit import (
    CHANNEL,
    READER,
    FakeSlack,
    blocks_text,
    post_signed,
    settings,
)

NIGHT = date(2017, 3, 1)


def _until(check, seconds: float = 180.0):
    tick = threading.Event()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        got = check()
        if got:
            return got
        tick.wait(0.05)
    raise AssertionError("timed out")


def test_ask_from_slack_is_answered_by_a_model_that_calls_the_desks_tools(home, monkeypatch):
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    kit.desk(home).night(NIGHT)
    fake = FakeSlack().start()
    with ScriptedLLM() as llm:
        for k, v in llm.env("openai").items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("DESK_LLM__PROVIDER", "openai")
        llm.push(Reply(body=ToolCalls((("why", {"target": "XOM"}),))),
                 Reply(body=Text("XOM: the agents and the overlay agreed; the rules clipped its size.")))
        server = Serve(settings(home, fake, slack={"mode": "http"}), host="127.0.0.1", port=0,
                       scheduler=False).start()
        try:
            body = urlencode({"token": "legacy", "team_id": "TDESK", "channel_id": CHANNEL, "user_id": READER,
                              "command": "/desk", "text": "ask why did we buy XOM?",
                              "response_url": fake.response_url, "trigger_id": "t1"})
            status, ack, seconds = post_signed(f"http://127.0.0.1:{server.port.port}/slack/events", body)
            assert status == 200 and seconds < 3.0 and "working on it" in blocks_text(json.loads(ack))
            [reply] = _until(lambda: [p for p in fake.posts() if p.get("thread_ts")
                                      and "the agents and the overlay agreed" in blocks_text(p)])
        finally:
            server.stop()
            fake.stop()
        assert "tools: why" in blocks_text(reply)
        told = llm.requests[1].text  # the tool's answer went back to the model, from the store, as data
        assert "<data>" in told and "XOM" in told
    assert [c.role for c in Store(home / "desk.sqlite").llm_calls()] == ["chat", "chat"]
