"""One command core behind every door: the command line (`desk X --json`), `desk ops X`, and the Slack app give the
same result for the same command; an override is audited and echoed to Slack whichever door it came through; a
refused override says who and why; `ask` works from Slack and `desk ops` with a chat model that calls tools."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from desk.actor import Actor
from desk.core.catalog import CHAT_COMMANDS, COMMANDS
from desk.core.core import Core
from desk.core.render import render
from desk.core.text import parse, run_line
from desk.slack.app import SlackCommands
from desk.slack.format import esc
from desk.slack.sender import web_client
from tests import kit
from tests.llm_kit import Reply, ScriptedLLM, Text, ToolCalls
from tests.slack_kit import (BOT_TOKEN, CHANNEL, OPERATOR, READER, STRANGER, FakeSlack, blocks_text, settings,
                             slack_section)

NIGHT = date(2017, 3, 1)


@pytest.fixture
def fake():
    f = FakeSlack().start()
    yield f
    f.stop()


@pytest.fixture
def slack_env(home, fake, monkeypatch):
    """The command line's environment pointed at the fake Slack, as an operator's desk.toml would be."""
    section = slack_section(fake)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    for key in ("channel", "api_url"):
        monkeypatch.setenv(f"DESK_SLACK__{key.upper()}", section[key])
    for key in ("operators", "readers"):
        monkeypatch.setenv(f"DESK_SLACK__{key.upper()}", json.dumps(section[key]))
    return fake


@pytest.fixture
def night(home):
    d = kit.desk(home, checkpointing=True)
    out = d.night(NIGHT)
    d.morning(NIGHT)
    return out


def _cli_json(capsys, *args: str) -> dict:
    code, out, err = kit.run_cli(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def _slack(s, text: str, user: str = READER, channel: str = CHANNEL) -> str:
    worker = ThreadPoolExecutor(1)
    try:
        request, answer = SlackCommands(s, Core(s), web_client(s.slack), worker).quick_or_long(text, user, channel)
    finally:
        worker.shutdown()
    assert request is None, f"{text} is answered at once"
    return blocks_text(answer)


@pytest.mark.parametrize("line, argv", [
    ("status", ("status",)), ("why {sym}", ("why", "{sym}")), ("agents", ("agents",)), ("runs 4", None),
    ("intents", None), ("positions", None), ("pnl", None), ("weather", None),
])
def test_each_door_gives_the_same_result_for_the_same_command(night, home, capsys, fake, line, argv):
    sym = night["intents"][0].symbol
    line = line.format(sym=sym)
    by_ops = _cli_json(capsys, "ops", *line.split())
    if argv is not None:
        assert _cli_json(capsys, *(a.format(sym=sym) for a in argv)) == by_ops
    request = parse(line)
    core = Core(settings(home, fake))
    result = core.execute(request.name, request.args, Actor(who=READER, via="slack"))
    assert json.loads(result.model_dump_json()) == by_ops
    said = _slack(settings(home, fake), line)
    shown = render(result)
    assert esc(shown.title) in said and all(esc(ln) in said for ln in shown.lines)


def test_every_chat_command_and_its_json_schema_is_in_the_one_catalog():
    for name in CHAT_COMMANDS:
        cmd = COMMANDS[name]
        schema = cmd.args.model_json_schema()
        assert schema["type"] == "object" and cmd.usage.split()[0] == name
        for field in (*cmd.words, *([cmd.rest] if cmd.rest else [])):
            assert field in schema.get("properties", {}), f"{name}: {field}"


def test_desk_halt_from_the_cli_is_audited_and_echoed_to_slack_like_desk_ops_halt(home, capsys, slack_env):
    fake = slack_env
    kit.run_cli(capsys, "status")  # the store exists
    by_cli = _cli_json(capsys, "halt", "--reason", "fed day <!channel>")
    assert by_cli["action"] == "halt" and by_cli["actor"].startswith("cli:")
    _cli_json(capsys, "resume")
    by_ops = _cli_json(capsys, "ops", "halt", "fed", "day", "<!channel>")
    assert {k: v for k, v in by_cli.items() if k != "at"} == {k: v for k, v in by_ops.items() if k != "at"}
    rows = [a for a in kit.open_store(home).audit_log() if a.action == "override"]
    assert [r.target for r in rows] == ["halt desk", "resume desk", "halt desk"]
    assert all(r.payload["via"] == "cli" for r in rows)
    echoes = [blocks_text(p) for p in fake.posts()]
    halts = [e for e in echoes if "halt desk by cli:" in e]
    assert len(halts) == 2 and all("fed day &lt;!channel&gt;" in e for e in halts)  # escaped, never a mention
    assert any("resume desk by cli:" in e for e in echoes)


def test_a_refused_override_says_who_and_why_at_every_door_and_is_audited(home, fake):
    s = settings(home, fake)
    said = _slack(s, "halt nope", user=STRANGER)
    assert "refused: only operators may `halt`: USTRANGER1 is not in slack.operators" in said
    with pytest.raises(Exception, match="only operators may `flatten`: UREADER01 is not in slack.operators"):
        run_line(Core(s), "flatten all", Actor(who=READER, via="web"))
    refused = [(a.actor, a.target) for a in kit.open_store(home).audit_log() if a.action == "refused"]
    assert refused == [("web:UREADER01", "flatten"), ("slack:USTRANGER1", "halt")]
    assert not kit.open_store(home).desk_state().halted


def test_a_command_line_job_is_not_served_to_chat(home, fake):
    with pytest.raises(Exception, match="`replay` is not served to slack"):
        Core(settings(home, fake)).execute("replay", {"start": "2017-01-03", "end": "2017-01-10"},
                                           Actor(who=OPERATOR, via="slack"))


@pytest.fixture
def llm(monkeypatch):
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    with ScriptedLLM() as server:
        for k, v in server.env("openai").items():
            monkeypatch.setenv(k, v)
        yield server


def test_ask_from_desk_ops_and_from_slack_calls_the_record_tools_of_a_real_chat_model(night, home, capsys, fake,
                                                                                        llm, monkeypatch):
    monkeypatch.setenv("DESK_LLM__PROVIDER", "openai")
    target = night["intents"][0]
    llm.push(Reply(body=ToolCalls((("why", {"target": target.symbol}),))), Reply(body=Text("Because of the trend.")))
    by_ops = _cli_json(capsys, "ops", "ask", "why", "did", "we", "buy", f"{target.symbol}?")
    assert by_ops["answer"] == "Because of the trend." and by_ops["tools_used"] == ["why"]
    assert target.intent_id in llm.requests[1].text  # the tool read the reason chain from the store

    s = settings(home, fake)
    llm.push(Reply(body=ToolCalls((("intents", {"symbol": target.symbol}),))), Reply(body=Text("One entry.")))
    worker = ThreadPoolExecutor(1)
    commands = SlackCommands(s, Core(s), web_client(s.slack), worker)
    request, ack = commands.quick_or_long(f"ask what did we do in {target.symbol}?", READER, CHANNEL)
    assert request is not None and "working on it" in blocks_text(ack)
    commands.long(request, READER, CHANNEL, "1000.000100")
    worker.shutdown(wait=True)
    answers = [blocks_text(p) for p in fake.posts() if p.get("thread_ts") == "1000.000100"]
    assert any("One entry." in a and "tools: intents" in a for a in answers)
    assert [c.role for c in kit.open_store(home).llm_calls()] == ["chat"] * 4


def test_a_jobs_private_arguments_never_reach_the_audit_log(home, fake, monkeypatch):
    import desk.store_copy as store_copy
    from memory.copy import StoreCopy

    monkeypatch.setattr(store_copy, "store_copy_command", lambda ctx, args: StoreCopy(
        source="desk.sqlite", target="postgresql://desk@db/desk", rows={}, checkpoints=0, replaced=False))
    Core(settings(home, fake)).execute("store_copy", {"to": "postgresql://desk:hunter2@db/desk"}, Actor.local())
    rows = kit.open_store(home).audit_log()
    assert rows[0].action == "store_copy" and "hunter2" not in json.dumps([r.model_dump(mode="json") for r in rows])
