"""Errors of the state store, all StateError (fleet.errors):

    StateError
     ├── StoreMissingError     a store was expected and there is none (missing/empty file, empty database)
     ├── StoreCorruptError     SQLite's quick_check (or opening the file) failed
     ├── ForeignStoreError     the database holds tables that are not fleet's
     ├── StoreBusyError        another engine holds the store (the engine lock, fleet.state.engine_lock)
     └── UnstorableValueError  a value cannot be stored (NUL character, longer than its column); raised
                               before the write, so the caller can fail just the row's cluster
"""

from __future__ import annotations

from fleet.errors import StateError


class StoreMissingError(StateError):
    pass


class StoreCorruptError(StateError):
    pass


class ForeignStoreError(StateError):
    pass


class StoreBusyError(StateError):
    pass


class UnstorableValueError(StateError):
    """``field`` of a row for ``cluster_id`` cannot be stored (``reason``)."""

    def __init__(self, field: str, reason: str, *, cluster_id: str | None = None):
        self.field = field
        self.reason = reason
        self.cluster_id = cluster_id
        super().__init__(f"cannot store {field}: {reason}")
