"""CLI conventions, end to end: -o/--output table|json|yaml|wide (unknown values exit 2, never a silent table),
--version, shell completion, FLEET_CONFIG, help text without type placeholders, one-line log records."""

from __future__ import annotations

import io
import json
import logging

import pytest
import yaml

from fleet.logs import TextFormatter
from tests.integration.fleetfiles import write_fleet

from .conftest import AT, EXAMPLE, run_fleet

COMMANDS = ["validate", "plan", "daemon", "apply", "status", "pause", "resume", "approve", "retry", "hold",
            "release", "history", "report", "forecast", "demo", "schema", "lifecycle show", "lifecycle load",
            "token hash"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_no_type_placeholders(command):
    r = run_fleet(*command.split(), "--help")
    assert r.returncode == 0, r.stderr
    for placeholder in ("<str>", "<bool>", "<path>", "<int"):
        assert placeholder not in r.stdout, (command, r.stdout)


def test_version_and_completion():
    from fleet import __version__
    r = run_fleet("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"fleet {__version__}"
    r = run_fleet("--show-completion", env={"SHELL": "/bin/bash"})
    assert r.returncode == 0 and "complete" in r.stdout and "fleet" in r.stdout, r.stderr


def test_output_formats_on_status_with_fleet_config(tmp_path):
    cfg = write_fleet(tmp_path, n=1)
    r = run_fleet("apply", "--config", str(cfg), "--once", "--init")
    assert r.returncode in (0, 1, 3), r.stderr           # one pass; the run may still be going
    env = {"FLEET_CONFIG": str(cfg)}
    as_json = json.loads(run_fleet("status", "-o", "json", env=env).stdout)
    as_yaml = yaml.safe_load(run_fleet("status", "--output", "yaml", env=env).stdout)
    assert as_json == as_yaml and "runs" in as_json
    wide = run_fleet("status", "-o", "wide", env=env)
    assert wide.returncode == 0 and "runs" in wide.stdout
    for cmd in (["status"], ["history", "eks/lab/c0"], ["plan", *EXAMPLE], ["lifecycle", "show"]):
        bad = run_fleet(*cmd, "-o", "xml", env=env)
        assert bad.returncode == 2 and "--output: output: must be one of table, json, yaml, wide" in bad.stderr, cmd
        assert bad.stdout == "", cmd                      # never a silent table
        old = run_fleet(*cmd, "--format", "yaml", env=env)
        assert old.returncode == 0 and yaml.safe_load(old.stdout) is not None, (cmd, old.stderr)


def test_report_output_and_out_file(tmp_path, lifecycle_env):
    r = run_fleet("report", *EXAMPLE, "--at", AT, "--no-forecast", "-o", "yaml", env=lifecycle_env)
    assert r.returncode == 0 and yaml.safe_load(r.stdout)["kind"] == "ComplianceReport"
    out = tmp_path / "r.json"
    r = run_fleet("report", *EXAMPLE, "--at", AT, "--no-forecast", "-o", "json", "--out-file", str(out),
                  env=lifecycle_env)
    assert r.returncode == 0 and r.stdout == "" and json.loads(out.read_text())["kind"] == "ComplianceReport"
    wide = run_fleet("report", *EXAMPLE, "--at", AT, "--no-forecast", "-o", "wide", env=lifecycle_env)
    assert "provider  location" in wide.stdout


def test_plan_json_timestamps_are_rfc3339_z():
    r = run_fleet("plan", *EXAMPLE, "--at", AT, "-o", "json")
    d = json.loads(r.stdout)
    assert d["at"] == AT and all(c["nextWindow"]["start"].endswith("Z") for c in d["clusters"] if c["nextWindow"])


def test_log_records_are_one_line_each():
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(TextFormatter())
    log = logging.getLogger("fleet.test-one-line")
    log.addHandler(handler)
    try:
        log.warning("discovery failed\nsecond line", extra={"provider": "eks", "reason": "HTTP 503:\nbad gateway"})
        try:
            raise ValueError("boom\nmore")
        except ValueError:
            log.exception("tick raised")
    finally:
        log.removeHandler(handler)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert "provider=eks" in lines[0] and 'reason="HTTP 503:\\nbad gateway"' in lines[0]
    assert "ValueError: boom\\nmore" in lines[1] and "Traceback" in lines[1]


def test_cluster_ids_are_never_wrapped_in_tables(tmp_path):
    from rich.console import Console

    from fleet.planning.plan import ClusterPlan, Plan
    from fleet.render import plan_table
    long_id = "capi/mgmt-eu-central-production-registry/edge-lab-with-a-very-long-name-indeed"
    cp = ClusterPlan(id=long_id, provider="capi", provider_type="capi", name="x", location="eu", labels={},
                     policy="p", status="up-to-date", control_plane="1.30.1", node_pools={},
                     reasons=["a long note " * 12])
    from datetime import UTC, datetime
    buf = Console(width=120, record=True, file=io.StringIO())
    buf.print(plan_table(Plan(datetime(2026, 8, 20, tzinfo=UTC), [cp])))
    assert long_id in buf.export_text()                      # whole, on one line
