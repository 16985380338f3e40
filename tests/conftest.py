"""Shared fixtures. No test reaches the network: a guard, installed for the whole session before any fixture or
test runs, refuses every non-loopback connection and DNS lookup.

The guard raises ``NetworkBlocked``, a ``BaseException``: no ``except Exception`` fallback in the desk (an LLM
provider falling back to rules, a reporter that swallows its errors) can catch it, so a test that forgets to stub a
client fails loudly instead of passing on the fallback.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
import socket

import pytest

pytest_plugins = ["pytester"]

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


class NetworkBlocked(BaseException):
    """A test tried to reach beyond 127.0.0.1."""


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = address[0]
    else:  # AF_UNIX paths are local
        return True
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: object):
    if not _is_loopback(address):
        raise NetworkBlocked(f"tests may not reach the network (tried {address!r})")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object):
    if not _is_loopback(address):
        raise NetworkBlocked(f"tests may not reach the network (tried {address!r})")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host not in (None, "localhost") and not _is_loopback((host,)):
        raise NetworkBlocked(f"tests may not resolve {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    """Refuse non-loopback sockets and DNS for the whole session (fixtures of every scope included)."""
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    socket.getaddrinfo = _guarded_getaddrinfo


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With DESKTEST_STORE=postgresql (the suite on the second backend) the tests about the SQLite file itself
    (damaged or full disks, schema edits by hand) are left out: they ran in the SQLite pass."""
    import os

    if os.environ.get("DESKTEST_STORE") != "postgresql":
        return
    kept = [i for i in items if i.get_closest_marker("sqlite_only") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i.get_closest_marker("sqlite_only") is not None])
        items[:] = kept


def pytest_unconfigure(config: pytest.Config) -> None:
    socket.socket.connect = _real_connect
    socket.socket.connect_ex = _real_connect_ex
    socket.getaddrinfo = _real_getaddrinfo


@pytest.fixture
def desk_home(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A fresh DESK_HOME for one test, with no stray DESK_* variables or desk.toml in the way."""
    import os

    for key in list(os.environ):
        if key.startswith("DESK_"):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DESK_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture(scope="session")
def seeded_home(tmp_path_factory) -> Path:
    """A DESK_HOME with the bundled history loaded and the market cache built (once per test process)."""
    from desk.actions.setup import bootstrap
    from desk.actor import Actor
    from desk.config import load_settings
    from memory.store import Store
    from tools.market import MarketView

    home = tmp_path_factory.mktemp("seed") / "home"
    settings = load_settings(home=home)
    store = Store(settings.store_path)
    bootstrap(store, settings, Actor(who="test", via="fixture"), ())
    MarketView(store, settings.data.universe, settings.data.benchmark, cache_dir=settings.cache_dir).ensure()
    store.close()
    return home


@pytest.fixture
def home(seeded_home, tmp_path, monkeypatch: pytest.MonkeyPatch, request):
    """A private copy of the seeded DESK_HOME, set as DESK_HOME, with no stray DESK_* variables. With
    ``DESKTEST_STORE=postgresql`` its store is a fresh PostgreSQL database cloned from the seeded one
    (``DESK_STORE__URL``), so the tests that use it run on the second backend."""
    import os

    from tests.kit import clone_home

    for key in list(os.environ):
        if key.startswith("DESK_"):
            monkeypatch.delenv(key)
    dest = clone_home(seeded_home, tmp_path / "home")
    monkeypatch.setenv("DESK_HOME", str(dest))
    monkeypatch.chdir(tmp_path)
    if os.environ.get("DESKTEST_STORE") == "postgresql":
        monkeypatch.setenv("DESK_STORE__URL", request.getfixturevalue("pg_seeded_store"))
    return dest


# ---------------------------------------------------------------------- the store's backends
@pytest.fixture(scope="session")
def pg_server() -> str:
    """The URL of the tests' PostgreSQL server (tests/pg_kit.py: CI's, else one started here)."""
    from tests import pg_kit

    return pg_kit.server_url()


@pytest.fixture
def pg_store(pg_server):
    """A fresh, empty PostgreSQL database for one test (dropped after it)."""
    from tests import pg_kit

    url = pg_kit.create_database(pg_server)
    yield url
    pg_kit.drop_database(pg_server, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request, tmp_path):
    """A fresh store location on each backend: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "desk.sqlite"
    return request.getfixturevalue("pg_store")


@pytest.fixture(scope="session")
def pg_templates(pg_server):
    """A SQLite home's store (and checkpoints) copied into a template database, once per home per test process:
    ``template(home)`` is its name."""
    from memory.copy import copy_desk
    from tests import pg_kit

    made: dict[Path, str] = {}

    def template(home: Path) -> str:
        if home not in made:
            url = pg_kit.create_database(pg_server)
            copy_desk(home / "desk.sqlite", home / "checkpoints.sqlite", url)
            made[home] = url.rpartition("/")[2]
        return made[home]

    return template


@pytest.fixture
def on_backend(pg_server, pg_templates, monkeypatch: pytest.MonkeyPatch):
    """``on_backend(home, seeded_from)``: with DESKTEST_STORE=postgresql, ``home``'s store becomes a fresh clone of
    the template of the SQLite home it was copied from (DESK_STORE__URL); otherwise nothing changes."""
    import os

    from tests import pg_kit

    made: list[str] = []

    def switch(home: Path, seeded_from: Path) -> Path:
        if os.environ.get("DESKTEST_STORE") == "postgresql":
            made.append(pg_kit.create_database(pg_server, template=pg_templates(seeded_from)))
            monkeypatch.setenv("DESK_STORE__URL", made[-1])
        return home

    yield switch
    for url in made:
        pg_kit.drop_database(pg_server, url)


@pytest.fixture(scope="session")
def pg_seed(seeded_home, pg_templates) -> str:
    """A template database holding the seeded home's store (and its checkpoints), copied once per test process."""
    return pg_templates(seeded_home)


@pytest.fixture
def pg_seeded_store(pg_server, pg_seed):
    """A fresh PostgreSQL database cloned from the seeded one (CREATE DATABASE … TEMPLATE), dropped after the test."""
    from tests import pg_kit

    url = pg_kit.create_database(pg_server, template=pg_seed)
    yield url
    pg_kit.drop_database(pg_server, url)


@pytest.fixture
def pg_home(home, pg_seeded_store, monkeypatch: pytest.MonkeyPatch):
    """The seeded home on PostgreSQL: ``home``'s files, its store a fresh clone of the seeded database."""
    monkeypatch.setenv("DESK_STORE__URL", pg_seeded_store)
    return home
