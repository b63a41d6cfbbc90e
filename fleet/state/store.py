"""SqlStore: the state store on SQLite (the default) or PostgreSQL (for HA). Every call is one committed
transaction. It implements fleet.state.base.Store (re-exported here as ``Store``); reads return typed records.

Writes may be fenced: when ``fence`` is set to ``(lease_name, epoch)`` every write transaction first checks
that the lease row still carries that epoch and raises FencedError otherwise, so a leader that lost its
lease cannot record (or, since the engine records intent before calling a provider, issue) anything.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, delete, event, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from fleet.clock import utc
from fleet.errors import FencedError, StateError
from fleet.execution.model import ACTIVE_RUN_STATUSES, OPEN_STEP_STATES, Member, MemberStatus, Run, StepRecord
from fleet.state import schema as S
from fleet.state.base import Store
from fleet.state.cursors import Cursors
from fleet.state.engine_lock import Claim, EngineLock, advisory_claims, lock_file_claims
from fleet.state.gates import SqlGates
from fleet.state.guard import check_database, check_file, sqlite_path
from fleet.state.leases import SqlLeases
from fleet.state.risks import SqlRisks
from fleet.state.values import check_row

__all__ = ["SqlStore", "Store", "make_engine"]

ACTIVE_RUNS = tuple(s.value for s in ACTIVE_RUN_STATUSES)
OPEN_STEPS = tuple(s.value for s in OPEN_STEP_STATES)


def _norm(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    for k, v in out.items():
        if isinstance(v, datetime):
            out[k] = utc(v)
    return out


def _rows(result: Any) -> list[dict[str, Any]]:
    """``[_norm(r) for r in result]``, faster: the column names are read once, not once per row."""
    keys = tuple(result.keys())
    out = []
    for r in result:
        d = dict(zip(keys, r, strict=True))
        for k, v in d.items():
            if isinstance(v, datetime):
                d[k] = utc(v)
        out.append(d)
    return out


# run_clusters columns in the order of Member's fields: members are the most frequent read (every run, every tick)
_MEMBER_COLUMNS = tuple(S.run_clusters.c[name] for name in (
    "run_id", "cluster_id", "provider", "wave", "wave_index", "status", "message", "target", "started_at",
    "finished_at"))
_MEMBER_STATUS = {s.value: s for s in MemberStatus}


def _members(result: Any) -> list[Member]:
    return [Member(run_id, cluster_id, provider, wave, int(wave_index), _MEMBER_STATUS[status], message or "", target,
                   None if started is None else utc(started), None if finished is None else utc(finished))
            for run_id, cluster_id, provider, wave, wave_index, status, message, target, started, finished in result]


WAL_ATTEMPTS = 600          # x WAL_RETRY_S: as long as the busy timeout
WAL_RETRY_S = 0.05


def _wal(cur: Any) -> None:
    """Switch the file to WAL (persistent: once done, every later connection finds it so). The switch needs
    the exclusive lock and SQLite answers "database is locked" at once instead of waiting on the busy timeout
    when another process holds it (two processes starting on one fresh file), so it is retried."""
    import sqlite3
    import time
    for attempt in range(WAL_ATTEMPTS):
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == WAL_ATTEMPTS - 1:
                raise
            time.sleep(WAL_RETRY_S)


def make_engine(url: str, *, create: bool = True) -> Engine:
    """The engine for ``url``; for a SQLite file its directory is made when ``create``."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None and create:
            path.resolve().parent.mkdir(parents=True, exist_ok=True)
        eng = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(eng, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            _wal(cur)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
        return eng
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _migration_engine(url: str) -> Engine:
    """A one-connection SQLite engine whose transactions are real ``BEGIN EXCLUSIVE`` ones, DDL included
    (SQLAlchemy's recipe for SQLite transactional DDL; see SqlStore.migrate)."""
    from sqlalchemy.pool import NullPool
    eng = create_engine(url, connect_args={"timeout": 30}, poolclass=NullPool)

    @event.listens_for(eng, "connect")
    def _connect(dbapi_conn: Any, _: Any) -> None:
        dbapi_conn.isolation_level = None      # pysqlite: never emit BEGIN (nor COMMIT) on its own
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        _wal(cur)
        cur.close()

    @event.listens_for(eng, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN EXCLUSIVE")  # the write lock now: a second migrator waits here
    return eng


class SqlStore(SqlLeases, Cursors, SqlRisks, SqlGates):
    """The SQL implementation of fleet.state.base.Store."""

    def __init__(self, url: str, *, migrate: bool = True, create: bool = True):
        """Open the store at ``url``. With ``migrate`` (start-up) the store is first checked (fleet.state.guard:
        missing or empty where ``create`` is off, corrupt, foreign tables) and then migrated to head."""
        self.url = url
        try:
            if migrate:
                check_file(url, create=create)
            self.engine = make_engine(url, create=create or not migrate)
            if migrate:
                try:
                    check_database(self.engine, url, create=create)
                    self.migrate()
                except BaseException:
                    self.engine.dispose()
                    raise
        except SQLAlchemyError as exc:
            raise StateError(f"cannot open the state store: {exc.__class__.__name__}: {exc}") from exc
        self.fence: tuple[str, int] | None = None
        self.after_commit: Callable[[str], None] | None = None   # test hook: called after each write commit
        self._lock = threading.RLock()
        self._engine_lock: EngineLock | None = None

    # ---- the engine lock (fleet.state.engine_lock) ----------------------------------------------------
    def lock_engine(self, holder: str, claims: list[Claim]) -> None:
        """Claim the store for the engine ``holder`` names, or raise StoreBusyError naming who has it."""
        if self._engine_lock is not None:
            raise StateError("this store already holds the engine lock")
        path = sqlite_path(self.url)
        if self.engine.dialect.name == "postgresql":
            self._engine_lock = advisory_claims(self.engine, holder, claims)
        elif path is not None:
            self._engine_lock = lock_file_claims(path.resolve(), holder, claims)

    # ---- schema -------------------------------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema to head in ONE transaction, one migrator at a time; a second starter waits for the
        first, then finds the schema at head and does nothing. A kill at any point leaves the store as it was.

        PostgreSQL has transactional DDL; a transaction-scoped advisory lock serialises migrators. SQLite has
        transactional DDL too, but pysqlite only emits BEGIN before DML, so CREATE TABLE ran (and committed)
        on its own and a kill between two of them left a half-made schema ("table runs already exists" on
        every restart). The migration therefore runs on its own connection with pysqlite's implicit
        transactions switched off and an explicit ``BEGIN EXCLUSIVE``: SQLAlchemy's documented recipe for
        SQLite transactional DDL (https://docs.sqlalchemy.org/en/20/dialects/sqlite.html, "Serializable
        isolation / Savepoints / Transactional DDL": ``dbapi_connection.isolation_level = None`` on connect,
        emit our own ``BEGIN`` on begin). EXCLUSIVE also keeps readers out of the half-made schema; a second
        process waits on SQLite's busy timeout, then re-reads alembic_version inside its own transaction.
        """
        from alembic import command
        from alembic.config import Config
        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        engine = _migration_engine(self.url) if self.engine.dialect.name == "sqlite" else self.engine
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727001)")  # one migrator at a time
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        finally:
            if engine is not self.engine:
                engine.dispose()

    def schema_version(self) -> str | None:
        with self.engine.connect() as conn:
            try:
                return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            except SQLAlchemyError:
                return None

    def close(self) -> None:
        if self._engine_lock is not None:
            self._engine_lock.release()
            self._engine_lock = None
        self.engine.dispose()

    # ---- transactions -------------------------------------------------------------------------------
    @contextmanager
    def write(self, what: str = "write") -> Iterator[Connection]:
        try:
            with self._lock, self.engine.begin() as conn:
                if self.fence is not None:
                    name, epoch = self.fence
                    q = select(S.leases.c.epoch).where(S.leases.c.name == name)
                    if conn.dialect.name == "postgresql":
                        q = q.with_for_update()
                    current = conn.execute(q).scalar()
                    if current != epoch:
                        raise FencedError(f"write refused: lease {name} is at epoch {current}, this writer holds {epoch}")
                yield conn
        except SQLAlchemyError as exc:
            raise StateError(f"state store {what} failed: {exc.__class__.__name__}") from exc
        if self.after_commit is not None:
            self.after_commit(what)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StateError(f"state store read failed: {exc.__class__.__name__}") from exc

    # ---- events (append-only audit log) ---------------------------------------------------------------
    def add_event(self, conn: Connection, at: datetime, kind: str, *, actor: str = "engine", run_id: str | None = None,
                  cluster_id: str | None = None, step_key: str | None = None, operation_id: str | None = None,
                  message: str = "", data: dict[str, Any] | None = None) -> None:
        row = {"at": at, "actor": actor, "kind": kind, "run_id": run_id, "cluster_id": cluster_id,
               "step_key": step_key, "operation_id": operation_id, "message": message, "data": data}
        check_row(S.events, row)
        conn.execute(insert(S.events).values(**row))

    def events(self, *, cluster_id: str | None = None, run_id: str | None = None, kind: str | None = None,
               limit: int = 1000, after_id: int = 0) -> list[dict[str, Any]]:
        q = select(S.events).where(S.events.c.id > after_id)
        if cluster_id:
            q = q.where(S.events.c.cluster_id == cluster_id)
        if run_id:
            q = q.where(S.events.c.run_id == run_id)
        if kind:
            q = q.where(S.events.c.kind == kind)
        with self.read() as conn:
            return _rows(conn.execute(q.order_by(S.events.c.id).limit(limit)))

    def last_event_id(self) -> int:
        with self.read() as conn:
            return int(conn.execute(select(func.max(S.events.c.id))).scalar() or 0)

    # ---- control ------------------------------------------------------------------------------------
    def get_control(self, key: str, default: Any = None) -> Any:
        with self.read() as conn:
            row = conn.execute(select(S.control.c.value).where(S.control.c.key == key)).first()
        return default if row is None else row[0]

    def set_control(self, conn: Connection, key: str, value: Any) -> None:
        """One upsert statement: two commands writing a key for the first time at once (a pause and a resume
        on a new PostgreSQL store) never collide on its primary key (#22)."""
        from sqlalchemy.dialects import postgresql, sqlite
        dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(S.control).values(key=key, value=value)
        conn.execute(stmt.on_conflict_do_update(index_elements=[S.control.c.key], set_={"value": stmt.excluded.value}))

    def delete_control(self, conn: Connection, key: str) -> bool:
        """One conditional DELETE: of two transactions deleting the same key at once, exactly one sees it."""
        return bool(conn.execute(delete(S.control).where(S.control.c.key == key)).rowcount == 1)

    def controls(self, prefix: str) -> dict[str, Any]:
        with self.read() as conn:
            rows = conn.execute(select(S.control.c.key, S.control.c.value)
                                .where(S.control.c.key.startswith(prefix, autoescape=True)))
            return {k: v for k, v in rows}

    # ---- write operations (inside ``with store.write() as conn``; MemoryStore has the same ones) ----------
    def insert_run(self, conn: Connection, **values: Any) -> None:
        check_row(S.runs, values)
        conn.execute(insert(S.runs).values(**values))

    def insert_run_clusters(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            check_row(S.run_clusters, row)
        if rows:
            conn.execute(insert(S.run_clusters), rows)

    def update_run(self, conn: Connection, run_id: str, **values: Any) -> None:
        check_row(S.runs, values)
        conn.execute(update(S.runs).where(S.runs.c.id == run_id).values(**values))

    def update_run_cluster(self, conn: Connection, run_id: str, cluster_id: str, **values: Any) -> None:
        check_row(S.run_clusters, values, cluster_id=cluster_id)
        conn.execute(update(S.run_clusters).where(S.run_clusters.c.run_id == run_id,
                                                  S.run_clusters.c.cluster_id == cluster_id).values(**values))

    def insert_step(self, conn: Connection, **values: Any) -> int:
        check_row(S.steps, values)
        key = conn.execute(insert(S.steps).values(**values)).inserted_primary_key
        assert key is not None, "an INSERT returns its primary key"
        return int(key[0])

    def update_step(self, conn: Connection, step_id: int, **values: Any) -> None:
        check_row(S.steps, values)
        conn.execute(update(S.steps).where(S.steps.c.id == step_id).values(**values))

    # ---- runs ---------------------------------------------------------------------------------------
    def runs(self, *, active_only: bool = False, policy: str | None = None) -> list[Run]:
        q = select(S.runs)
        if active_only:
            q = q.where(S.runs.c.status.in_(ACTIVE_RUNS))
        if policy:
            q = q.where(S.runs.c.policy == policy)
        with self.read() as conn:
            return [Run.from_row(r) for r in _rows(conn.execute(q.order_by(S.runs.c.created_at, S.runs.c.id)))]

    def run(self, run_id: str) -> Run | None:
        with self.read() as conn:
            r = conn.execute(select(S.runs).where(S.runs.c.id == run_id)).first()
        return Run.from_row(_norm(r)) if r else None

    def members(self, run_id: str | None = None) -> list[Member]:
        q = select(*_MEMBER_COLUMNS)
        if run_id:
            q = q.where(S.run_clusters.c.run_id == run_id)
        with self.read() as conn:
            return _members(conn.execute(q.order_by(S.run_clusters.c.wave_index, S.run_clusters.c.cluster_id)))

    def latest_memberships(self) -> dict[str, Member]:
        q = (select(*_MEMBER_COLUMNS).join(S.runs, S.runs.c.id == S.run_clusters.c.run_id)
             .order_by(S.runs.c.created_at, S.runs.c.id))
        with self.read() as conn:
            return {m.cluster_id: m for m in _members(conn.execute(q))}    # the newest run's row comes last

    def steps(self, *, run_id: str | None = None, cluster_id: str | None = None,
              open_only: bool = False) -> list[StepRecord]:
        q = select(S.steps)
        if run_id:
            q = q.where(S.steps.c.run_id == run_id)
        if cluster_id:
            q = q.where(S.steps.c.cluster_id == cluster_id)
        if open_only:
            q = q.where(S.steps.c.state.in_(OPEN_STEPS))
        with self.read() as conn:
            return [StepRecord.from_row(r) for r in _rows(conn.execute(q.order_by(S.steps.c.id)))]

    def next_actions(self, run_id: str) -> list[datetime]:
        """When the run's open steps next need the engine (their ``next_action_at``, where set)."""
        q = select(S.steps.c.next_action_at).where(S.steps.c.run_id == run_id,
                                                    S.steps.c.state.in_(OPEN_STEPS),
                                                    S.steps.c.next_action_at.is_not(None))
        with self.read() as conn:
            return [utc(r[0]) for r in conn.execute(q)]

    def step_count(self) -> int:
        with self.read() as conn:
            return int(conn.execute(select(func.count()).select_from(S.steps)).scalar() or 0)
