"""Storage URLs, engines and schema checks.

SQLite files run in WAL mode with a 30 s busy timeout and foreign keys on. Write transactions start with
`BEGIN IMMEDIATE` (they take the write lock up front), so concurrent writers queue instead of failing with
"database is locked"; read transactions use a plain deferred `BEGIN`. A connection is marked as a writer with the
execution option `WRITE_OPTION` (see `writer`).

A reading command opens its database read-only (`read_only=True`): SQLite's `mode=ro`, falling back to
`immutable=1` where the directory cannot hold WAL's shared-memory file (a read-only directory, where no writer can
be at work either). Opening imports no Alembic: the known revisions are listed in `_models.REVISIONS`.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:
    from alembic.config import Config

from oboptim.storage import _crash_hook as crash_hook
from oboptim.storage._errors import (
    InvalidStorageURL,
    NotAnOboptimDatabase,
    SchemaTooNew,
    SchemaTooOld,
    StorageError,
    StorageNotFound,
    StorageReadOnly,
)
from oboptim.storage._models import APPLICATION_NAME, CURRENT_SCHEMA_VERSION, REVISIONS, MetaEntry

DEFAULT_STORAGE_URL = "sqlite:///oboptim.db"
STORAGE_ENV_VAR = "OBOPTIM_STORAGE"
SQLITE_BUSY_TIMEOUT_S = 30.0
WRITE_OPTION = "oboptim_write"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# SQLite's messages for a file that is not a (healthy) database.
_NOT_A_DATABASE_SIGNS = ("not a database", "malformed", "unsupported file format")
_READ_ONLY_SIGNS = ("readonly", "read-only", "read only")
_FULL_SIGNS = ("disk is full", "disk i/o error", "no space left", "file too large")
# Arbitrary constant that names oboptim's PostgreSQL advisory lock for schema creation.
_PG_SCHEMA_LOCK_KEY = 0x0B0B7


def resolve_storage_url(url: str | os.PathLike | None = None) -> str:
    """The storage URL to use: `url`, else $OBOPTIM_STORAGE, else sqlite:///oboptim.db (validated)."""
    if url is None:
        url = os.environ.get(STORAGE_ENV_VAR) or DEFAULT_STORAGE_URL
    url = str(url).strip()
    parse_storage_url(url)
    return url


def parse_storage_url(url: str) -> URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        hint = f" (for a SQLite file write sqlite:///{printable(url)})" if "://" not in url else ""
        raise InvalidStorageURL(
            f"cannot parse storage URL {url!r}{hint}: use an SQLAlchemy URL such as sqlite:///oboptim.db "
            "or postgresql://user@host/dbname"
        ) from None


def display_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    return printable(parse_storage_url(url).render_as_string(hide_password=True))


def printable(text: str) -> str:
    """``text`` as is, or escaped (as by ascii()) if it holds newlines or other control characters."""
    return text if text.isprintable() else ascii(text)


def writer(engine: Engine) -> Engine:
    """A view of `engine` whose transactions take the write lock up front (SQLite: BEGIN IMMEDIATE)."""
    return engine.execution_options(**{WRITE_OPTION: True})


def create_storage_engine(url: str, *, create: bool = True, read_only: bool = False) -> Engine:
    """An engine for `url`; SQLite gets its pragmas and locking listeners (and opens read-only if asked)."""
    parsed = parse_storage_url(url)
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        raise InvalidStorageURL(
            f"unknown database dialect {parsed.drivername!r} in {display_url(url)}: use sqlite:///FILE or "
            "postgresql://user@host/dbname"
        ) from None
    try:
        if parsed.get_backend_name() == "sqlite":
            return _create_sqlite_engine(parsed, create=create and not read_only, read_only=read_only)
        return create_engine(parsed, pool_pre_ping=True)
    except ArgumentError as invalid:  # e.g. sqlite://host: SQLAlchemy explains on several lines, keep the first
        reason = str(invalid).splitlines()[0]
        raise InvalidStorageURL(
            f"{reason}: use sqlite:///relative/file.db, sqlite:////absolute/file.db or postgresql://user@host/dbname"
        ) from None
    except ImportError as missing:
        raise InvalidStorageURL(
            f"the database driver for {parsed.drivername!r} is not installed ({missing}): install it "
            "(for PostgreSQL: pip install psycopg2-binary) or use another URL"
        ) from None


def is_in_memory(url: str) -> bool:
    """Whether ``url`` is an SQLite database that lives in memory only (gone when the process ends)."""
    parsed = parse_storage_url(url)
    return parsed.get_backend_name() == "sqlite" and (
        (parsed.database or "") in ("", ":memory:") or parsed.query.get("mode") == "memory")


