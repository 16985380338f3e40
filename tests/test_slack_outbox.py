"""The Slack reporter and its outbox (ARCHITECTURE.md: invariant 7): one parent message per run, every step a reply in
its thread, the parent updated at the end; Slack down → the run completes and the outbox drains later; 429 honours
Retry-After; a 500 backs off; nothing secret or hostile reaches Slack as markup."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from desk.config import load_settings
from desk.slack import wiring
from desk.slack.reporter import SlackOutbox, SlackReporter
from desk.slack.sender import OutboxSender, web_client
from graph.night import NIGHT_NODES
from graph.redact import Redactor
from memory.outbox import Outbox
from tests import kit
from tests.kit import run_cli
from tests.slack_kit import BOT_TOKEN, CHANNEL, FakeSlack, blocks_text
from tests.slack_kit import settings as slack_settings

NIGHT = date(2017, 3, 1)
STEPS = len(NIGHT_NODES)  # one threaded reply per node; a run adds its parent message and the parent's update


def settings(home, fake=None, *, slack=None, **sections):
    """These tests count every step's reply: the thread carries them all (slack.all_steps)."""
    return slack_settings(home, fake, slack={"all_steps": True, **(slack or {})}, **sections)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(seconds=1)  # rows written before the clock is made are due

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def fake():
    f = FakeSlack().start()
    yield f
    f.stop()


def _sender(home, s, clock) -> OutboxSender:
    return OutboxSender(kit.open_store(home), web_client(s.slack), s.slack, clock=clock,
                        redact=wiring.redactor(s))


def _night(home, s):
    return kit.desk(home, checkpointing=True, reporters=wiring.reporters(s)).night(NIGHT)


def test_a_run_is_one_parent_message_with_every_step_threaded_and_a_final_summary(home, fake):
    s = settings(home, fake)
    out = _night(home, s)
    got = wiring.flush(s, timeout=5)
    assert got.waiting == 0 and got.dead == 0
    posts = fake.posts()
    parent, replies = posts[0], posts[1:]
    assert parent["channel"] == CHANNEL and "thread_ts" not in parent and "night 2017-03-01" in parent["text"]
    parent_ts = "1001.000100"
    steps = [r for r in replies if r.get("thread_ts") == parent_ts]
    assert len(steps) == len(replies) == STEPS  # every node of the night, in its thread
    assert [blocks_text(r).split("\n")[0].split(":")[0] for r in steps][:3] == ["ingest", "validate_data", "features"]
    assert all(not r.get("reply_broadcast") for r in steps)  # steps are silent by default
    [final] = fake.posts("chat.update")
    assert final["ts"] == parent_ts and "— ok" in blocks_text(final)
    assert f"regime {out['regime']}" in blocks_text(final)


def test_slack_down_the_run_completes_and_the_outbox_drains_when_it_is_back(home, fake):
    s = settings(home, fake)
    fake.stop()  # nothing listens: connection refused
    out = _night(home, s)
    clock = Clock()  # after the night: every row it wrote is due
    assert kit.open_store(home).run(out["run_id"]).status == "ok"
    sender = _sender(home, s, clock)
    first = sender.drain()
    assert first.sent == 0 and first.waiting == STEPS + 2 and "Slack unreachable" in first.errors[0]
    again = sender.drain()  # before the backoff is over nothing is tried
    assert again.sent == 0 and again.errors == []
    fake.start()  # back, on the same port
    clock.advance(3600)
    done = sender.drain()
    assert done.sent == STEPS + 2 and done.waiting == 0
    replies = fake.posts()[1:]
    assert all(r.get("thread_ts") == "1001.000100" for r in replies)  # order and threading kept


def test_a_429_is_honoured_nothing_is_sent_before_retry_after(home, fake):
    s = settings(home, fake)
    clock = Clock()
    box = SlackOutbox(kit.open_store(home), s.slack, Redactor())
    for n in range(3):
        box.post("run", {"text": f"m{n}", "blocks": []}, key=f"k{n}")
    fake.rate_limit(times=1, retry_after=7)
    sender = _sender(home, s, clock)
    got = sender.drain()
    assert got.sent == 0 and got.waiting == 3 and "retry after 7 s" in got.errors[0]
    calls = len(fake.calls)
    clock.advance(6.5)
    assert sender.drain().sent == 0 and len(fake.calls) == calls  # Slack asked for 7 s: not one call before
    clock.advance(1)
    assert sender.drain().sent == 3
    assert [p["text"] for p in fake.posts()] == ["m0", "m1", "m2"]


def test_a_429_storm_never_loses_or_duplicates_a_message(home, fake):
    s = settings(home, fake)
    clock = Clock()
    box = SlackOutbox(kit.open_store(home), s.slack, Redactor())
    for n in range(5):
        box.post("run", {"text": f"m{n}", "blocks": []}, key=f"k{n}")
    sender = _sender(home, s, clock)
    for _ in range(6):  # every other call is refused
        fake.rate_limit(times=1, retry_after=2)
        sender.drain()
        clock.advance(2)
    sender.drain()
    assert [p["text"] for p in fake.posts()] == ["m0", "m1", "m2", "m3", "m4"]


def test_a_server_error_backs_off_exponentially_and_then_delivers(home, fake):
    s = settings(home, fake)
    clock = Clock()
    SlackOutbox(kit.open_store(home), s.slack, Redactor()).post("run", {"text": "hello", "blocks": []},
                                                                         key="k")
    fake.fail(times=3, status=500)
    sender = _sender(home, s, clock)
    waits = []
    for _ in range(3):
        got = sender.drain()
        assert got.sent == 0 and "HTTP 500" in got.errors[0]
        waits.append((got.retry_at - clock()).total_seconds())
        clock.now = got.retry_at
    assert waits[0] < waits[1] < waits[2] <= s.slack.retry_max_seconds
    assert sender.drain().sent == 1


