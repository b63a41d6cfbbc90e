"""Hostile values in otherwise well-formed files (issue #23): each one is refused by ``fleet validate`` and
``fleet plan`` with exit 2 and ``file:line: field: message`` within a time bound, and nothing is applied.
(File-level hostile YAML - billion laughs, deep nesting, tags, duplicate keys, NUL bytes, encodings,
oversized files - is the loader's table in tests/policy.)

docs/security.md lists this table with its results."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleet.cli import app
from tests.integration.fleetfiles import write_fleet

BOUND_S = 5.0   # each refusal, measured in process on a shared 2-core machine

POLICY = """apiVersion: fleet.dev/v1alpha1
kind: UpgradePolicy
metadata:
  name: hostile
spec:
  target:
    version: "1.30"
  maintenance:
    timezone: {tz}
    windows:
      - {window}
        start: "02:00"
        duration: {duration}
  rollout:
    maxConcurrentClusters: {concurrency}
"""

INVENTORY = """apiVersion: fleet.dev/v1alpha1
kind: Inventory
offers:
  eks: ["1.29.8", "1.30.4"]
clusters:
  - provider: eks
    location: lab
    name: {name}
    controlPlane: "1.29.8"
"""

BIG_INT = "9" * 5000
HOURS, MINUTES = ",".join(map(str, range(24))), ",".join(map(str, range(60)))
OK_WINDOW = "days: [Sat]"


def policy(*, tz: str = "UTC", window: str = OK_WINDOW, duration: str = "4h", concurrency: str = "1") -> str:
    return POLICY.format(tz=tz, window=window, duration=duration, concurrency=concurrency)


# (id, policy text, the line the error names, a word the message carries)
POLICY_CASES = [
    ("interval-0", policy(window='rrule: "FREQ=WEEKLY;INTERVAL=0;BYDAY=SA"'), 11, "INTERVAL"),
    ("interval-negative", policy(window='rrule: "FREQ=WEEKLY;INTERVAL=-1;BYDAY=SA"'), 11, "INTERVAL"),
    ("interval-huge", policy(window=f'rrule: "FREQ=WEEKLY;INTERVAL={BIG_INT[:40]};BYDAY=SA"'), 11, "INTERVAL"),
    ("count-0", policy(window='rrule: "FREQ=DAILY;COUNT=0"'), 11, "COUNT"),
    ("count-and-until", policy(window='rrule: "FREQ=DAILY;COUNT=3;UNTIL=20250101T000000"'), 11, "COUNT or UNTIL"),
    ("until-before-anchor", policy(window='rrule: "FREQ=DAILY;UNTIL=20200101T000000"'), 11, "UNTIL"),
    ("feb-30-daily", policy(window='rrule: "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"'), 11, "never open"),
    ("feb-30-yearly", policy(window='rrule: "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"'), 11, "never open"),
    ("apr-31-weekly", policy(window='rrule: "FREQ=WEEKLY;BYMONTH=4;BYMONTHDAY=31;BYDAY=MO"'), 11, "never open"),
    ("weekno-vs-month", policy(window='rrule: "FREQ=YEARLY;BYWEEKNO=1;BYMONTH=7"'), 11, "never open"),
    # rules that would generate millions of occurrences: sub-daily frequencies and times are refused
    ("freq-secondly", policy(window='rrule: "FREQ=SECONDLY"'), 11, "FREQ must be"),
    ("freq-minutely", policy(window='rrule: "FREQ=MINUTELY;INTERVAL=1"'), 11, "FREQ must be"),
    ("every-minute-of-the-day", policy(window=f'rrule: "FREQ=DAILY;BYHOUR={HOURS};BYMINUTE={MINUTES}"'), 11,
     "BYHOUR/BYMINUTE/BYSECOND"),
    ("count-huge", policy(window='rrule: "FREQ=DAILY;COUNT=100000000000000000000"'), 11, "COUNT"),
    ("exrule", policy(window='rrule: "FREQ=DAILY\\nEXRULE:FREQ=DAILY"'), 11, "one line"),
    ("duplicate-part", policy(window='rrule: "FREQ=DAILY;FREQ=WEEKLY"'), 11, "more than once"),
    ("bymonthday-range", policy(window='rrule: "FREQ=MONTHLY;BYMONTHDAY=32"'), 11, "out of range"),
    ("weekno-not-yearly", policy(window='rrule: "FREQ=MONTHLY;BYWEEKNO=3"'), 11, "BYWEEKNO"),
    ("duration-weeks-overflow", policy(duration="99999999999999w"), 13, "at most"),
    ("duration-5000-digits", policy(duration=BIG_INT + "s"), 13, "duration"),
    ("duration-int-huge", policy(duration=BIG_INT[:30]), 13, "at most"),
    ("concurrency-huge", policy(concurrency=BIG_INT[:4000]), 15, "less than or equal"),
    ("tz-etc-gmt+14", policy(tz="Etc/GMT+14"), 9, "time zone"),
    ("tz-path", policy(tz='"../../etc/passwd"'), 9, "time zone"),
]


def _invoke(args: list[str]) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    res = CliRunner().invoke(app, args)
    return res.exit_code, res.output + (res.stderr if res.stderr_bytes is not None else ""), time.perf_counter() - t0


@pytest.mark.parametrize("text,line,word", [c[1:] for c in POLICY_CASES], ids=[c[0] for c in POLICY_CASES])
def test_hostile_policy_values_are_refused_with_file_and_line(tmp_path: Path, text: str, line: int, word: str):
    pol = tmp_path / "p.yaml"
    pol.write_text(text)
    inv = tmp_path / "inv.yaml"
    inv.write_text(INVENTORY.format(name="c1"))
    for args in (["validate", str(pol)], ["plan", "--policies", str(pol), "--inventory", str(inv)]):
        code, output, took = _invoke(args)
        assert code == 2, (args, output)
        assert re.search(rf"{re.escape(str(pol))}:{line}: ", output), output
        assert word.lower() in output.lower(), output
        assert "Traceback" not in output
        assert took < BOUND_S, (args, took)


NAME_CASES = [
    ("dot-dot-slash", '"../../etc"'),
    ("shell", '"c1;rm -rf /"'),
    ("backticks", '"`id`"'),
    ("dollar", '"$(reboot)"'),
    ("space", '"c 1"'),
    ("newline", '"c1\\nX-Injected: 1"'),
    ("very-long", "a" * 300),
    ("dot-dot", '".."'),
]


@pytest.mark.parametrize("name", [c[1] for c in NAME_CASES], ids=[c[0] for c in NAME_CASES])
def test_hostile_cluster_names_are_refused(tmp_path: Path, name: str):
    inv = tmp_path / "inv.yaml"
    inv.write_text(INVENTORY.format(name=name))
    code, output, took = _invoke(["validate", str(inv)])
    assert code == 2, output
    assert re.search(rf"{re.escape(str(inv))}:8: clusters\[0\]\.name", output), output
    assert took < BOUND_S


CONFIG_CASES = [
    ("lease-0s", "  leaderElection:\n    backend: database\n    leaseDuration: 0s\n", "leaderElection.leaseDuration"),
    ("interval-0s", None, "reconcileInterval"),
    ("shards-huge", f"  shards: {BIG_INT[:3000]}\n", "shards"),
]


@pytest.mark.parametrize("extra,field", [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES])
def test_hostile_config_values_are_refused(tmp_path: Path, extra: str | None, field: str):
    cfg = write_fleet(tmp_path, interval="0s" if extra is None else "1s")
    if extra is not None:
        cfg.write_text(cfg.read_text() + extra)
    code, output, took = _invoke(["validate", str(cfg)])
    assert code == 2, output
    assert re.search(rf"{re.escape(str(cfg))}:\d+: spec\.{field}", output), output
    assert took < BOUND_S
    # and nothing is applied: apply refuses before it creates the state store
    code, output, _ = _invoke(["apply", "--config", str(cfg), "--once"])
    assert code == 2, output
    assert not (tmp_path / "state" / "fleet.db").exists()


def test_a_window_that_opens_rarely_but_surely_is_accepted(tmp_path: Path):
    pol = tmp_path / "p.yaml"
    pol.write_text(policy(window='rrule: "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"'))   # leap days: 2024, 2028
    code, output, took = _invoke(["validate", str(pol)])
    assert code == 0, output
    assert took < BOUND_S


def test_plan_past_its_budget_exits_1_naming_what_it_was_doing(tmp_path: Path, monkeypatch):
    """A budget too small for any plan (set through the module constant): the planner stops at its next
    safe point and the command says where, instead of running on."""
    from fleet.cli import plan as plan_cmd
    monkeypatch.setattr(plan_cmd, "PLAN_BUDGET_S", 0.0)
    pol = tmp_path / "p.yaml"
    pol.write_text(policy())
    inv = tmp_path / "inv.yaml"
    inv.write_text(INVENTORY.format(name="c1"))
    code, output, took = _invoke(["plan", "--policies", str(pol), "--inventory", str(inv)])
    assert code == 1, output
    assert "planning exceeded its budget" in output and "eks/lab/c1" in output
