"""The SQLite store survives a kill at any point of its first-start migration, and two processes starting on
one fresh file both start (issue #22: "table runs already exists" on every restart)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fleet.state.errors import ForeignStoreError, StoreCorruptError, StoreMissingError
from fleet.state.store import SqlStore

HEAD = "0002_gates"              # the newest migration (fleet/state/migrations/versions)

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
    SqlStore(sys.argv[1], create=True).close()
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
        store = SqlStore(url, create=True)    # the restart
        assert store.schema_version() == HEAD, k
        assert store.runs() == []
        store.close()


_START = textwrap.dedent("""
    import sys, time
    t0 = float(sys.argv[2])
    while time.time() < t0:
        pass
    from fleet.state.store import SqlStore
    s = SqlStore(sys.argv[1], create=True)
    print(s.schema_version())
    s.close()
""")


@pytest.mark.parametrize("attempt", range(8))
def test_two_processes_starting_on_one_fresh_file_both_start(tmp_path, attempt) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    t0 = time.time() + 3.0
    root = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen([sys.executable, "-c", _START, url, str(t0)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=root) for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == HEAD


# ---- a store that was expected is never silently replaced -----------------------------------------------


def test_a_missing_file_is_refused_and_nothing_is_created(tmp_path) -> None:
    db = tmp_path / "state" / "fleet.db"
    with pytest.raises(StoreMissingError, match=f"{db} does not exist.*--init"):
        SqlStore(f"sqlite:///{db}", create=False)
    assert not (tmp_path / "state").exists()


def test_a_zero_length_file_is_refused_and_left_alone(tmp_path) -> None:
    db = tmp_path / "fleet.db"
    db.write_bytes(b"")
    with pytest.raises(StoreMissingError, match="is empty"):
        SqlStore(f"sqlite:///{db}", create=False)
    assert db.stat().st_size == 0
    SqlStore(f"sqlite:///{db}", create=True).close()        # told to create it: it is created
    SqlStore(f"sqlite:///{db}", create=False).close()       # and from then on it is expected


def test_an_empty_database_is_refused_unless_told_to_create(store_url) -> None:
    with pytest.raises(StoreMissingError, match="holds no fleet state"):
        _empty_then_open(store_url)
    SqlStore(store_url, create=True).close()


def _empty_then_open(url: str) -> None:
    from sqlalchemy import create_engine
    if url.startswith("sqlite"):       # an existing, valid, empty SQLite database (not 0 bytes)
        eng = create_engine(url)
        with eng.begin() as c:
            c.exec_driver_sql("PRAGMA user_version=1")
        eng.dispose()
    SqlStore(url, create=False)


def test_a_database_with_foreign_tables_is_refused_and_not_touched(store_url) -> None:
    from sqlalchemy import create_engine, inspect
    eng = create_engine(store_url)
    with eng.begin() as c:
        c.exec_driver_sql("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    with pytest.raises(ForeignStoreError, match="not fleet's \\(invoices\\)"):
        SqlStore(store_url, create=True)
    with eng.connect() as c:
        assert inspect(c).get_table_names() == ["invoices"]
    eng.dispose()


def test_a_corrupt_sqlite_file_is_refused_naming_the_file(tmp_path) -> None:
    db = tmp_path / "fleet.db"
    store = SqlStore(f"sqlite:///{db}", create=True)
    from datetime import UTC, datetime

    from fleet.execution.model import RunStatus
    t = datetime(2026, 1, 1, tzinfo=UTC)
    with store.write() as tx:
        for i in range(200):
            store.insert_run(tx, id=f"r{i}", policy="p" * 200, policy_snapshot={}, status=RunStatus.DONE.value,
                             failures=0, approved_waves=[], wave_done_at={}, created_at=t, updated_at=t, shard=0)
    store.close()
    raw = bytearray(db.read_bytes())
    raw[4096 * 3: 4096 * 3 + 200] = b"\xff" * 200        # scribble over an interior page
    db.write_bytes(bytes(raw))
    with pytest.raises(StoreCorruptError, match=str(db)):
        SqlStore(f"sqlite:///{db}", create=False)


def test_a_file_that_is_not_a_database_is_refused_naming_the_file(tmp_path) -> None:
    db = tmp_path / "fleet.db"
    db.write_text("this is not SQLite\n" * 100)
    with pytest.raises(StoreCorruptError, match=str(db)):
        SqlStore(f"sqlite:///{db}", create=True)
    assert db.read_text().startswith("this is not SQLite")
