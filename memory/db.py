"""The store's SQL on SQLite or PostgreSQL: one thin connection adapter, so each statement is one text both run.

A store location is a path (the embedded SQLite file) or a ``postgresql://`` URL (psycopg 3). Statements are
written once with ``?`` parameters; on PostgreSQL they are translated once per text (``?`` → ``%s``). What the two
dialects spell differently lives here and nowhere else:

==============================  ======================================  =============================================
construct                       SQLite                                  PostgreSQL
==============================  ======================================  =============================================
upsert / insert-or-ignore       ``INSERT … ON CONFLICT …`` (both)       the same text
sum that is 0 over no rows      ``coalesce(sum(x), 0)`` (both)          the same text
scalar max of two values        ``max(a, b)``                           ``greatest(a, b)``
a number inside JSON text       ``json_extract(c, '$.a.b')``            ``(c::jsonb #>> '{a,b}')::double precision``
seconds between two ISO times   ``julianday`` arithmetic                ``extract(epoch from …)``
newest of equal timestamps      ``rowid``                               insertion order is not kept: the key
a transaction                   ``SAVEPOINT`` on an autocommit conn     psycopg's nested ``transaction()``
another store's rows            ``ATTACH DATABASE``                     a schema of the same database
schema DDL                      as written in ``memory.schema``         ``ddl()``: REAL → DOUBLE PRECISION, INTEGER →
                                                                        BIGINT, ``id INTEGER PRIMARY KEY`` → identity
==============================  ======================================  =============================================

Every error of the server or the file becomes one ``StoreError`` line saying what to do (``memory.sqlite`` for
SQLite, ``pg_error`` here for PostgreSQL); an ``IntegrityError`` stays one (a constraint a caller relies on).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from memory.sqlite import StoreError, connect

Params = Sequence[Any]
PG_SCHEMES = ("postgresql://", "postgres://")


class IntegrityError(Exception):
    """A constraint refused a write (an id already there) on either backend; never raised for a damaged store."""


def is_postgres(location: Path | str) -> bool:
    return isinstance(location, str) and location.startswith(PG_SCHEMES)


# ---------------------------------------------------------------------- PostgreSQL URLs
def schema_of(url: str) -> str | None:
    """The schema a URL puts the desk in (libpq's ``options=-csearch_path=…``), None for the server's default."""
    for key, value in parse_qsl(urlsplit(url).query):
        if key == "options":
            found = re.search(r"-c\s*search_path=([^\s,]+)", unquote(value))
            if found:
                return found.group(1)
    return None


def with_schema(url: str, schema: str) -> str:
    """``url`` with the desk placed in ``schema`` (a replay's own store beside the desk's, in one database)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise ValueError(f"not a schema name: {schema!r}")
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    options = [v for k, v in parse_qsl(parts.query) if k == "options"]
    kept = re.sub(r"-c\s*search_path=\S+", "", options[0]).strip() if options else ""
    query.append(("options", f"{kept} -csearch_path={schema}".strip()))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def safe_url(url: str) -> str:
    """The URL as a line may show it: no password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def schema_name(text: str) -> str:
    """A PostgreSQL schema name made from free text (a replay's folder name): lower case, [a-z0-9_], at most 63
    characters (a longer one keeps its start and a digest of the whole, so two names never meet)."""
    name = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "x"
    if not (name[0].isalpha() or name[0] == "_"):
        name = f"s_{name}"
    if len(name) > 63:
        name = f"{name[:50]}_{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    return name


# ---------------------------------------------------------------------- the adapter
class Database:
    """One connection to the store's database. ``execute`` returns a DB-API cursor (``rowcount``, ``fetchone``,
    ``fetchall``, iteration); ``query`` returns rows as dicts (for the store's own use inside ``memory/``)."""

    dialect: str
    where: str   # the store's location as a line names it

    def execute(self, sql: str, params: Params = ()) -> Any:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Params]) -> Any:
        raise NotImplementedError

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        cur = self.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def transaction(self, on_rollback: Callable[[], None] = lambda: None) -> AbstractContextManager[None]:
        raise NotImplementedError

    def table_names(self) -> set[str]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ statements both dialects run
    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Plain executemany of rows that share their keys (the hot path of a replay writes thousands)."""
        if not rows:
            return 0
        cols = list(rows[0])
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        self.executemany(sql, [tuple(r[c] for c in cols) for r in rows])
        return len(rows)

    def insert_id(self, table: str, row: Mapping[str, Any]) -> int:
        """Insert one row and return its generated ``id``."""
        cols = list(row)
        cur = self.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                           f"RETURNING id", [row[c] for c in cols])
        return int(cur.fetchall()[0][0])

    def upsert(self, table: str, rows: Sequence[Mapping[str, Any]], key: Sequence[str]) -> None:
        """Insert rows, replacing every given column of a row whose ``key`` is already there."""
        if not rows:
            return
        cols = list(rows[0])
        sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in key)
        sql = (f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
               f"ON CONFLICT ({', '.join(key)}) DO " + (f"UPDATE SET {sets}" if sets else "NOTHING"))
        self.executemany(sql, [tuple(r[c] for c in cols) for r in rows])

    def insert_ignore(self, table: str, row: Mapping[str, Any]) -> bool:
        """Insert one row unless a constraint already holds one like it; True when it was written."""
        cols = list(row)
        cur = self.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                           f"ON CONFLICT DO NOTHING", [row[c] for c in cols])
        return cur.rowcount == 1

    # ------------------------------------------------------------------ what the dialects spell differently
    def restart_ids(self, tables: Iterable[str]) -> None:
        """After rows were written with their ids (a copy), the next generated id of each table follows them."""

    def greatest(self, a: str, b: str) -> str:
        raise NotImplementedError

    def json_number(self, column: str, *path: str) -> str:
        raise NotImplementedError

    def seconds_between(self, start: str, end: str) -> str:
        raise NotImplementedError

    @property
    def newest_last(self) -> str:
        """An ORDER BY tail that breaks ties of equal timestamps by insertion order where the dialect keeps it."""
        raise NotImplementedError


class SqliteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, path: Path, what: str, damaged: str) -> None:
        self.path, self.where = Path(path), str(path)
        self.conn = connect(self.path, what, damaged, check_same_thread=False, isolation_level=None)
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            self.conn.close()
            raise

    def execute(self, sql: str, params: Params = ()) -> Any:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    def executemany(self, sql: str, rows: Iterable[Params]) -> Any:
        try:
            return self.conn.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    def transaction(self, on_rollback: Callable[[], None] = lambda: None) -> AbstractContextManager[None]:
        return _SavepointTx(self.conn, on_rollback)

    def table_names(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def close(self) -> None:
        self.conn.close()

    def greatest(self, a: str, b: str) -> str:
        return f"max({a}, {b})"

    def json_number(self, column: str, *path: str) -> str:
        return f"json_extract({column}, '$.{'.'.join(path)}')"

    def seconds_between(self, start: str, end: str) -> str:
        return f"(julianday({end}) - julianday({start})) * 86400.0"

    @property
    def newest_last(self) -> str:
        return ", rowid DESC"


class _SavepointTx:
    """Nested-safe transaction on an autocommit SQLite connection: SAVEPOINTs all the way down."""

    _depth: dict[int, int] = {}

    def __init__(self, conn: sqlite3.Connection, on_rollback: Callable[[], None]) -> None:
        self.conn, self.on_rollback = conn, on_rollback

    def __enter__(self) -> None:
        depth = self._depth.get(id(self.conn), 0)
        self.name = f"tx{depth}"
        self.conn.execute(f"SAVEPOINT {self.name}")
        self._depth[id(self.conn)] = depth + 1

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._depth[id(self.conn)] -= 1
        if exc_type is None:
            self.conn.execute(f"RELEASE {self.name}")
            return
        self.on_rollback()
        try:
            self.conn.execute(f"ROLLBACK TO {self.name}")
            self.conn.execute(f"RELEASE {self.name}")
        except (sqlite3.Error, StoreError):
            # SQLite already rolled the whole transaction back (a full disk, an I/O error): nothing is left to undo,
            # and the error the caller sees is the one that caused it
            pass


# ---------------------------------------------------------------------- PostgreSQL
_PG_TEXT: dict[str, str] = {}


def _pg(sql: str) -> str:
    """``?`` parameters as psycopg's ``%s`` (a literal ``%`` doubled), translated once per statement text."""
    out = _PG_TEXT.get(sql)
    if out is None:
        out = _PG_TEXT[sql] = sql.replace("%", "%%").replace("?", "%s")
    return out


