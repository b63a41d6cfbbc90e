"""`fleet apply` and `fleet daemon` never silently start on a new store, a foreign or a corrupt one (#22)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.integration.fleetfiles import write_fleet

FLEET = shutil.which("fleet") or "fleet"


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([FLEET, *args], capture_output=True, text=True, timeout=timeout)


def _expect_existing(cfg) -> None:
    """The config without ``create: true``: the store is expected to exist."""
    cfg.write_text(cfg.read_text().replace("    create: true\n", ""))


def test_apply_and_daemon_refuse_a_missing_store_then_init_creates_it(tmp_path) -> None:
    cfg = write_fleet(tmp_path, n=1, cp="1h", pool="1h")
    _expect_existing(cfg)
    for cmd in (("apply", "--once"), ("daemon",)):
        r = run(*cmd, "--config", str(cfg))
        assert r.returncode != 0
        assert "state" in r.stderr and "fleet.db does not exist" in r.stderr and "--init" in r.stderr, r.stderr
        assert not (tmp_path / "state").exists()          # nothing half-created
    r = run("apply", "--once", "--init", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert run("status", "--config", str(cfg)).returncode == 0


def test_apply_refuses_an_emptied_store(tmp_path) -> None:
    cfg = write_fleet(tmp_path, n=1, cp="1h", pool="1h")
    assert run("apply", "--once", "--config", str(cfg)).returncode == 0     # create: true in the config
    _expect_existing(cfg)
    db = tmp_path / "state" / "fleet.db"
    for suffix in ("-wal", "-shm"):
        (tmp_path / "state" / f"fleet.db{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"")
    r = run("apply", "--once", "--config", str(cfg))
    assert r.returncode != 0 and "is empty (0 bytes)" in r.stderr, r.stderr
    assert db.stat().st_size == 0


# ---- two engines never act on one store -----------------------------------------------------------------


def test_the_engine_lock_refuses_a_second_engine_naming_the_holder(store_url) -> None:
    from fleet.state.errors import StoreBusyError
    from fleet.state.store import SqlStore
    first, second = SqlStore(store_url), SqlStore(store_url)
    try:
        first.lock_engine("fleet daemon (host a, pid 1)", [("engine", False)])
        with pytest.raises(StoreBusyError, match=r"in use by another engine: .*fleet daemon \(host a, pid 1\)"):
            second.lock_engine("fleet apply (host b, pid 2)", [("engine", False)])
        with pytest.raises(StoreBusyError):                      # nor may it join as a shared holder
            second.lock_engine("fleet daemon (host b, pid 2)", [("engine", True)])
        first.close()                                            # the holder goes: the store is free
        second.lock_engine("fleet apply (host b, pid 2)", [("engine", False)])
    finally:
        first.close()
        second.close()


def test_replicas_under_leader_election_and_distinct_shards_share_the_store(store_url) -> None:
    from fleet.state.errors import StoreBusyError
    from fleet.state.store import SqlStore
    a, b, c, d = (SqlStore(store_url) for _ in range(4))
    try:
        a.lock_engine("replica a", [("engine", True)])
        b.lock_engine("replica b", [("engine", True)])
        with pytest.raises(StoreBusyError, match="replica"):      # fleet apply beside elected daemons
            c.lock_engine("fleet apply", [("engine", False)])
        a.close()
        b.close()
        c.lock_engine("shard 0", [("engine", True), ("engine-shard-0", False)])
        d.lock_engine("shard 1", [("engine", True), ("engine-shard-1", False)])
        e = SqlStore(store_url)
        with pytest.raises(StoreBusyError, match="shard 1"):      # one shard, two engines
            e.lock_engine("shard 1 again", [("engine", True), ("engine-shard-1", False)])
        e.close()
    finally:
        for s in (a, b, c, d):
            s.close()


def test_apply_and_a_second_daemon_refuse_while_a_daemon_runs(tmp_path) -> None:
    import signal
    import time

    import httpx

    from tests.integration.fleetfiles import free_port
    port = free_port()
    cfg = write_fleet(tmp_path, n=1, cp="1h", pool="1h", port=port)
    log = tmp_path / "daemon.log"
    daemon = subprocess.Popen([FLEET, "daemon", "--config", str(cfg)], stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < end and daemon.poll() is None, log.read_text()
            time.sleep(0.2)
        r = run("apply", "--once", "--config", str(cfg))
        assert r.returncode != 0
        assert "in use by another engine: fleet daemon (shard 0/1)" in r.stderr and f"pid {daemon.pid}" in r.stderr
        other = tmp_path / "other.yaml"           # a second daemon on the same store, another port
        other.write_text(cfg.read_text().replace(f"127.0.0.1:{port}", f"127.0.0.1:{free_port()}"))
        r2 = run("daemon", "--config", str(other), timeout=60)
        assert r2.returncode != 0 and "in use by another engine" in r2.stderr, r2.stderr
        assert "step-dispatched" not in r.stdout
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
    assert run("apply", "--once", "--config", str(cfg)).returncode == 0     # once it has stopped, apply may run
