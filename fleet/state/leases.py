"""Leases: the ``leases`` table, read and changed only by compare-and-set (leader election and fencing).

A lease row carries its holder, its epoch (one more on every change of holder), when it was last renewed
and when it expires. Every change below is one transaction that first reads the row (``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite serialises writers itself) and then updates it only where it still carries
what was read, so of two replicas racing for an expired lease exactly one wins.

Lease transactions go straight to the engine, never through ``Store.write``: they are what the store's
write fence checks against, so they are not fenced themselves.

* :class:`SqlLeases` is the SQL store's implementation; :class:`MemoryLeases` the memory store's, which
  refuses (a memory store has exactly one writer, its process, and the daemon never runs on one).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from fleet.clock import utc
from fleet.errors import StateError
from fleet.state import schema as S


@dataclass(frozen=True)
class LeaseRecord:
    """One row of the ``leases`` table."""

    name: str
    holder: str
    epoch: int
    renewed_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class LeaseClaim:
    """The outcome of one acquire-or-renew: ``epoch`` is the epoch now held (None: not granted, somebody
    else holds the lease or won the race); ``seen`` the holder the row had before (None: there was no row)."""

    epoch: int | None
    seen: str | None


class SqlLeases:
    """Lease compare-and-set on the SQL store's ``leases`` table (a mixin of fleet.state.store's store)."""

    engine: Engine

    @contextmanager
    def _lease_tx(self, name: str) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StateError(f"lease {name}: {exc.__class__.__name__}") from exc

    def lease(self, name: str) -> LeaseRecord | None:
        """The lease row ``name``, if there is one."""
        with self._lease_tx(name) as conn:
            r = conn.execute(select(S.leases).where(S.leases.c.name == name)).first()
        if r is None:
            return None
        return LeaseRecord(r.name, r.holder, int(r.epoch), utc(r.renewed_at), utc(r.expires_at))

    def acquire_lease(self, name: str, holder: str, now: datetime, duration: timedelta) -> LeaseClaim:
        """Take the lease for ``holder`` (a new row starts at epoch 1), renew it when ``holder`` has it, or take
        it over (epoch + 1) once it has expired; each a compare-and-set on the row as read."""
        L = S.leases
        with self._lease_tx(name) as conn:
            q = select(L.c.holder, L.c.epoch, L.c.expires_at).where(L.c.name == name)
            if conn.dialect.name == "postgresql":
                q = q.with_for_update()
            row = conn.execute(q).first()
            expires = now + duration
            if row is None:
                conn.execute(insert(L).values(name=name, holder=holder, epoch=1, renewed_at=now, expires_at=expires))
                return LeaseClaim(1, None)
            seen, epoch, expires_at = row
            if seen == holder:
                n = conn.execute(update(L).where(L.c.name == name, L.c.holder == holder, L.c.epoch == epoch)
                                 .values(renewed_at=now, expires_at=expires)).rowcount
                return LeaseClaim(epoch if n == 1 else None, seen)
            if utc(expires_at) > now:
                return LeaseClaim(None, seen)
            n = conn.execute(update(L).where(L.c.name == name, L.c.holder == seen, L.c.epoch == epoch)
                             .values(holder=holder, epoch=epoch + 1, renewed_at=now, expires_at=expires)).rowcount
            return LeaseClaim(epoch + 1 if n == 1 else None, seen)

    def release_lease(self, name: str, holder: str, epoch: int, now: datetime) -> None:
        """Let the lease expire now, if ``holder`` still holds it at ``epoch``."""
        L = S.leases
        with self._lease_tx(name) as conn:
            conn.execute(update(L).where(L.c.name == name, L.c.holder == holder, L.c.epoch == epoch)
                         .values(expires_at=now))

    def raise_lease(self, name: str, holder: str, epoch: int, now: datetime, duration: timedelta) -> int | None:
        """Write an externally decided lease (a Kubernetes Lease at ``epoch``) through to the row: it only ever
        raises the row's epoch. Returns None when the row now carries ``epoch`` held by ``holder``, else the
        row's epoch, which is ahead (or equal, with another holder) and was left alone."""
        L = S.leases
        with self._lease_tx(name) as conn:
            q = select(L.c.holder, L.c.epoch).where(L.c.name == name)
            if conn.dialect.name == "postgresql":
                q = q.with_for_update()
            row = conn.execute(q).first()
            values = {"holder": holder, "epoch": epoch, "renewed_at": now, "expires_at": now + duration}
            if row is None:
                conn.execute(insert(L).values(name=name, **values))
            elif row.epoch < epoch or (row.epoch == epoch and row.holder == holder):
                conn.execute(update(L).where(L.c.name == name, L.c.epoch == row.epoch).values(**values))
            else:
                return int(row.epoch)
        return None


class MemoryLeases:
    """The memory store has no leases: it has exactly one writer (its process) and nothing to fence."""

    def _no_leases(self, name: str) -> StateError:
        return StateError(f"lease {name}: leases need a SQL state store (sqlite:// or postgresql://)")

    def lease(self, name: str) -> LeaseRecord | None:
        raise self._no_leases(name)

    def acquire_lease(self, name: str, holder: str, now: datetime, duration: timedelta) -> LeaseClaim:
        raise self._no_leases(name)

    def release_lease(self, name: str, holder: str, epoch: int, now: datetime) -> None:
        raise self._no_leases(name)

    def raise_lease(self, name: str, holder: str, epoch: int, now: datetime, duration: timedelta) -> int | None:
        raise self._no_leases(name)
