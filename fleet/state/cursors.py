"""Notification cursors: per webhook endpoint, the id of the last event it has dealt with.

A cursor is a ``control`` row keyed ``notify.cursor.<endpoint name>``. Both stores keep control rows with
the same methods (``get_control``, ``write`` + ``set_control``), so one implementation serves the SQL store
and the memory store alike; :class:`Cursors` is a mixin of both.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

CURSOR_PREFIX = "notify.cursor."


def cursor_key(endpoint: str) -> str:
    return CURSOR_PREFIX + endpoint


class _ControlRows(Protocol):
    def get_control(self, key: str, default: Any = None) -> Any: ...

    def write(self, what: str = ...) -> AbstractContextManager[Any]: ...

    def set_control(self, conn: Any, key: str, value: Any) -> None: ...


class Cursors:
    """Read and move notification cursors (one committed transaction per move)."""

    def notify_cursor(self: _ControlRows, endpoint: str) -> int | None:
        """The endpoint's cursor; None for an endpoint that has none yet."""
        value = self.get_control(cursor_key(endpoint))
        return None if value is None else int(value)

    def set_notify_cursor(self: _ControlRows, endpoint: str, event_id: int) -> None:
        with self.write("notify cursor") as conn:
            self.set_control(conn, cursor_key(endpoint), int(event_id))
