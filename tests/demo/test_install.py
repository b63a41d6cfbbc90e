"""A fresh virtual environment gets fleet the way the README's Quick start installs it (`pip install <repo>`,
the base install), and `fleet --help` / `fleet demo --help` work there. Without the cloud SDK extras,
`fleet demo` stops at once with the command that installs them."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_FILES = ("pyproject.toml", "README.md", "fleet", "providers")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "fleet-demo")


def _run(argv: list[str], timeout: float, **kw) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False, **kw)


def readme_install_command(root: Path) -> list[str]:
    """The install half of the README's `... && fleet demo` Quick start line, as argv."""
    readme = root / "README.md"
    assert readme.is_file(), "README.md (with the Quick start `pip install ... && fleet demo`) is missing"
    text = readme.read_text(encoding="utf-8")
    m = re.search(r"^\s*(pip install [^\n&]+?)\s*&&\s*fleet demo\s*$", text, re.M)
    assert m, "README.md's Quick start has a line `pip install ... && fleet demo`"
    return shlex.split(m.group(1))


@pytest.mark.slow
def test_fresh_venv_install_runs_the_cli(tmp_path: Path) -> None:
    check_fresh_install(ROOT, tmp_path)


def check_fresh_install(root: Path, tmp_path: Path) -> None:
    argv = readme_install_command(root)
    assert argv[:2] == ["pip", "install"] and argv[2].startswith("."), argv   # pip install .[extras]: the repo
    src = tmp_path / "src"
    src.mkdir()
    for name in PACKAGE_FILES:
        p = root / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=IGNORE)
        else:
            shutil.copy2(p, src / name)
    venv = tmp_path / "venv"
    r = _run([sys.executable, "-m", "venv", str(venv)], 120)
    assert r.returncode == 0, r.stderr
    bin_ = venv / "bin"
    r = _run([str(bin_ / "python"), "-m", "pip", "install", "-q", str(src)], 600)   # the base form: pip install <repo>
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    fleet = str(bin_ / "fleet")
    r = _run([fleet, "--help"], 60)
    assert r.returncode == 0, r.stderr
    for cmd in ("plan", "daemon", "demo", "schema"):
        assert cmd in r.stdout
    r = _run([fleet, "demo", "--help"], 60)
    assert r.returncode == 0, r.stderr
    assert "--short" in r.stdout and "--keep" in r.stdout
    r = _run([fleet, "demo", "--dir", str(tmp_path / "d")], 60, cwd=tmp_path)
    assert r.returncode == 1
    assert "pip install '.[demo]'" in r.stderr and "moto" in r.stderr, r.stderr
    assert not (tmp_path / "d").exists(), "nothing is written before the check"
    r = _run([fleet, "schema", "policy"], 60)
    assert r.returncode == 0 and '"$schema"' in r.stdout