def test_a_message_slack_refuses_for_good_is_dead_with_its_reason_and_the_rest_goes_on(home, fake):
    s = settings(home, fake, slack={"errors_channel": "CNOSUCH"})
    fake.refuse["CNOSUCH"] = "channel_not_found"
    box = SlackOutbox(kit.open_store(home), s.slack, Redactor())
    box.error({"text": "boom", "blocks": []})
    box.post("run", {"text": "fine", "blocks": []}, key="fine")
    got = wiring.flush(s, timeout=5)
    assert (got.sent, got.dead, got.waiting) == (1, 1, 0)
    [dead] = [r for r in Outbox(kit.open_store(home)).rows() if r.status == "dead"]
    assert "channel_not_found" in dead.last_error


def test_a_failed_step_goes_to_the_errors_channel_and_the_thread_broadcast(home, fake):
    s = settings(home, fake, slack={"errors_channel": "CERRORS1"})
    reporter = SlackReporter(kit.open_store(home), s.slack, Redactor())
    reporter.run_started("night-x", "night", "2017-03-01")
    reporter.step("night-x", "agents", "error", "a", "b", "ValueError: model file damaged")
    reporter.run_finished("night-x", "error", "ValueError: model file damaged")
    wiring.flush(s, timeout=5)
    to_errors = [p for p in fake.posts() if p["channel"] == "CERRORS1"]
    assert len(to_errors) == 2 and all("model file damaged" in blocks_text(p) for p in to_errors)
    broadcast = [p for p in fake.posts() if p.get("reply_broadcast")]
    assert broadcast and all(p["thread_ts"] == "1001.000100" for p in broadcast)


def test_levels_off_silent_on_per_message_kind(home, fake):
    s = settings(home, fake, slack={"levels": {"step": "off", "run": "on"}})
    _night(home, s)
    wiring.flush(s, timeout=5)
    assert len(fake.posts()) == 1 and len(fake.posts("chat.update")) == 1  # the parent, no steps
    s2 = settings(home, fake, slack={"levels": {"run": "off", "step": "on"}})
    reporter = SlackReporter(kit.open_store(home), s2.slack, Redactor())
    reporter.run_started("r2", "night", "2017-03-01")
    reporter.step("r2", "ingest", "ok", "a", "b", "20 symbols")
    wiring.flush(s2, timeout=5)
    last = fake.posts()[-1]
    assert "thread_ts" not in last and "ingest" in last["text"]  # no parent: the step stands alone


def test_no_secret_and_no_markup_ever_reaches_slack(home, fake, monkeypatch):
    secret = "sk-live-0123456789abcdefXYZ"
    monkeypatch.setenv("VENDOR_API_KEY", secret)
    s = settings(home, fake)
    reporter = SlackReporter(kit.open_store(home), s.slack, wiring.redactor(s))
    reporter.run_started("r3", "morning", "2017-03-01")
    hostile = (f"broker said token={BOT_TOKEN} key={secret} <!channel> <!here> <@U12345> "
               f"<https://evil.example|approve> `code` *bold*")
    reporter.step("r3", "execute", "error", "a", "b", hostile)
    wiring.flush(s, timeout=5)
    sent = json.dumps([c.args for c in fake.calls if c.method.startswith("chat.")])
    assert BOT_TOKEN not in sent and secret not in sent
    for markup in ("<!channel>", "<!here>", "<@U12345>", "<https://"):
        assert markup not in sent
    assert "&lt;!channel&gt;" in sent
    assert all(p.get("unfurl_links") in (False, "false", None) for p in fake.posts())


def test_desk_run_with_slack_configured_reports_and_says_what_waits_when_slack_is_down(home, fake, capsys,
                                                                                          monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("DESK_SLACK__CHANNEL", CHANNEL)
    monkeypatch.setenv("DESK_SLACK__ALL_STEPS", "true")  # every step counted below
    monkeypatch.setenv("DESK_SLACK__API_URL", fake.api_url)
    fake.stop()
    code, out, err = run_cli(capsys, "run", "--date", "2017-03-01", "--phase", "night")
    assert code == 0, err
    assert "Slack message(s) wait in the outbox" in out and "desk slack flush" in out
    fake.start()
    code, out, err = run_cli(capsys, "slack", "flush")
    assert code == 0 and "0 waiting" in out and len(fake.posts()) == STEPS + 1


def test_slack_settings_take_tokens_from_slacks_own_variables_as_secrets(home, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "abcdef0123456789")
    s = load_settings(home=home, slack={"channel": CHANNEL})
    assert s.slack.enabled and s.slack.bot_token.get_secret_value() == BOT_TOKEN
    assert BOT_TOKEN not in repr(s) and "abcdef0123456789" not in s.model_dump_json()


@pytest.mark.parametrize("key, value, message", [
    ("operators", ["@alice"], "operators are Slack user ids"),
    ("readers", ["#general"], "readers are Slack channel ids"),
    ("levels", {"step": "loud"}, "levels"), ("mode", "carrier-pigeon", "mode"),
])
def test_bad_slack_settings_are_refused_naming_the_key(home, key, value, message):
    from desk.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        load_settings(home=home, slack={key: value})