def _create_sqlite_engine(parsed: URL, *, create: bool, read_only: bool = False) -> Engine:
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or parsed.query.get("mode") == "memory"
    if not in_memory and not parsed.query.get("uri"):
        _check_sqlite_path(Path(database), create=create)
    if in_memory:
        # One shared connection, or every connection would see its own empty database.
        engine = create_engine(parsed, poolclass=StaticPool, connect_args={"check_same_thread": False})
    elif read_only and not parsed.query.get("uri"):
        engine = create_engine("sqlite://", creator=_read_only_connector(Path(database)))
    else:
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    event.listen(engine, "connect", _configure_read_only_connection if read_only else _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _read_only_connector(path: Path):
    """``() -> sqlite3.Connection`` opening ``path`` read-only; ``immutable=1`` where WAL's files cannot be made."""
    uri = path.absolute().as_uri().replace("file://", "file:", 1)

    def connect() -> sqlite3.Connection:
        try:
            return _probe(sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=SQLITE_BUSY_TIMEOUT_S,
                                          check_same_thread=False))
        except sqlite3.OperationalError as failure:
            if "unable to open" not in str(failure):
                raise
            return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False)

    return connect


def _probe(connection: sqlite3.Connection) -> sqlite3.Connection:
    """The connection, after a read that makes SQLite open the WAL index (failing now, not in the first query)."""
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error:
        connection.close()
        raise
    return connection


def _configure_read_only_connection(dbapi_connection, connection_record) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA query_only = ON")
    finally:
        cursor.close()


def _check_sqlite_path(path: Path, *, create: bool) -> None:
    shown = printable(str(path))
    if "\x00" in str(path):
        raise InvalidStorageURL(f"the database path {shown} contains a NUL character: choose another path")
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidStorageURL(f"the database path {shown} is not valid text: choose another path") from None
    try:
        parent = path.absolute().parent
        if not parent.is_dir():
            raise StorageNotFound(
                f"directory {printable(str(parent))} does not exist: create it first, or choose another database path"
            )
        if path.is_dir():
            raise NotAnOboptimDatabase(f"{shown} is a directory, not a database file: choose a file path")
        if path.exists() and not path.is_file():
            raise NotAnOboptimDatabase(f"{shown} is not a regular file (a device or a pipe?): choose a file path")
        if not path.exists() and not create:
            raise StorageNotFound(f"no database at {shown}: check the path, or create it by starting a campaign there")
    except OSError as failure:  # e.g. a name too long for the file system
        raise StorageNotFound(
            f"cannot use the database path {shown[:200]} ({failure.strerror}): choose another path"
        ) from None


def _configure_sqlite_connection(dbapi_connection, connection_record) -> None:
    # pysqlite must not open transactions by itself: `_begin_sqlite_transaction` issues BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        _enable_wal(cursor)
    finally:
        cursor.close()


def _enable_wal(cursor) -> None:
    """Switch to WAL unless already on. The switch needs an exclusive lock and SQLite may refuse it at once (without
    using the busy timeout) while another process creates the same file, so retry until the timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0].lower()
            if mode not in ("wal", "memory"):
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as failure:
            if "locked" not in str(failure) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _begin_sqlite_transaction(connection) -> None:
    mode = "IMMEDIATE" if connection.get_execution_options().get(WRITE_OPTION) else "DEFERRED"
    connection.exec_driver_sql(f"BEGIN {mode}")


@dataclass(frozen=True)
class SchemaStatus:
    """What a database holds: its tables, and oboptim's schema markers if present."""

    tables: frozenset[str]
    application: str | None
    schema_version: int | None
    revision: str | None

    @property
    def empty(self) -> bool:
        return not self.tables


def read_schema_status(engine: Engine, url: str) -> SchemaStatus:
    """Inspect the database; a file that is not a database raises NotAnOboptimDatabase."""
    try:
        with engine.connect() as connection:
            tables = frozenset(inspect(connection).get_table_names())
            if "oboptim_meta" not in tables:
                return SchemaStatus(tables, None, None, None)
            meta = dict(connection.execute(select(MetaEntry.key, MetaEntry.value)).all())
            revision = None
            if "alembic_version" in tables:
                revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError as failure:
        raise _connection_error(engine, url, failure) from None
    return SchemaStatus(tables, meta.get("application"), _parse_version(meta.get("schema_version"), url), revision)


def _parse_version(value: str | None, url: str) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        raise NotAnOboptimDatabase(
            f"{display_url(url)} has an unreadable schema_version {value!r}: the database is corrupt"
        ) from None


def _connection_error(engine: Engine, url: str, failure: DBAPIError) -> StorageError:
    reason = _first_line(failure)
    if engine.dialect.name == "sqlite" and any(sign in reason for sign in _NOT_A_DATABASE_SIGNS):
        return NotAnOboptimDatabase(
            f"{display_url(url)} is not a readable SQLite database ({reason}): choose another file"
        )
    if engine.dialect.name == "sqlite" and "unable to open" in reason:
        return StorageError(f"cannot open {display_url(url)} ({reason}): check that you may read the file and its "
                            "directory")
    if engine.dialect.name == "sqlite":
        return StorageError(f"cannot open {display_url(url)} ({reason}): check that no other program holds it locked")
    return StorageError(f"cannot use {display_url(url)} ({reason}): check that the server runs and the URL is right")


