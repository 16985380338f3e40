"""Slack operations benchmarks (issue 10): ``python -m desk.slack.bench``.

On a fresh temporary DESK_HOME with Slack pointed at the tests' fake Slack Web API on 127.0.0.1:
  1. the reporter's cost per step: the same night + morning run in-process without and with the Slack reporter
     (which writes the outbox; delivery is the sender's, off the critical path), median of 5 each, interleaved;
  2. read commands through the ops core (what a slash command runs): median and worst of 5 calls each;
  3. a signed ``/desk status`` slash command into ``desk serve``'s HTTP port while a ``desk replay`` runs in another
     process on the same home: the acknowledgement time, median and worst of 10.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

from desk.app import open_desk
from desk.actor import Actor
from desk.core.core import Core
from desk.core.text import parse
from desk.serve.main import Serve
from desk.slack import wiring
from memory.outbox import Outbox
from memory.store import Store, StoreError, open_store
from tests.slack_kit import CHANNEL, OPERATOR, FakeSlack, post_signed, settings

NIGHT = date(2018, 6, 29)
READS = ("status", "positions", "intents", "why XOM", "weather", "agents", "pnl", "runs", "help")


def _run_seconds(s, with_slack: bool) -> tuple[float, int]:
    """One night and morning in-process (fresh checkpoints each time): (seconds, steps reported)."""
    reporters = wiring.reporters(s) if with_slack else []
    desk = open_desk(s, reporters=reporters)
    t0 = time.perf_counter()
    desk.night(NIGHT)
    desk.morning(NIGHT)
    seconds = time.perf_counter() - t0
    steps = sum(len(desk.ctx.store.steps(r.run_id)) for r in desk.ctx.store.runs(limit=2))
    return seconds, steps


def _until_running(store: Path, replay: subprocess.Popen, timeout: float = 300.0) -> None:
    """Wait (bounded) until the replay is past its setup and has finished a night in its own store."""
    tick, end = threading.Event(), time.monotonic() + timeout
    while time.monotonic() < end and replay.poll() is None:
        if store.is_file():
            try:
                opened = Store(store)
                try:
                    if opened.runs(limit=1, status="ok"):
                        return
                finally:
                    opened.close()
            except StoreError:  # the replay is still creating its store
                pass
        tick.wait(0.2)
    raise SystemExit("the replay never started running nights; cannot measure acknowledgements under it")


def main() -> None:
    fake = FakeSlack().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "home"
            s = settings(home, fake, slack={"mode": "http"})
            subprocess.run([sys.executable, "-m", "desk.cli", "run", "--date", NIGHT.isoformat(), "--json"],
                           env={**os.environ, "DESK_HOME": str(home)}, capture_output=True, check=True)
            plain, slack, steps = [], [], 0
            for _ in range(5):
                plain.append(_run_seconds(s, False)[0])
                seconds, steps = _run_seconds(s, True)
                slack.append(seconds)
            per_step_ms = (statistics.median(slack) - statistics.median(plain)) / max(steps, 1) * 1000

            store = open_store(s)
            queued = len(Outbox(store).rows(limit=100_000))
            store.close()
            core = Core(s)
            actor = Actor(who=OPERATOR, via="slack")
            reads = {}
            for text in READS:
                times = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    request = parse(text)
                    core.execute(request.name, request.args, actor, channel=CHANNEL)
                    times.append((time.perf_counter() - t0) * 1000)
                reads[text] = {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}

            server = Serve(s, host="127.0.0.1", port=0, scheduler=False).start()
            replay = subprocess.Popen([sys.executable, "-m", "desk.cli", "replay", "--from", "2017-01-03", "--to",
                                       "2018-12-31", "--json"], env={**os.environ, "DESK_HOME": str(home)},
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                _until_running(home / "replays" / "2017-01-03_2018-12-31" / "desk.sqlite", replay)
                acks = []
                url = f"http://127.0.0.1:{server.port.port}/slack/events"
                body = urlencode({"team_id": "TDESK", "channel_id": CHANNEL, "user_id": OPERATOR, "command": "/desk",
                                  "text": "status", "response_url": fake.response_url, "trigger_id": "t1"})
                for _ in range(10):
                    status, _, seconds = post_signed(url, body)
                    assert status == 200, status
                    acks.append(seconds)
                replay_running = replay.poll() is None
            finally:
                replay.kill()
                replay.wait()
                server.stop()
    finally:
        fake.stop()
    print(json.dumps({
        "run_seconds_median": {"without_slack": round(statistics.median(plain), 3),
                               "with_slack": round(statistics.median(slack), 3)},
        "steps_per_run_pair": steps, "outbox_messages_written": queued,
        "reporter_ms_per_step": round(per_step_ms, 2),
        "read_commands": reads,
        "slash_ack_seconds_under_replay": {"median": round(statistics.median(acks), 3), "max": round(max(acks), 3),
                                           "replay_still_running": replay_running},
        "cpu_count": os.cpu_count(),
    }, indent=2))


if __name__ == "__main__":
    main()
