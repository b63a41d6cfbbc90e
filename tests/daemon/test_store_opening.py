"""`fleet apply` and `fleet daemon` never silently start on a new store, a foreign or a corrupt one (#22)."""

from __future__ import annotations

import shutil
import subprocess

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