def operation_error(engine: Engine, url: str, failure: DBAPIError, *, writing: bool) -> StorageError:
    """One line for a database error during a read or write (a damaged file, a full disk, a read-only file...)."""
    reason = _first_line(failure)
    lowered = reason.lower()
    where = display_url(url)
    if any(sign in lowered for sign in _NOT_A_DATABASE_SIGNS):
        return NotAnOboptimDatabase(f"{where} is damaged ({reason}): restore it from a backup, or recover what is "
                                    "readable with `sqlite3 FILE .recover`")
    if any(sign in lowered for sign in _READ_ONLY_SIGNS):
        return StorageReadOnly(f"{where} is read-only ({reason}): run this with write access to the database (and "
                               "its directory), or copy it somewhere writable; nothing was written")
    if any(sign in lowered for sign in _FULL_SIGNS):
        return StorageError(f"cannot write to {where} ({reason}): free disk space (or raise the file size limit) and "
                            "run the command again; nothing was written")
    if "locked" in lowered:
        return StorageError(f"{where} stayed locked by another program for {SQLITE_BUSY_TIMEOUT_S:g} s ({reason}): "
                            "try again when it is done")
    action = "write to" if writing else "read"
    if engine.dialect.name != "sqlite":
        return StorageError(f"cannot {action} {where} ({reason}): check that the server runs and the URL is right")
    return StorageError(f"cannot {action} {where} ({reason})")


def check_writable(engine: Engine, url: str) -> None:
    """Raise :class:`StorageReadOnly` (or another one-line error) unless a write to the database would succeed.

    It writes a value over itself in a transaction that is rolled back, so nothing changes; a command that computes
    something before writing (a proposal) checks first, so that a read-only database costs no wasted work.
    """
    try:
        with writer(engine).connect() as connection:
            transaction = connection.begin()
            try:
                connection.execute(text("UPDATE oboptim_meta SET value = value WHERE key = 'application'"))
            finally:
                transaction.rollback()
    except DBAPIError as failure:
        raise operation_error(engine, url, failure, writing=True) from None


def _first_line(failure: DBAPIError) -> str:
    reason = str(failure.orig) if failure.orig is not None else str(failure)
    return (reason.splitlines() or [""])[0].strip()


def check_schema(status: SchemaStatus, url: str) -> None:
    """Raise unless `status` is an oboptim database at the current schema."""
    where = display_url(url)
    if status.application is None or status.application != APPLICATION_NAME or status.schema_version is None:
        shown = ", ".join(sorted(status.tables)[:5])
        raise NotAnOboptimDatabase(
            f"{where} holds other tables ({shown}) and is not an oboptim database: choose another file or URL"
        )
    known_revision = status.revision is not None and status.revision in REVISIONS
    if status.schema_version > CURRENT_SCHEMA_VERSION or (status.revision is not None and not known_revision):
        raise SchemaTooNew(
            f"{where} was written by a newer oboptim (schema {status.schema_version}, this one reads "
            f"{CURRENT_SCHEMA_VERSION}): upgrade oboptim"
        )
    if status.schema_version < CURRENT_SCHEMA_VERSION or status.revision != REVISIONS[-1]:
        raise SchemaTooOld(
            f"{where} has schema {status.schema_version}, this oboptim needs {CURRENT_SCHEMA_VERSION}: back it up, "
            f"then run `oboptim upgrade --storage {where}`"
        )


def alembic_config() -> Config:
    """An Alembic configuration built in code (no alembic.ini) that points at oboptim's migrations."""
    from alembic.config import Config  # only migrations need Alembic; opening a database does not

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def upgrade_schema(engine: Engine) -> None:
    """Run the migrations up to head under the write lock, so concurrent openers run them once."""
    from alembic import command

    with writer(engine).connect() as connection, connection.begin():
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SCHEMA_LOCK_KEY})
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        crash_hook.before_commit()
    crash_hook.after_commit()


def prepare_database(engine: Engine, url: str, *, create: bool) -> None:
    """Create the schema in an empty database (if `create`), else check that it is current."""
    status = read_schema_status(engine, url)
    if status.empty:
        if not create:
            raise StorageNotFound(f"{display_url(url)} holds no oboptim database yet: create one by starting a "
                                  "campaign there (`oboptim run TASK --name NAME --storage URL`)")
        upgrade_schema(engine)
        status = read_schema_status(engine, url)
    check_schema(status, url)


def upgrade(url: str | None = None) -> None:
    """Bring the database at `url` to the current schema (`oboptim upgrade --storage URL`)."""
    url = resolve_storage_url(url)
    engine = create_storage_engine(url, create=False)
    try:
        status = read_schema_status(engine, url)
        if not status.empty:
            try:
                check_schema(status, url)
            except SchemaTooOld:
                pass
        upgrade_schema(engine)
        check_schema(read_schema_status(engine, url), url)
    finally:
        engine.dispose()
