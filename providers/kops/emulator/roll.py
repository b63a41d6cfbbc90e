"""``kops rolling-update cluster`` in the emulator: the dry-run table, and with ``--yes`` a process that blocks
like kops until its instance groups are rolled (or validation fails), following the plan in the simulated cloud."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from typing import Any, NoReturn

from providers.kops.emulator.context import Ctx
from providers.kops.emulator.flags import KopsError, klog, render_table
from providers.kops.emulator.state import (
    RollOptions,
    S3Error,
    Timing,
    advance,
    needs_update,
    parse_role,
    parse_time,
    plan_roll,
    roll_order,
)


def select_groups(igs: dict[str, dict[str, Any]], names: list[str], roles: list[str],
                  rolling: bool = False) -> list[str]:
    """kops' --instance-group / --instance-group-roles filters; a rolling update skips Karpenter-managed groups
    (Karpenter replaces their nodes itself)."""
    selected = list(igs)
    if names:
        for n in names:
            if n not in igs:
                raise KopsError(f'InstanceGroup "{n}" not found')
        selected = list(names)
    if roles:
        wanted = set()
        for r in roles:
            role = parse_role(r)
            if role is None:
                raise KopsError(f'invalid instance group role "{r}"')
            wanted |= {"ControlPlane", "Master"} if role == "ControlPlane" else {role}
        selected = [n for n in selected if igs[n]["spec"]["role"] in wanted]
    return [n for n in selected if not rolling or igs[n]["spec"].get("manager") != "Karpenter"]


def _roll_table(state: dict[str, Any], igs: dict[str, dict[str, Any]], selected: list[str],
                applied: dict[str, str | None], cloudonly: bool) -> str:
    rows = []
    for g in selected:
        members = state["instances"].get(g, [])
        need = len(needs_update(state, g, applied.get(g)))
        spec = igs[g]["spec"]
        row = [g, "NeedsUpdate" if need else "Ready", str(need), str(len(members) - need),
               str(spec.get("minSize", 0)), str(len(members)), str(spec.get("maxSize", 0))]
        rows.append(row + ([] if cloudonly else [str(len(members))]))
    cols = ["NAME", "STATUS", "NEEDUPDATE", "READY", "MIN", "TARGET", "MAX"] + ([] if cloudonly else ["NODES"])
    return render_table(cols, rows)


def cmd_rolling_update(ctx: Ctx, o: dict[str, Any], args: list[str]) -> int:
    name = ctx.cluster_name(args)
    cluster = ctx.cluster(name)
    igs = ctx.store.instance_groups(name)
    selected = select_groups(igs, o.get("instance-group", []), o.get("instance-group-roles", []), rolling=True)
    applied = {g: ctx.store.applied_version(name, igs[g]) for g in selected}
    state = ctx.store.cloud(name)
    if advance(state, ctx.now):
        ctx.store.put_cloud(name, state)
    sys.stdout.write(_roll_table(state, igs, selected, applied, bool(o.get("cloudonly"))))
    pending = [g for g in selected if needs_update(state, g, applied[g])]
    if not pending and not o.get("force"):
        sys.stdout.write("\nNo rolling-update required.\n")
        return 0
    if not o.get("yes"):
        sys.stdout.write("\nMust specify --yes to rolling-update.\n")
        return 0
    opts = RollOptions(force=bool(o.get("force")), cloudonly=bool(o.get("cloudonly")),
                       fail_on_validate=o.get("fail-on-validate-error", True),
                       validation_timeout=o.get("validation-timeout", 900.0),
                       control_plane_interval=o.get("control-plane-interval", 15.0),
                       node_interval=o.get("node-interval", 15.0), bastion_interval=o.get("bastion-interval", 15.0),
                       post_drain_delay=o.get("post-drain-delay", 5.0), drain_timeout=o.get("drain-timeout"))
    return _wait_for_roll(ctx, name, cluster, igs, selected, applied, opts)


def _wait_for_roll(ctx: Ctx, name: str, cluster: dict[str, Any], igs: dict[str, dict[str, Any]],
                   selected: list[str], applied: dict[str, str | None], opts: RollOptions) -> int:
    """Block like kops until ``selected`` is rolled: create a roll for groups no running roll covers, attach
    to the ones that do, and finish when every group is up to date or an attached roll failed."""
    poll = float(ctx.env.get("FLEET_EMULATOR_POLL", "0.2"))
    max_idle = float(ctx.env.get("FLEET_EMULATOR_MAX_IDLE", "900")) / max(poll, 0.001)
    attached: set[str] = set()
    reported: set[str] = set()
    created, idle = 0, 0
    while True:
        state, changed, now = _observe(ctx, name, poll)
        _report_attached(ctx, name, state, attached, reported, now, changed)
        pending = [g for g in selected if needs_update(state, g, applied[g])]
        busy = [r for r in state["rolls"] if r["id"] in attached and r["state"] == "running"]
        if not pending and not busy and (created or not opts.force):
            if changed:
                ctx.store.put_cloud(name, state)
            klog(now, "rollingupdate.go:250", f'Completed rolling update for cluster "{name}" instance groups '
                 f"{sorted(selected)}")
            return 0
        running = [r for r in state["rolls"] if r["state"] == "running"]
        covered = {g for r in running for g in r["groups"]}
        attached |= {r["id"] for r in running if set(r["groups"]) & set(pending)}
        wanted = selected if opts.force and not created else pending
        uncovered = [g for g in wanted if g not in covered]
        if uncovered and created < 3 and _start_roll(ctx, state, cluster, igs, applied, uncovered, opts, now,
                                                      attached):
            created += 1
            changed = True
        if changed:
            ctx.store.put_cloud(name, state)
            idle = 0
        else:
            idle += 1
            if idle > max_idle:
                raise KopsError("rolling update made no progress (emulator: no later time was observed)")
        time.sleep(poll)


def _observe(ctx: Ctx, name: str, poll: float) -> tuple[dict[str, Any], bool, datetime]:
    """The cluster's cloud state advanced to now, whether that changed it, and the cloud's time; a state store
    that keeps failing (21 reads in a row) ends the command."""
    for errors in range(21):
        try:
            now = ctx.now_fn()
            state = ctx.store.cloud(name)
            changed = advance(state, now)
            return state, changed, parse_time(state["now"])   # log with the cloud's time, which others move
        except (S3Error, OSError) as exc:
            if errors == 20:
                raise KopsError(f"error reading the state store: {exc}") from exc
            time.sleep(poll)
    raise AssertionError("unreachable")


def _report_attached(ctx: Ctx, name: str, state: dict[str, Any], attached: set[str], reported: set[str],
                     now: datetime, changed: bool) -> None:
    """Log the instances the attached rolls replaced since last time; fail like kops when one of them failed."""
    for roll in state["rolls"]:
        if roll["id"] not in attached:
            continue
        for step in roll["steps"]:
            if step.get("done") and step["instance"] not in reported:
                reported.add(step["instance"])
                klog(now, "instancegroups.go:541", f'Stopping instance "{step["instance"]}", node '
                     f'"{step["instance"]}", in group "{step["ig"]}.{name}" (this may take a while).')
        if roll["state"] == "failed":
            if changed:
                ctx.store.put_cloud(name, state)
            _roll_failed(now, roll)


def _start_roll(ctx: Ctx, state: dict[str, Any], cluster: dict[str, Any], igs: dict[str, dict[str, Any]],
                applied: dict[str, str | None], uncovered: list[str], opts: RollOptions, now: datetime,
                attached: set[str]) -> bool:
    """Plan a roll of ``uncovered`` into ``state`` and attach to it; False when it has no group to roll."""
    g = ctx.store.globals()
    fail_first = int(g.get("fail_next_roll", 0)) > 0
    roll = plan_roll(state, cluster, igs, applied, uncovered, opts, Timing.of(g), now, fail_first)
    if not roll["groups"]:
        return False
    if fail_first:
        g["fail_next_roll"] = int(g["fail_next_roll"]) - 1
        ctx.store.put_globals(g)
    state["rolls"].append(roll)
    attached.add(roll["id"])
    klog(now, "instancegroups.go:498", f"Validating the cluster. Rolling {roll_order(igs, uncovered)}")
    return True


def _roll_failed(now: datetime, roll: dict[str, Any]) -> NoReturn:
    fail = roll["fail"] or {}
    klog(now, "instancegroups.go:620", f"Cluster did not pass validation within deadline: {fail.get('detail')}.")
    klog(now, "instancegroups.go:590", f"Cluster did not validate within {fail.get('timeout')}", level="E")
    inner = f'error validating cluster: cluster did not validate within a duration of "{fail.get("timeout")}"'
    if fail.get("control_plane"):
        quoted = json.dumps(inner)
        raise KopsError(f"control-plane node not healthy after update, stopping rolling-update: {quoted}")
    raise KopsError(inner)
