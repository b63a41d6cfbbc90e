"""Hostile YAML files (issue 23): each is refused with exit 2 and ``file:line: ...``, within a time bound, by
``fleet validate`` and ``fleet plan`` run as real processes (so a crash of the C parser would show as a
signal, not pass unnoticed). Planning is read-only: nothing can be applied."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fleet.policy import source

HEAD = "apiVersion: fleet.dev/v1alpha1\nkind: UpgradePolicy\nmetadata:\n  name: web\n"
GOOD_INVENTORY = """apiVersion: fleet.dev/v1alpha1
kind: Inventory
clusters:
  - {provider: aks, location: westeurope, name: a, controlPlane: "1.30.1", nodePools: []}
"""
BOUND_S = 20.0  # wall-clock bound per command, start-up included, on a busy 2-core machine


def laughs() -> bytes:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    return (HEAD + "\n".join(lines) + "\nspec:\n  selector:\n    names: *a9\n").encode()


def oversized(path: Path) -> None:
    with open(path, "wb") as fh:
        fh.write(HEAD.encode() + b"spec:\n  description: ")
        chunk = b"x" * 2**20
        for _ in range(source.MAX_FILE_BYTES // len(chunk) + 1):
            fh.write(chunk)
        fh.write(b"\n")


def writer(data: bytes) -> Callable[[Path], None]:
    return lambda p: p.write_bytes(data)


# (id, write the file, expected line, text the message must contain)
CASES: list[tuple[str, Callable[[Path], None], int, str]] = [
    ("billion-laughs", lambda p: p.write_bytes(laughs()), 5, "aliases expand to more than"),
    ("deep-flow-500", writer((HEAD + "spec: " + "[" * 500 + "]" * 500 + "\n").encode()), 5,
     "nested more than 100 levels deep"),
    ("deep-block-500", writer((HEAD + "spec:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(500))
                               + " " * 501 + "leaf: 1\n").encode()), 105, "nested more than 100 levels deep"),
    ("deep-flow-200000", writer((HEAD + "spec: " + "[" * 200_000 + "]" * 200_000 + "\n").encode()), 5,
     "nested more than 100 levels deep"),
    ("huge-scalar", writer((HEAD + "spec:\n  description: " + "x" * (source.MAX_SCALAR_CHARS + 10) + "\n").encode()),
     6, "value longer than"),
    ("huge-integer", writer((HEAD + "spec:\n  priority: " + "9" * 5000 + "\n").encode()), 6,
     "integer longer than"),
    ("python-tag", writer((HEAD + "spec: !!python/object/apply:os.system ['touch /tmp/pwned']\n").encode()), 5,
     "YAML tag !!python/object/apply:os.system is not allowed"),
    ("python-name-tag", writer((HEAD + "spec:\n  priority: !!python/name:os.system\n").encode()), 6,
     "YAML tag !!python/name:os.system is not allowed"),
    ("duplicate-key", writer((HEAD + "spec:\n  priority: 1\n  priority: 2\n").encode()), 7,
     "duplicate key (first defined on line 6)"),
    ("nul-byte", writer((HEAD + "spec:\n  priority: \x001\n").encode()), 6, "character U+0000 is not allowed"),
    ("invalid-utf8", writer(HEAD.encode() + b"spec:\n  description: caf\xe9\n"), 6, "not UTF-8"),
    ("oversized", oversized, 6, "larger than the 32 MiB limit"),
]


def run_cli(*args: str) -> tuple[int, str, float]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "fleet.cli", *args], capture_output=True, text=True,
                          timeout=BOUND_S * 3, env=env)
    return proc.returncode, proc.stderr + proc.stdout, time.monotonic() - t0


@pytest.mark.parametrize(("name", "write", "line", "text"), CASES, ids=[c[0] for c in CASES])
def test_validate_refuses(tmp_path: Path, name: str, write: Callable[[Path], None], line: int, text: str) -> None:
    f = tmp_path / f"{name}.yaml"
    write(f)
    code, output, took = run_cli("validate", str(f))
    assert code == 2, output[-2000:]
    assert f"{f}:{line}: " in output and text in output, output[-2000:]
    assert took < BOUND_S, f"took {took:.1f} s"


@pytest.mark.parametrize(("name", "write", "line", "text"), CASES, ids=[c[0] for c in CASES])
def test_plan_refuses(tmp_path: Path, name: str, write: Callable[[Path], None], line: int, text: str) -> None:
    pol = tmp_path / "policies"
    pol.mkdir()
    f = pol / f"{name}.yaml"
    write(f)
    inv = tmp_path / "inventory.yaml"
    inv.write_text(GOOD_INVENTORY)
    code, output, took = run_cli("plan", "--policies", str(pol), "--inventory", str(inv))
    assert code == 2, output[-2000:]
    assert f"{f}:{line}: " in output and text in output, output[-2000:]
    assert "Traceback" not in output
    assert took < BOUND_S, f"took {took:.1f} s"


def test_fast_and_exact_paths_agree(tmp_path: Path) -> None:
    """The fast path builds the same values as the exact one, and finds lines on demand."""
    text = (HEAD + "spec:\n  selector: {matchLabels: {env: prod}, names: ['a-*', \"b\"]}\n"
            "  priority: 0x1f\n  maxFailures: ~\n  when: 2026-01-02\n  ratio: 1.5e3\n  flag: yes\n"
            "  anchors: {x: &v [1, 2], y: *v}\n---\n---\nkind: Inventory\n")
    fast = source.load_documents("f.yaml", text)
    exact = source.exact_documents("f.yaml", text)
    assert [d.data for d in fast] == [d.data for d in exact]
    assert [d.start_line for d in fast] == [d.start_line for d in exact]
    assert fast[0]._lines is None                      # no line map built while nothing needs one
    assert fast[0].line_of(("spec", "priority")) == 7
    assert fast[0].lines == exact[0].lines
    assert fast[2].line_of(("kind",)) == 15


def test_merge_keys_still_work() -> None:
    text = "base: &b {a: 1, b: 2}\nthing:\n  <<: *b\n  b: 3\n"
    (doc,) = source.load_documents("m.yaml", text)
    assert doc.data["thing"] == {"a": 1, "b": 3}
