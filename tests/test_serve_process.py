"""`desk serve` as an operator starts it: a process with Slack in HTTP mode; SIGTERM while a graph runs lets the
graph finish (its run recorded ok, nothing left running), then the process exits 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests import kit
from tests.slack_kit import (BOT_TOKEN, CHANNEL, OPERATOR, SIGNING_SECRET, FakeSlack, post_signed)
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]


def test_sigterm_lets_a_running_graph_finish_then_serve_exits(home):
    fake = FakeSlack().start()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("DESK_", "SLACK_"))},
           "DESK_HOME": str(home), "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
           "DESK_SLACK__CHANNEL": CHANNEL, "DESK_SLACK__MODE": "http", "DESK_SLACK__API_URL": fake.api_url,
           "DESK_SLACK__OPERATORS": json.dumps([OPERATOR])}
    proc = subprocess.Popen([sys.executable, "-m", "desk.cli", "serve", "--http-port", "0", "--no-scheduler"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "desk serve: http://127.0.0.1:" in line, proc.stderr.read() if proc.poll() is not None else line
        base = line.split()[2].removesuffix("/health")
        body = urlencode({"team_id": "TDESK", "channel_id": CHANNEL, "user_id": OPERATOR, "command": "/desk",
                          "text": "run night 2017-03-01", "response_url": fake.response_url, "trigger_id": "t"})
        status, _, seconds = post_signed(base + "/slack/events", body)
        assert status == 200 and seconds < 3.0
        store = kit.open_store(home)
        tick, end = threading.Event(), time.monotonic() + 120
        while not store.runs(kind="night", limit=1) and time.monotonic() < end:
            tick.wait(0.02)
        [run] = store.runs(kind="night", limit=1)
        proc.send_signal(signal.SIGTERM)  # mid-graph
        try:
            out, err = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:   # say where it stood: the run's record and steps, and what serve printed
            proc.kill()
            out, err = proc.communicate()
            steps = [(s.node, s.status) for s in store.steps(run.run_id)][-5:]
            pytest.fail(f"desk serve did not exit 300 s after SIGTERM; run {store.run(run.run_id).status}, "
                        f"last steps {steps}; stdout {out[-500:]!r}; stderr {err[-1500:]!r}")
        assert proc.returncode == 0, err
        assert "stopping" in out
        assert store.run(run.run_id).status == "ok" and not store.runs(status="running")
    finally:
        if proc.poll() is None:
            proc.kill()
        fake.stop()