def pg_error(exc: Exception, where: str) -> str:
    """One line for a PostgreSQL error: what is wrong and what to do."""
    import psycopg

    text = " ".join(str(exc).split()) or type(exc).__name__
    low = text.lower()
    state = getattr(exc, "sqlstate", None) or ""
    if "password authentication failed" in low or "no password supplied" in low or state == "28P01":
        return (f"PostgreSQL at {where} refused the login ({text}): give the user's password (PGPASSWORD or "
                f"~/.pgpass) or allow it in pg_hba.conf")
    if state == "28000" or "no pg_hba.conf entry" in low or ("role" in low and "does not exist" in low):
        return f"PostgreSQL at {where} refused the login ({text}): create the role or allow it in pg_hba.conf"
    if state == "3D000" or ("database" in low and "does not exist" in low):
        return f"PostgreSQL at {where}: the database does not exist ({text}): create it (createdb NAME) and run again"
    if state == "53100" or "no space left" in low or "could not extend file" in low:
        return (f"the disk of the PostgreSQL server at {where} is full: free space and run again (the failed write "
                f"was rolled back; nothing is half-written)")
    if state in ("42P01", "42703"):
        return (f"store {where} is missing part of its schema ({text}): restore the database from a backup, or "
                f"start a new one and load the data again")
    if state == "25006":
        return f"store {where} is read-only ({text}): connect as a user that may write, or to the primary server"
    if state in ("40P01", "55P03", "57014"):
        return f"store {where} is busy ({text}): wait for the other process to finish, then run again"
    if isinstance(exc, psycopg.OperationalError) or state.startswith(("08", "57P")):
        return (f"cannot reach PostgreSQL at {where} ({text}): start the server or correct store.url "
                f"(DESK_STORE__URL), then run again")
    return f"store {where}: {text}"


