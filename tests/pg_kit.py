"""A real PostgreSQL server for the tests, and fresh databases on it.

``.ci/run`` starts one server for the whole run and exports its URL as ``DESKTEST_PG_URL``; without it, the first
test that needs one starts a server of its own in a temporary folder when ``initdb`` and ``pg_ctl`` are on PATH
(as the ``postgres`` user when the tests run as root: initdb refuses root), stopped when the tests end. In CI
(``CI=true``) a missing server fails the tests that need it instead of skipping them.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

ENV_URL = "DESKTEST_PG_URL"
_started: dict[str, str] = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def start_server() -> tuple[str, Path]:
    """initdb + pg_ctl on a free loopback port in a new temporary folder; (its URL, the folder)."""
    folder = Path(tempfile.mkdtemp(prefix="desk-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data, port = folder / "data", _free_port()
    subprocess.run(_as_owner(["initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]),
                   check=True, capture_output=True)
    options = (f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
               f"-c full_page_writes=off -c max_connections=200")
    subprocess.run(_as_owner(["pg_ctl", "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"]),
                   check=True, capture_output=True)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres", folder


def stop_server(folder: Path) -> None:
    subprocess.run(_as_owner(["pg_ctl", "-D", str(folder / "data"), "-m", "immediate", "-w", "stop"]),
                   capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


def server_url() -> str:
    """The tests' server (see the module's docstring); skips (fails in CI) when there is none."""
    if os.environ.get(ENV_URL):
        return os.environ[ENV_URL]
    if "url" in _started:
        return _started["url"]
    if shutil.which("initdb") and shutil.which("pg_ctl"):
        url, folder = start_server()
        atexit.register(stop_server, folder)
        _started["url"] = url
        return url
    message = f"no PostgreSQL server: set {ENV_URL} or put initdb and pg_ctl on PATH"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def admin(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def create_database(server: str, template: str | None = None) -> str:
    """A new empty database (or a copy of ``template``) on the server; its URL."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin(server, f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return with_database(server, name)


def drop_database(server: str, url: str) -> None:
    name = url.rpartition("/")[2].split("?")[0]
    admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fingerprint(url: str) -> str:
    """A digest of every row of every table of the store at ``url`` (as kit.store_fingerprint for SQLite)."""
    import hashlib
    import json

    import psycopg

    from tests.kit import TABLES

    h = hashlib.sha256()
    with psycopg.connect(url) as conn:
        for t in TABLES:
            try:
                rows = conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2" if t != "desk_state" else
                                    "SELECT * FROM desk_state").fetchall()
            except psycopg.errors.UndefinedTable:
                conn.rollback()
                rows = []
            h.update(t.encode())
            h.update(json.dumps(rows, default=str).encode())
    return h.hexdigest()
