"""What a row may hold: checked at the store boundary, before the write, on every store alike.

PostgreSQL refuses a NUL character in any text (psycopg: "PostgreSQL text fields cannot contain NUL (0x00)
bytes"; https://www.postgresql.org/docs/current/datatype-character.html: "the character with code zero
... cannot be stored") and a string longer than its ``VARCHAR(n)`` ("value too long for type character
varying(n)"), each as a DataError that rolls the whole transaction back. SQLite would store both. So that one
such value fails only what it belongs to - and fails the same way on SQLite, PostgreSQL and the memory store -
every string written is checked against its column here and refused with UnstorableValueError, which names
the column and the cluster and never carries the raw value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import String, Table

from fleet.state import schema as S
from fleet.state.errors import UnstorableValueError

_LENGTHS: dict[str, dict[str, int | None]] = {}     # table name -> column name -> VARCHAR length (None: text)


def _lengths(table: Table) -> dict[str, int | None]:
    got = _LENGTHS.get(table.name)
    if got is None:
        got = _LENGTHS[table.name] = {c.name: c.type.length if isinstance(c.type, String) else None
                                      for c in table.columns}
    return got


def _length(table: Table, name: str) -> int | None:
    return _lengths(table).get(name)


CLUSTER_ID_MAX = _length(S.run_clusters, "cluster_id")


def _reason(value: str, limit: int | None) -> str | None:
    nul = value.find("\x00")
    if nul >= 0:
        return f"it contains a NUL character (at position {nul}), which PostgreSQL cannot store"
    if limit is not None and len(value) > limit:
        return f"it is {len(value)} characters long, longer than {limit}"
    return None


def unstorable_reason(cluster_id: str) -> str | None:
    """Why ``cluster_id`` cannot be stored (None: it can) - for a caller that wants to set such a cluster aside
    before it writes anything about it."""
    return _reason(cluster_id, CLUSTER_ID_MAX)


def _first_unstorable(table: Table, values: Mapping[str, Any]) -> tuple[str, str] | None:
    for name, value in values.items():
        if isinstance(value, str) and name in table.c:
            why = _reason(value, _length(table, name))
            if why is not None:
                return name, why
    return None


def unstorable_field(table: str, values: Mapping[str, Any]) -> str | None:
    """Why a row of ``table`` (by name: "run_clusters", "steps", ...) holding ``values`` cannot be stored, as
    "<table>.<column>: <why>" (no raw value), or None - for a caller that sets a cluster aside before it writes
    anything about it."""
    found = _first_unstorable(S.metadata.tables[table], values)
    return None if found is None else f"{table}.{found[0]}: {found[1]}"


def check_row(table: Table, values: Mapping[str, Any], *, cluster_id: str | None = None) -> None:
    """Raise UnstorableValueError for the first string in ``values`` that ``table`` cannot hold."""
    found = _first_unstorable(table, values)
    if found is None:
        return
    name, why = found
    value = values[name]
    cid = cluster_id if cluster_id is not None else values.get("cluster_id")
    preview = repr(value[:40]) + ("..." if len(value) > 40 else "")
    raise UnstorableValueError(f"{table.name}.{name}", f"{why}; value {preview}",
                               cluster_id=cid if isinstance(cid, str) else None)
