"""The engine lock: two engines never act on one state store by accident.

An engine (``fleet apply``, ``fleet daemon``) claims the store before it acts and holds the claim until its
store is closed (or its process ends: the operating system or the database drops the lock with it). A claim
is a list of ``(scope, shared)`` pairs; fleet.runtime.claim_engine decides them:

* ``fleet apply`` and a daemon without leader election: ``engine`` exclusive - nothing else may act;
* daemons with leader election: ``engine`` shared - they take turns through the lease (fleet.daemon.leader),
  which already guarantees one actor, so only an engine *outside* the election is kept out;
* sharded daemons (``--shard i/n``): ``engine`` shared plus ``engine-shard-i`` (exclusive without leader
  election, shared with it), so shards run side by side but one shard never has two engines and
  ``fleet apply`` (which owns every cluster) never runs beside any of them.

SQLite: ``flock(2)`` on a lock file next to the database (``<db>.<scope>.lock``), LOCK_EX or LOCK_SH,
non-blocking; the file names its last holders. PostgreSQL: a session-level advisory lock
(``pg_try_advisory_lock`` / ``pg_try_advisory_lock_shared``, https://www.postgresql.org/docs/current/
functions-admin.html#FUNCTIONS-ADVISORY-LOCKS) on a connection held for the engine's life, keyed by the
schema and the scope, with ``application_name`` naming the holder; a refusal names the holders from
``pg_locks`` joined with ``pg_stat_activity``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine

from fleet.state.errors import StoreBusyError

LOCK_CLASS = 727002     # advisory lock key space of fleet's engine locks (727001: the migrator)
Claim = tuple[str, bool]  # (scope, shared)


def describe_holder(role: str) -> str:
    return f"{role} (host {socket.gethostname()}, pid {os.getpid()})"


@dataclass
class EngineLock:
    """Held claims; ``release()`` gives them up (also done by SqlStore.close)."""

    files: list[int] = field(default_factory=list)
    conn: Connection | None = None

    def release(self) -> None:
        for fd in self.files:
            with contextlib.suppress(OSError):
                os.close(fd)               # closing the descriptor drops its flock
        self.files = []
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.invalidate()     # end the session: PostgreSQL drops its advisory locks
                self.conn.close()
            self.conn = None


def lock_file_claims(db: Path, holder: str, claims: list[Claim]) -> EngineLock:
    held = EngineLock()
    try:
        for scope, shared in claims:
            path = db.with_name(f"{db.name}.{scope}.lock")
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            except BlockingIOError:
                who = _read_holders(fd)
                os.close(fd)
                raise StoreBusyError(f"state store {db} is in use by another engine: {who} holds {path.name}; "
                                     "stop it first (or use leader election for several daemons)") from None
            held.files.append(fd)
            _write_holder(fd, holder, shared)
    except BaseException:
        held.release()
        raise
    return held


def _write_holder(fd: int, holder: str, shared: bool) -> None:
    if shared:
        os.lseek(fd, 0, os.SEEK_END)
    else:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, (holder + "\n").encode())


def _read_holders(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    lines = os.read(fd, 65536).decode(errors="replace").splitlines()
    return ", ".join(lines[-3:]) or "an unnamed process"


def advisory_claims(engine: Engine, holder: str, claims: list[Claim]) -> EngineLock:
    conn = engine.connect()
    held = EngineLock(conn=conn)
    try:
        conn.execute(text("SELECT set_config('application_name', :n, false)"), {"n": f"fleet {holder}"[:63]})
        schema = conn.execute(text("SELECT current_schema()")).scalar()
        for scope, shared in claims:
            key = zlib.crc32(f"{schema}/{scope}".encode()) & 0x7FFFFFFF
            fn = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
            if not conn.execute(text(f"SELECT {fn}(:c, :k)"), {"c": LOCK_CLASS, "k": key}).scalar():
                who = _pg_holders(conn, key)
                conn.commit()
                raise StoreBusyError(f"state store (schema {schema}) is in use by another engine: {who} holds "
                                     f"the {scope} lock; stop it first (or use leader election for several daemons)")
        conn.commit()
    except BaseException:
        held.release()
        raise
    return held


def _pg_holders(conn: Connection, key: int) -> str:
    rows: list[Any] = list(conn.execute(text(
        "SELECT a.application_name, a.client_addr, a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.classid = :c AND l.objid = :k AND l.objsubid = 2 AND l.granted "
        "AND l.pid <> pg_backend_pid()"), {"c": LOCK_CLASS, "k": key}))
    return ", ".join(f"{r[0] or 'a session'} (backend pid {r[2]}, client {r[1] or 'local'})" for r in rows[:3]) \
        or "another session"
