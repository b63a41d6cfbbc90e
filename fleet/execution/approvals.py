"""Waves waiting for a person: ``reconcile_approval_waits`` journals one ``wave-awaiting-approval`` event when a
run's current wave requires approval that was not given and nothing else holds it (the wave before it has
finished and soaked), so webhooks (docs/notifications.md), ``fleet history`` and the API's event stream show it.

One event per (run, wave): a wave that keeps waiting is announced once; after ``fleet approve`` it starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fleet.execution import gates
from fleet.execution.model import Member, Run, RunStatus
from fleet.policy.models import UpgradePolicy
from fleet.state import Store

KIND = "wave-awaiting-approval"


def compute_waiting_wave(policy: UpgradePolicy, run: Run, members: Sequence[Member], now: datetime) -> str | None:
    """The name of the run's current wave when it waits only for approval, else None (pure)."""
    waves = policy.spec.rollout.waves
    gate = gates.compute_wave_gate(waves, members, run.wave_done_at, run.approved_waves, now)
    if gate.current is None or gate.may_start or gate.wake is not None or gate.current >= len(waves):
        return None
    wave = waves[gate.current]
    if wave.approval != "required" or wave.name in run.approved_waves:
        return None
    return wave.name


def reconcile_approval_waits(store: Store, now: datetime, actor: str = "engine") -> list[tuple[str, str]]:
    """Journal ``wave-awaiting-approval`` for each running run's wave that newly waits for approval; returns
    the (run, wave) pairs announced."""
    out = []
    for run in store.runs(active_only=True):
        if run.status is not RunStatus.RUNNING:
            continue
        policy = UpgradePolicy.model_validate(run.policy_snapshot)
        wave = compute_waiting_wave(policy, run, store.members(run.id), now)
        if wave is None:
            continue
        seen = store.events(run_id=run.id, kind=KIND, limit=1000)
        if any((e.get("data") or {}).get("wave") == wave for e in seen):
            continue
        with store.write("approval-wait") as conn:
            store.add_event(conn, now, KIND, actor=actor, run_id=run.id,
                            message=f"wave {wave} waits for approval: fleet approve {run.id} {wave}",
                            data={"wave": wave, "policy": run.policy})
        out.append((run.id, wave))
    return out
