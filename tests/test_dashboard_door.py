"""The dashboard's door without a browser or a port: what it refuses before anything reaches the core."""

from __future__ import annotations

import pytest

from desk.dashboard.app import MAX_STREAMS, Dashboard, Request


@pytest.fixture
def board(desk_home):
    from desk.config import load_settings
    from desk.core.core import Core

    settings = load_settings(home=desk_home)
    d = Dashboard(settings, lambda: Core(settings), host="127.0.0.1", warm=False)
    yield d
    d.close()


def get(board: Dashboard, target: str, **headers: str):
    return board.handle(Request("GET", target, {"Host": "127.0.0.1:8080", **headers}))


def test_only_the_page_s_own_files_are_served(board):
    assert get(board, "/static/dashboard.js").status == 200
    for bad in ("/static/../app.py", "/static/..%2fapp.py", "/static/auth.py", "/static/"):
        assert get(board, bad).status == 404, bad


def test_paths_the_dashboard_does_not_own_are_left_to_the_port(board):
    assert get(board, "/health") is None and get(board, "/metrics") is None and get(board, "/favicon.ico") is None


def test_open_event_streams_are_counted_until_closed_and_capped(board):
    opened = get(board, "/api/events")
    assert opened.status == 200 and board.watcher.listeners == 1
    opened.body.close()  # type: ignore[union-attr]  # a Stream
    opened.body.close()  # type: ignore[union-attr]  # closing twice counts once
    assert board.watcher.listeners == 0
    board.watcher.listeners = MAX_STREAMS
    refused = get(board, "/api/events")
    assert refused.status == 503 and b"pages already listen" in refused.body  # type: ignore[operator]  # bytes


def test_actions_logout_and_unknown_paths_are_refused_without_a_session(board):
    post = lambda path, body=b"": board.handle(Request("POST", path, {"Host": "127.0.0.1:8080"}, body))
    assert post("/api/do/halt", b"reason=x").status == 403
    assert post("/api/do/flatten", b"target=all").status == 404  # not a dashboard action at all
    assert post("/logout").status == 403
    assert get(board, "/api/do/halt").status == 405
    assert get(board, "/api/ask?question=hi").status == 404  # an LLM's answer is not a panel
    assert get(board, "/api/replay").status == 404  # nor a command-line job


def test_every_response_carries_the_page_s_security_headers(board):
    got = get(board, "/")
    assert "script-src 'self'" in got.headers["Content-Security-Policy"]
    assert got.headers["X-Content-Type-Options"] == "nosniff"


def test_the_page_reads_health_and_the_schedule_without_a_503(desk_home):
    import json

    from desk.config import load_settings
    from desk.core.core import Core

    settings = load_settings(home=desk_home)
    health = {"status": "attention", "reasons": ["data 3 sessions old"],
              "scheduler": {"running": True, "next": {"night": "2026-12-07T22:00:00-05:00"}}}
    d = Dashboard(settings, lambda: Core(settings), host="127.0.0.1", warm=False, health=lambda: (503, health))
    try:
        got = get(d, "/api/health")
    finally:
        d.close()
    assert got.status == 200 and json.loads(got.body) == {**health, "http_status": 503}  # type: ignore[arg-type]  # bytes
