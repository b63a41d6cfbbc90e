"""The SQLite store survives a kill at any point of its first-start migration, and two processes starting on
one fresh file both start (issue #22: "table runs already exists" on every restart)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fleet.state.store import SqlStore

# A child process that opens the store and dies (os._exit: no clean-up, as SIGKILL) right after its Nth DDL
# statement (CREATE TABLE / CREATE INDEX) reached SQLite; with N = 0 it only counts them.
_KILL_AT_DDL = textwrap.dedent("""
    import os, sys
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    kill_at = int(sys.argv[2])
    seen = 0

    @event.listens_for(Engine, "after_cursor_execute")
    def _after(conn, cursor, statement, *a):
        global seen
        if statement.lstrip().upper().startswith("CREATE"):
            seen += 1
            if seen == kill_at:
                os._exit(9)

    from fleet.state.store import SqlStore
    SqlStore(sys.argv[1], ).close()
    print(seen)
""")


def _child(url: str, kill_at: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _KILL_AT_DDL, url, str(kill_at)], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[2])


def test_a_kill_at_every_ddl_point_of_the_first_migration_leaves_a_store_that_starts(tmp_path) -> None:
    counted = _child(f"sqlite:///{tmp_path}/count.db", 0)
    assert counted.returncode == 0, counted.stderr
    ddl = int(counted.stdout.split()[-1])
    assert ddl >= 7                           # 6 tables + alembic_version and their indexes
    for k in range(1, ddl + 1):
        url = f"sqlite:///{tmp_path}/kill{k}.db"
        killed = _child(url, k)
        assert killed.returncode == 9, (k, killed.stderr)
        store = SqlStore(url, )    # the restart
        assert store.schema_version() == "0001", k
        assert store.runs() == []
        store.close()


_START = textwrap.dedent("""
    import sys, time
    t0 = float(sys.argv[2])
    while time.time() < t0:
        pass
    from fleet.state.store import SqlStore
    s = SqlStore(sys.argv[1], )
    print(s.schema_version())
    s.close()
""")


@pytest.mark.parametrize("attempt", range(3))
def test_two_processes_starting_on_one_fresh_file_both_start(tmp_path, attempt) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    t0 = time.time() + 3.0
    root = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen([sys.executable, "-c", _START, url, str(t0)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=root) for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "0001"
