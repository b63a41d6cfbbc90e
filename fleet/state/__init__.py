"""fleet.state owns persistence: the Store protocol (base), its SQL (store) and in-process (memory)
implementations, and the tables (schema). ``open_store`` picks the implementation for a state URL."""

from __future__ import annotations

from fleet.state.base import Store

__all__ = ["Store", "open_store"]


def open_store(url: str, *, migrate: bool = True) -> Store:
    """The store for a state URL: ``memory://`` for a throw-away in-process store, else SQLAlchemy."""
    if url == "memory://":
        from fleet.state.memory import MemoryStore
        return MemoryStore(url)
    from fleet.state.store import SqlStore
    return SqlStore(url, migrate=migrate)
