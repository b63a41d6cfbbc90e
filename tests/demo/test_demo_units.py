"""The demo's parts, each on its own: working folder, policies, scenario, live view, verdicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from fleet.demo import scenario as S
from fleet.demo.outcome import compute_verdict
from fleet.demo.workspace import ADAPTED, POLICIES, write_policies, write_workspace

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 23, tzinfo=UTC)


# ---- working folder -------------------------------------------------------------------------------------

def test_prepare_directory_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    from fleet.demo.run import MARKER, prepare_directory
    from fleet.errors import InputError
    mine = tmp_path / "new"
    prepare_directory(mine)
    assert (mine / MARKER).exists()
    (mine / "state").mkdir()
    (mine / "state" / "fleet.db").write_text("old")
    prepare_directory(mine)
    assert sorted(p.name for p in mine.iterdir()) == [MARKER], "an earlier demo's files are replaced"
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(InputError) as exc:
        prepare_directory(foreign)
    assert "not empty" in str(exc.value.problems[0])
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_workspace_loads_with_fleets_loader(tmp_path: Path) -> None:
    from fleet.policy.loader import load_config, load_policies, resolve_path
    providers = [{"name": "sim", "type": "sim", "settings": {}}]
    cfg_file = write_workspace(tmp_path, providers, "127.0.0.1:18080")
    cfg = load_config(cfg_file)
    assert cfg.spec.http.listen == "127.0.0.1:18080"
    assert cfg.spec.state.url == "sqlite:///state/fleet.db"
    token = resolve_path(cfg_file, cfg.spec.http.token_file)
    assert token.stat().st_mode & 0o077 == 0, "the API token is readable by its owner only"
    assert len(token.read_text().strip()) >= 24
    names = {p.name for p in load_policies(resolve_path(cfg_file, cfg.spec.policies))}
    assert names == set(POLICIES)


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """path -> leaf value; list items keep their index in the value path but not in the field path."""
    out: dict[str, Any] = {}
    if isinstance(node, dict):
        for k, v in node.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else k))
    elif isinstance(node, list) and node and isinstance(node[0], dict):
        for i, v in enumerate(node):
            for k, leaf in _flatten(v, prefix).items():
                out[f"{k}#{i}"] = leaf
    else:
        out[prefix] = node
    return out


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_demo_policies_differ_from_the_examples_only_where_stated(tmp_path: Path, name: str) -> None:
    [path] = [p for p in write_policies(tmp_path) if p.stem == name]
    demo = _flatten(yaml.safe_load(path.read_text()))
    example = _flatten(yaml.safe_load((ROOT / "policies" / "examples" / f"{name}.yaml").read_text()))

    def field(key: str) -> str:
        return key.split("#")[0]
    adapted = ADAPTED[name]
    differing = {field(k) for k in demo.keys() | example.keys() if demo.get(k) != example.get(k)}
    assert differing <= {f for f in differing if any(f.startswith(a) for a in adapted)}, differing
    for a in adapted:
        assert any(d.startswith(a) for d in differing), f"{name}: {a} is listed as adapted but is not"
    assert path.read_text().startswith(f"# From policies/examples/{name}.yaml")


def test_every_demo_policy_has_windows_inside_the_demo_week(tmp_path: Path) -> None:
    from fleet.planning.planner import compile_policies
    from fleet.policy.loader import load_policies
    write_policies(tmp_path)
    for c in compile_policies(load_policies(tmp_path)):
        opens = c.schedule.openings(S.SCENARIO_START - timedelta(days=1), S.SCENARIO_START + timedelta(days=6))
        assert len(opens) >= 2, c.policy.name


# ---- scenario -------------------------------------------------------------------------------------------

def test_scenario_covers_six_providers_with_two_dozen_clusters() -> None:
    full, short = S.scenario_clusters(False), S.scenario_clusters(True)
    assert len(full) == 24 and {c.provider for c in full} == set(S.PROVIDERS)
    assert len({(c.provider, c.name) for c in full}) == len(full)
    for p in S.PROVIDERS:
        assert sum(c.provider == p for c in short) == 2, p
    assert S.SCENARIO_START.weekday() == 0


def test_scenario_has_clusters_past_end_of_standard_support_on_its_start_date() -> None:
    from fleet.reports.lifecycle import load_builtin
    lc = load_builtin()
    past = []
    for c in S.CLUSTERS:
        support = lc.support((c.provider,), c.version)
        assert support.known, c
        if support.end_of_standard is not None and support.end_of_standard <= S.SCENARIO_START.date():
            past.append(c.name)
    assert len(past) >= 5, past
    assert len(past) < len(S.CLUSTERS) - 5, "and most are still supported"


# ---- verdicts -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("plan", "reasons", "member", "verdict"), [
    ("up-to-date", [], "done", "compliant"),
    ("ahead", ["control plane is newer than the target"], None, "compliant"),
    ("blocked", ["target 1.35: no offered version of 1.35"], "blocked", "blocked"),
    ("blocked", [], None, "not-done"),
    ("needs-upgrade", [], "active", "not-done"),
    ("up-to-date", [], "failed", "failed"),
])
def test_verdict(plan: str, reasons: list[str], member: str | None, verdict: str) -> None:
    from fleet.execution.model import Member, MemberStatus
    m = None if member is None else Member("r1", "c", "sim", "w", 0, MemberStatus(member))
    assert compute_verdict(plan, reasons, m) == verdict


# ---- live view ------------------------------------------------------------------------------------------

def _snapshot() -> Any:
    from fleet.demo.view import Snapshot
    from fleet.planning.plan import ClusterPlan, Plan, PlannedStep
    from fleet.planning.windows import Interval
    from fleet.provider import Component
    now = T0 + timedelta(days=1, hours=3)
    up = ClusterPlan("eks/us-east-1/a", "eks", "eks", "a", "us-east-1", {}, "production", "needs-upgrade", "1.34",
                     {"ng": "1.34.9"}, target="1.35", wave="canary",
                     steps=[PlannedStep(Component.CONTROL_PLANE, "1.35", "1.34"),
                            PlannedStep(Component.NODE_POOL, "1.35.8", "1.34.9", pool="ng")])
    wait = ClusterPlan("gke/eu/b", "gke", "gke", "b", "eu", {}, "production", "needs-upgrade", "1.35.6", {},
                       target="1.35.7", wave="rest", steps=[PlannedStep(Component.CONTROL_PLANE, "1.35.7", "1.35.6")],
                       next_window=Interval(now + timedelta(hours=20), now + timedelta(hours=25)))
    lab = ClusterPlan("capi/m/default/lab", "capi", "capi", "lab", "m", {}, "platform", "blocked", "v1.34.11", {},
                      reasons=["target 1.35: no offered version of 1.35"])
    from fleet.execution.model import Member, MemberStatus, Run, RunStatus, StepRecord, StepState
    from fleet.provider import Step
    runs = [Run("r1", "production", {}, RunStatus.RUNNING, 0, (), {}, T0, T0)]
    members = [Member("r1", "eks/us-east-1/a", "eks", "canary", 0, MemberStatus.ACTIVE),
               Member("r1", "gke/eu/b", "gke", "rest", 2, MemberStatus.PENDING)]

    def step(state: StepState, step: Step) -> StepRecord:
        return StepRecord(0, "r1", "eks/us-east-1/a", step, False, state, None, 0, 0, 0, None, "", 0, T0)
    steps = [step(StepState.SUCCEEDED, Step(Component.NODE_POOL, "1.34.11", "1.34.9", pool="ng")),
             step(StepState.RUNNING, Step(Component.CONTROL_PLANE, "1.35", "1.34"))]
    events = [{"at": now, "kind": "step-dispatched", "cluster_id": "eks/us-east-1/a", "run_id": "r1", "message": ""}]
    return Snapshot(now, T0, T0 + timedelta(days=7), S.WEEK_PER_MINUTE, "http://127.0.0.1:1", runs, members, steps,
                    Plan(now, [up, wait, lab]), events, ticks=42, latest={m.cluster_id: m for m in members})


def test_view_shows_waves_clusters_steps_and_progress() -> None:
    from fleet.demo.view import compute_cluster_rows, compute_wave_rows, render_snapshot
    s = _snapshot()
    rows = {r["id"]: r for r in compute_cluster_rows(s)}
    assert rows["eks/us-east-1/a"]["done"] == 1 and rows["eks/us-east-1/a"]["left"] == 2
    assert rows["capi/m/default/lab"]["left"] == 0
    waves = compute_wave_rows(s)
    assert [(w["wave"], w["total"], w["finished"]) for w in waves] == [("canary", 1, 0), ("rest", 1, 0)]
    console = Console(width=200, record=True, color_system=None)
    console.print(render_snapshot(s))
    text = console.export_text()
    assert "virtual time Tue 2026-11-24 03:00 UTC" in text and "day 2 of 7" in text and "ticks 42" in text
    assert "control plane → 1.35 (running)" in text
    assert "next window Tue 23:00" in text
    assert "target 1.35: no offered version of 1.35" in text
    assert "steps verified 1, left 3" in text
    assert "step-dispatched" in text


def test_progress_line_for_logs() -> None:
    from fleet.demo.view import progress_line
    line = progress_line(_snapshot())
    assert line.startswith("Tue 2026-11-24 03:00 UTC: steps verified 1, left 3; clusters: ")
    assert "active 1" in line and "blocked 1" in line and "pending 1" in line