class PostgresDatabase(Database):
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg

        self.url, self.where = url, safe_url(url)
        self.schema = schema_of(url)
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(pg_error(exc, self.where)) from None
        self._psycopg = psycopg

    def _fail(self, exc: Exception) -> Exception:
        if isinstance(exc, self._psycopg.IntegrityError):
            error: Exception = IntegrityError(str(exc).strip())
        else:
            error = StoreError(pg_error(exc, self.where))
        error.__cause__ = exc
        return error

    def execute(self, sql: str, params: Params = ()) -> Any:
        try:
            return self.conn.execute(_pg(sql), list(params))
        except self._psycopg.Error as exc:
            raise self._fail(exc) from exc

    def executemany(self, sql: str, rows: Iterable[Params]) -> Any:
        try:
            cur = self.conn.cursor()
            cur.executemany(_pg(sql), [list(r) for r in rows])
            return cur
        except self._psycopg.Error as exc:
            raise self._fail(exc) from exc

    @contextmanager
    def transaction(self, on_rollback: Callable[[], None] = lambda: None) -> Iterator[None]:
        try:
            with self.conn.transaction():
                try:
                    yield
                except BaseException:
                    on_rollback()
                    raise
        except self._psycopg.Error as exc:   # the COMMIT itself failed (the server went away)
            on_rollback()
            raise self._fail(exc) from exc

    def table_names(self) -> set[str]:
        return {r[0] for r in self.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}

    def close(self) -> None:
        self.conn.close()

    def restart_ids(self, tables: Iterable[str]) -> None:
        for table in tables:
            self.execute(f"SELECT setval(pg_get_serial_sequence(?, 'id'), coalesce(max(id), 0) + 1, false) FROM {table}",
                         [table])

    def greatest(self, a: str, b: str) -> str:
        return f"greatest({a}, {b})"

    def json_number(self, column: str, *path: str) -> str:
        return f"({column}::jsonb #>> '{{{','.join(path)}}}')::double precision"

    def seconds_between(self, start: str, end: str) -> str:
        return f"extract(epoch from ({end})::timestamptz - ({start})::timestamptz)"

    @property
    def newest_last(self) -> str:
        return ""


def ddl(statement: str) -> str:
    """A migration statement (written for SQLite) as PostgreSQL runs it, with the same columns and TEXT dates."""
    out = re.sub(r"\bid INTEGER PRIMARY KEY\b", "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", statement)
    out = re.sub(r"\bINTEGER\b", "BIGINT", out)
    out = re.sub(r"\bREAL\b", "DOUBLE PRECISION", out)
    return re.sub(r"\)\s*WITHOUT ROWID", ")", out)


def open_database(location: Path | str, what: str, damaged: str) -> Database:
    """The database at ``location``: a ``postgresql://`` URL, else a SQLite file path."""
    if is_postgres(location):
        return PostgresDatabase(str(location))
    return SqliteDatabase(Path(location), what, damaged)


def same_database(a: Database, b: Database) -> bool:
    """Two PostgreSQL connections to one database of one server (their schemas may differ)."""
    ask = "SELECT current_database(), inet_server_addr()::text, inet_server_port()"
    return a.execute(ask).fetchone() == b.execute(ask).fetchone()


def copy_rows(source: Database, target: Database, table: str, chunk: int = 20_000) -> int:
    """Stream every row of ``table`` from one store's database into another's (any two backends); the count."""
    cur = source.execute(f"SELECT * FROM {table}")
    cols = [d[0] for d in cur.description]
    quoted = ", ".join(f'"{c}"' for c in cols)
    sql = f"INSERT INTO {table} ({quoted}) VALUES ({', '.join('?' * len(cols))})"
    n = 0
    while rows := cur.fetchmany(chunk):
        target.executemany(sql, rows)
        n += len(rows)
    return n
