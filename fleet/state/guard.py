"""Checks made when a state store is opened to run an engine, before anything is written (SqlStore.__init__
with ``migrate=True``):

* a store that was expected is there: a missing or zero-length SQLite file, or a database without fleet's
  schema, is refused unless ``create`` is set (``fleet apply --init`` / ``fleet daemon --init`` or
  ``spec.state.create: true``) - an empty store silently started would forget the pause, approvals, failed
  clusters awaiting retry and the whole history, and upgrades would resume within seconds;
* the database holds only fleet's tables (another application's database is never taken over);
* a SQLite file passes ``PRAGMA quick_check`` (https://sqlite.org/pragma.html#pragma_quick_check: "ok" when
  no problem is found, else one row per problem).

Refusals create nothing: no directory, no file, no table.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from fleet.state.errors import ForeignStoreError, StoreCorruptError, StoreMissingError
from fleet.state.schema import metadata

FLEET_TABLES = frozenset(metadata.tables) | {"alembic_version"}
HOW_TO_CREATE = "pass --init (fleet apply / fleet daemon) or set spec.state.create: true to create a new one"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None: not SQLite, or in memory)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database).expanduser()


def check_file(url: str, *, create: bool) -> None:
    """Before connecting: refuse a missing or zero-length SQLite file unless ``create``."""
    path = sqlite_path(url)
    if path is None or create:
        return
    if not path.exists():
        raise StoreMissingError(f"state store {path} does not exist; {HOW_TO_CREATE}")
    if path.stat().st_size == 0:
        raise StoreMissingError(f"state store {path} is empty (0 bytes); {HOW_TO_CREATE}")


def _unreadable(exc: SQLAlchemyError) -> bool:
    """SQLite says the file is not a database or is malformed (sqlite3.DatabaseError), as opposed to an
    operational error such as "database is locked" (sqlite3.OperationalError, its subclass)."""
    import sqlite3
    orig = getattr(exc, "orig", None)
    return isinstance(orig, sqlite3.DatabaseError) and not isinstance(orig, sqlite3.OperationalError)


def check_database(engine: Engine, url: str, *, create: bool) -> None:
    """After connecting: corruption (SQLite), foreign tables, and an empty database when one was expected."""
    where = str(sqlite_path(url) or make_url(url).render_as_string(hide_password=True))
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                rows = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check")]
                if rows != ["ok"]:
                    raise StoreCorruptError(f"state store {where} is corrupt (PRAGMA quick_check: "
                                            f"{'; '.join(rows[:5])})")
            tables = set(inspect(conn).get_table_names())
    except SQLAlchemyError as exc:
        if engine.dialect.name == "sqlite" and _unreadable(exc):
            raise StoreCorruptError(f"state store {where} cannot be read as a SQLite database: "
                                    f"{getattr(exc, 'orig', exc)}") from exc
        raise
    foreign = sorted(tables - FLEET_TABLES)
    if foreign:
        raise ForeignStoreError(f"state store {where} holds tables that are not fleet's ({', '.join(foreign[:10])}); "
                                "refusing to add fleet's tables to another application's database")
    if not create and not tables:
        raise StoreMissingError(f"state store {where} holds no fleet state; {HOW_TO_CREATE}")
