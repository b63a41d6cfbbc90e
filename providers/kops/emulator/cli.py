"""The kops emulator's command line (``python -m providers.kops.emulator.server ...`` or a ``kops`` launcher script).

Commands (flags as in kops 1.31; unknown flags are rejected the way cobra rejects them; every error prints
``Error: <message>`` on stderr and exits 1, like kops):

  get clusters [NAME...] [-o table|yaml|json] [--full]
  get instancegroups --name C [IG...] [-o table|yaml|json]            (aliases: instancegroup, ig)
  set cluster [C] KEY=VALUE...                     (feature-gated: KOPS_FEATURE_FLAGS=SpecOverrideFlag)
  set instancegroup --name C IG KEY=VALUE...       (same gate; e.g. spec.rollingUpdate.maxSurge=25%)
  upgrade cluster [C] [--channel LOCATION] [--yes]
  update cluster [C] [--yes] [--instance-group G,..] [--instance-group-roles R,..]
                     [--ignore-kubelet-version-skew] [--create-kube-config=false] ...
  rolling-update cluster [C] [--yes] [--instance-group G,..] [--instance-group-roles R,..] [--force]
                     [--cloudonly] [--validation-timeout D] [--drain-timeout D] [--node-interval D] ...
  validate cluster [C] [-o table|yaml|json]
  version

Environment: KOPS_STATE_STORE, KOPS_CLUSTER_NAME, KOPS_FEATURE_FLAGS; the S3 endpoint from S3_ENDPOINT,
AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL. Virtual time: FLEET_EMULATOR_NOW (RFC 3339) is "now" for this
invocation; when unset the emulator uses fleet.clock.SystemClock, sped up FLEET_EMULATOR_SCALE times from
FLEET_EMULATOR_EPOCH (RFC 3339) when both are set (real-time end-to-end tests and demos: kops' own waits, e.g.
the 15-minute validation timeout, then pass in seconds). A ``rolling-update --yes`` blocks like kops
until its instance groups are rolled, re-reading the simulated cloud every FLEET_EMULATOR_POLL seconds (real
time, default 0.2); under virtual time the roll advances whenever any kops invocation brings a later now.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from typing import Any

import yaml

from providers.kops.emulator.context import Ctx
from providers.kops.emulator.flags import (
    GLOBAL,
    OUTPUT,
    ROLLING,
    ROLLING_ALIASES,
    UPDATE,
    B,
    D,
    KopsError,
    N,
    S,
    emit,
    klog,
    parse_flags,
    render_table,
    vkey,
    zones,
)
from providers.kops.emulator.roll import cmd_rolling_update, select_groups
from providers.kops.emulator.state import (
    KOPS_VERSION,
    S3Error,
    advance,
    is_control_plane,
    iso,
)

# ---- commands ------------------------------------------------------------------------------------------

def cmd_get_clusters(ctx: Ctx, o: dict[str, Any], args: list[str]) -> int:
    if args and ctx.flags.get("name"):
        raise KopsError("cannot mix --name for cluster with positional arguments")
    names = args or ([ctx.flags["name"]] if ctx.flags.get("name") else [])
    if len(names) == 1:
        one = ctx.store.cluster(names[0])
        found = [one] if one else []
    else:
        found = [c for c in (ctx.store.cluster(n) for n in ctx.store.clusters()) if c]
    by_name = {c["metadata"]["name"]: c for c in found}
    for n in names:
        if n not in by_name:
            raise KopsError(f'cluster not found "{n}"')
    clusters = [by_name[n] for n in names] if names else found
    if not clusters:
        raise KopsError("no clusters found")
    if o.get("full"):
        clusters = [yaml.safe_load(ctx.store.s3.get(ctx.store.l.bucket, ctx.store.l.completed(
            c["metadata"]["name"])) or b"null") or c for c in clusters]
    output = o.get("output", "table")
    if output == "table":
        rows = [[c["metadata"]["name"], _cloud(c), zones(c)] for c in clusters]
        sys.stdout.write(render_table(["NAME", "CLOUD", "ZONES"], rows))
        return 0
    emit(clusters, output, single=len(names) == 1)
    return 0


def _cloud(c: dict[str, Any]) -> str:
    cp = c["spec"].get("cloudProvider")
    return next(iter(cp), "") if isinstance(cp, dict) else str(cp or "")


def cmd_get_igs(ctx: Ctx, o: dict[str, Any], args: list[str]) -> int:
    name = ctx.cluster_name([], allow_positional=False)
    cluster = ctx.cluster(name)
    igs = ctx.store.instance_groups(name)
    for a in args:
        if a not in igs:
            raise KopsError(f'instancegroup not found "{a}"')
    chosen = [igs[a] for a in args] if args else [igs[k] for k in sorted(igs)]
    if not chosen:
        raise KopsError("no InstanceGroup objects found")
    output = o.get("output", "table")
    if output == "table":
        rows = [[ig["metadata"]["name"], ig["spec"]["role"], ig["spec"].get("machineType", ""),
                 str(ig["spec"].get("minSize", "-")), str(ig["spec"].get("maxSize", "-")), zones(cluster, ig)]
                for ig in chosen]
        sys.stdout.write(render_table(["NAME", "ROLE", "MACHINETYPE", "MIN", "MAX", "ZONES"], rows))
        return 0
    emit(chosen, output, single=len(chosen) == 1)
    return 0


def _set_path(obj: dict[str, Any], path: str, raw: str, type_name: str) -> None:
    parts = path.split(".")
    if parts[0] not in ("spec", "metadata") or len(parts) < 2:
        raise KopsError(f"field {path} not found in *kops.{type_name}")
    node = obj
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise KopsError(f"field {path} not found in *kops.{type_name}")
    leaf, old = parts[-1], node.get(parts[-1])
    value: Any = raw
    if leaf in ("maxSurge", "maxUnavailable"):
        value = int(raw) if raw.isdigit() else raw
    elif isinstance(old, bool) or raw in ("true", "false") and leaf.startswith(("enable", "drain")):
        value = raw == "true"
    elif isinstance(old, int) or leaf in ("minSize", "maxSize"):
        if not raw.lstrip("-").isdigit():
            raise KopsError(f'cannot set field "{path}": cannot interpret "{raw}" value as integer')
        value = int(raw)
    node[leaf] = value


def _validate_rolling_update(ru: dict[str, Any], control_plane: bool) -> None:
    for k in ("maxSurge", "maxUnavailable"):
        if k in ru and not re.fullmatch(r"\d+%?", str(ru[k])):
            raise KopsError(f'spec.rollingUpdate.{k}: Invalid value: "{ru[k]}": Unable to parse: invalid value '
                            f'for IntOrString: invalid type: string is not a percentage')
    surge = ru.get("maxSurge")
    if surge is not None:
        s = int(str(surge).rstrip("%"))
        if control_plane and s:
            raise KopsError('spec.rollingUpdate.maxSurge: Forbidden: Cannot surge instance groups with role '
                            '"ControlPlane"')
        unavailable = int(str(ru.get("maxUnavailable", 1)).rstrip("%"))
        if s == 0 and unavailable == 0:
            raise KopsError("spec.rollingUpdate.maxSurge: Forbidden: Cannot be zero if maxUnavailable is zero")


def _fields(args: list[str]) -> tuple[str, list[tuple[str, str]]]:
    target, fields = "", []
    for i, a in enumerate(args):
        if "=" not in a:
            if i == 0:
                target = a
                continue
            raise KopsError(f'unrecognized parameter "{a}" (missing \'=\')')
        k, _, v = a.partition("=")
        fields.append((k, v))
    return target, fields


def cmd_set_cluster(ctx: Ctx, o: dict[str, Any], args: list[str]) -> int:
    if not ctx.feature("SpecOverrideFlag"):
        raise KopsError("set cluster command is current feature gated; set `export "
                        "KOPS_FEATURE_FLAGS=SpecOverrideFlag`")
    target, fields = _fields(args)
    name = target or ctx.flags.get("name") or ctx.env.get("KOPS_CLUSTER_NAME", "")
    if not name:
        raise KopsError("clusterName: Required value: Cluster name is required")
    cluster = ctx.cluster(name)
    old = cluster["spec"].get("kubernetesVersion")
    for k, v in fields:
        path = k.removeprefix("cluster.")
        if path == "spec.kubernetesVersion" and vkey(v) == (0, 0, 0):
            raise KopsError(f'failed to set {k}={v}: unable to parse kubernetes version "{v}"')
        _set_path(cluster, path, v, "Cluster")
    ctx.store.put_cluster(cluster)
    new = cluster["spec"].get("kubernetesVersion")
    if new != old:
        ctx.store.log("upgrades", {"kind": "set-version", "cluster": name, "from": old, "to": new,
                                   "now": iso(ctx.now), "argv": ["set", "cluster", *args]})
    return 0


def cmd_set_ig(ctx: Ctx, o: dict[str, Any], args: list[str]) -> int:
    if not ctx.feature("SpecOverrideFlag"):
        raise KopsError("set instancegroup is currently feature gated; set `export "
                        "KOPS_FEATURE_FLAGS=SpecOverrideFlag`")
    name = ctx.flags.get("name") or ctx.env.get("KOPS_CLUSTER_NAME", "")
    if not name:
        raise KopsError("clusterName: Required value: Cluster name is required")
    target, fields = _fields(args)
    if not target:
        raise KopsError("instancegroupName: Required value: Instance Group name is required")
    ctx.cluster(name)
    igs = ctx.store.instance_groups(name)
    if target not in igs:
        raise KopsError(f'unable to find instance group with name "{target}"')
    ig = igs[target]
    for k, v in fields:
        _set_path(ig, k.removeprefix("instancegroup."), v, "InstanceGroup")
    _validate_rolling_update(ig["spec"].get("rollingUpdate") or {}, is_control_plane(ig["spec"]["role"]))
    ctx.store.put_ig(name, ig)
    return 0


def cmd_upgrade(ctx: Ctx, o: dict[str, Any], args: list[str]) -> int:
    name = ctx.cluster_name(args)
    cluster = ctx.cluster(name)
    location = o.get("channel") or cluster["spec"].get("channel") or "stable"
    channel = load_channel(ctx, location)
    offered = [e.get("recommendedVersion") for e in (channel.get("spec") or {}).get("kubernetesVersions") or []]
    offered = sorted((v for v in offered if v), key=vkey)
    current = cluster["spec"].get("kubernetesVersion", "")
    if not offered or vkey(offered[-1]) <= vkey(current):
        sys.stderr.write("\nNo upgrade required\n")
        return 0
    rows = [["Cluster", "KubernetesVersion", current, offered[-1]]]
    if o.get("channel") and o["channel"] != cluster["spec"].get("channel"):
        rows.append(["Cluster", "Channel", cluster["spec"].get("channel", ""), o["channel"]])
    sys.stdout.write(render_table(["ITEM", "PROPERTY", "OLD", "NEW"], rows))
    if not o.get("yes"):
        sys.stdout.write("\nMust specify --yes to perform upgrade\n")
        return 0
    cluster["spec"]["kubernetesVersion"] = offered[-1]
    if o.get("channel"):
        cluster["spec"]["channel"] = o["channel"]
    ctx.store.put_cluster(cluster)
    ctx.store.log("upgrades", {"kind": "set-version", "cluster": name, "from": current, "to": offered[-1],
                               "now": iso(ctx.now), "argv": ["upgrade", "cluster", *args]})
    sys.stdout.write(f"\nUpdates applied to configuration.\nYou can now apply these changes, using `kops update "
                     f"cluster {name}`\n")
    return 0


def load_channel(ctx: Ctx, location: str) -> dict[str, Any]:
    try:
        if location.startswith("s3://"):
            bucket, _, key = location[5:].partition("/")
            data = ctx.store.s3.get(bucket, key)
        elif location.startswith(("file://", "/")):
            with open(location.removeprefix("file://"), "rb") as fh:
                data = fh.read()
        else:
            raise KopsError(f'error loading channel "{location}": the emulator has no network; use an s3:// or '
                            f'file channel')
    except (OSError, S3Error) as exc:
        raise KopsError(f'error loading channel "{location}": {exc}') from exc
    if data is None:
        raise KopsError(f'error loading channel "{location}": file does not exist')
    return yaml.safe_load(data) or {}


def compute_update(ctx: Ctx, name: str, igs: dict[str, Any], selected: list[str], desired: str, cp_running: str,
                   ignore_skew: bool) -> tuple[dict[str, str], dict[str, list[str | None]], list[str]]:
    """The version each selected instance group gets, the changes (group -> [old, new]) and the groups held
    back because nodes may not run newer than the control plane (kops's kubelet version skew check)."""
    changes: dict[str, list[str | None]] = {}
    held: list[str] = []
    new_versions: dict[str, str] = {}
    for g in selected:
        role = igs[g]["spec"]["role"]
        old = ctx.store.applied_version(name, igs[g])
        new = desired
        if role in ("Node", "Bastion") and not ignore_skew and vkey(cp_running) < vkey(desired):
            new = old or cp_running
            if new != desired:
                held.append(g)
        new_versions[g] = new
        if new != old:
            changes[g] = [old, new]
    return new_versions, changes, held


def cmd_update(ctx: Ctx, o: dict[str, Any], args: list[str]) -> int:
    name = ctx.cluster_name(args)
    cluster = ctx.cluster(name)
    igs = ctx.store.instance_groups(name)
    selected = select_groups(igs, o.get("instance-group", []), o.get("instance-group-roles", []))
    desired = cluster["spec"].get("kubernetesVersion", "")
    releases = ctx.store.globals().get("releases") or []
    if releases and desired not in releases:
        raise KopsError(f"error building tasks: unable to find kubelet for kubernetes version {desired}: "
                        f"https://dl.k8s.io/release/v{desired.lstrip('v')}/bin/linux/amd64/kubelet: "
                        f"unexpected response code \"404 Not Found\"")
    state = ctx.store.cloud(name)
    advance(state, ctx.now)
    cp_versions = [i["version"] for g, ig in igs.items() if is_control_plane(ig["spec"]["role"])
                   for i in state["instances"].get(g, [])]
    cp_running = min(cp_versions, key=vkey) if cp_versions else desired
    new_versions, changes, held = compute_update(ctx, name, igs, selected, desired, cp_running,
                                                 bool(o.get("ignore-kubelet-version-skew")))
    if not o.get("yes"):
        if changes:
            sys.stdout.write("Will modify resources:\n")
            for g, (old, new) in sorted(changes.items()):
                sys.stdout.write(f"  LaunchTemplate/{g}.{name}\n  \tUserData\t...\n  \t\tkubernetesVersion: "
                                 f"{old} -> {new}\n\n")
        sys.stdout.write("Must specify --yes to apply changes\n")
        return 0
    for g in selected:
        ctx.store.put_applied(name, igs[g], new_versions[g])
    ctx.store.put_completed(cluster)
    if held:
        klog(ctx.now, "update_cluster.go:412", f"not updating the kubernetes version of instance groups {held} to "
             f"{desired}: the control plane is running {cp_running} (use --ignore-kubelet-version-skew to "
             f"override)", level="W")
    if changes:
        ctx.store.log("upgrades", {"kind": "apply", "cluster": name, "changes": changes, "now": iso(ctx.now),
                                   "argv": ["update", "cluster", *args]})
    sys.stdout.write("\nCluster changes have been applied to the cloud.\n\n\nChanges may require instances to "
                     "restart: kops rolling-update cluster\n")
    if o.get("create-kube-config", True):
        sys.stdout.write(f"kOps has set your kubectl context to {name}\n")
    return 0


def cmd_validate(ctx: Ctx, o: dict[str, Any], args: list[str]) -> int:
    name = ctx.cluster_name(args)
    cluster = ctx.cluster(name)
    igs = ctx.store.instance_groups(name)
    state = ctx.store.cloud(name)
    if advance(state, ctx.now):
        ctx.store.put_cloud(name, state)
    failures = [["InstanceGroup", g, m] for g, m in sorted(state["validation_failures"].items()) if g in igs]
    nodes = []
    for g, ig in sorted(igs.items()):
        role = {"ControlPlane": "control-plane", "Master": "control-plane", "APIServer": "apiserver"}.get(
            ig["spec"]["role"], "node")
        if ig["spec"]["role"] != "Bastion":
            nodes += [[i["id"], role, "True"] for i in state["instances"].get(g, [])]
    output = o.get("output", "table")
    if output == "table":
        sys.stdout.write(f"Validating cluster {name}\n\nINSTANCE GROUPS\n")
        rows = [[g, ig["spec"]["role"], ig["spec"].get("machineType", ""), str(ig["spec"].get("minSize", "-")),
                 str(ig["spec"].get("maxSize", "-")), ",".join(ig["spec"].get("subnets") or [])]
                for g, ig in igs.items()]
        sys.stdout.write(render_table(["NAME", "ROLE", "MACHINETYPE", "MIN", "MAX", "SUBNETS"], rows))
        sys.stdout.write("\nNODE STATUS\n" + render_table(["NAME", "ROLE", "READY"], nodes))
        if failures:
            sys.stdout.write("\nVALIDATION ERRORS\n" + render_table(["KIND", "NAME", "MESSAGE"], failures))
            sys.stdout.write("\nValidation Failed\n")
        else:
            sys.stdout.write(f"\nYour cluster {name} is ready\n")
    else:
        result = {"failures": [{"type": k, "name": n, "message": m} for k, n, m in failures],
                  "nodes": [{"name": n, "role": r, "hostname": n, "status": s, "zone": zones(cluster)}
                            for n, r, s in nodes]}
        sys.stdout.write(json.dumps(result) if output == "json" else yaml.safe_dump(result))
    if failures:
        raise KopsError("Validation failed: cluster not yet healthy")
    return 0


COMMANDS: dict[tuple[str, ...], tuple[Callable[[Ctx, dict[str, Any], list[str]], int], dict[str, Any],
                                      dict[str, str]]] = {
    ("get", "clusters"): (cmd_get_clusters, {**OUTPUT, "full": (B, None)}, {}),
    ("get", "instancegroups"): (cmd_get_igs, OUTPUT, {}),
    ("set", "cluster"): (cmd_set_cluster, {}, {}),
    ("set", "instancegroup"): (cmd_set_ig, {}, {}),
    ("upgrade", "cluster"): (cmd_upgrade, {"channel": (S, None), "yes": (B, "y")}, {}),
    ("update", "cluster"): (cmd_update, UPDATE, {}),
    ("rolling-update", "cluster"): (cmd_rolling_update, ROLLING, ROLLING_ALIASES),
    ("validate", "cluster"): (cmd_validate, {**OUTPUT, "wait": (D, None), "count": (N, None),
                                             "kubeconfig": (S, None)}, {}),
}
_NOUNS = {"cluster": "cluster", "clusters": "clusters", "instancegroup": "instancegroups", "ig": "instancegroups",
          "instancegroups": "instancegroups"}


def _command_path(argv: list[str]) -> tuple[tuple[str, ...], list[str]]:
    words: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if len(words) < 2 and not tok.startswith("-"):
            words.append(tok)
        else:
            rest.append(tok)
            name = tok[2:] if tok.startswith("--") else ""
            if name in ("name", "state", "config") and i + 1 < len(argv):
                rest.append(argv[i + 1])
                i += 1
        i += 1
    if len(words) == 2:
        noun = _NOUNS.get(words[1], words[1])
        if words[0] in ("get",) and noun == "cluster":
            noun = "clusters"
        if words[0] == "set" and noun == "instancegroups":
            noun = "instancegroup"
        words[1] = noun
    return tuple(words), rest


def main(argv: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ if env is None else env)
    path, rest = _command_path(argv)
    try:
        if path[:1] == ("version",):
            sys.stdout.write(f"Client version: {KOPS_VERSION} (git-v{KOPS_VERSION})\n")
            return 0
        if path not in COMMANDS:
            raise KopsError(f'unknown command "{" ".join(path) or "(none)"}" for "kops"')
        handler, flags, aliases = COMMANDS[path]
        values, positional = parse_flags(rest, {**GLOBAL, **flags}, aliases)
        if values.get("help"):
            sys.stdout.write(f"Usage:\n  kops {' '.join(path)} [flags]\n")
            return 0
        ctx = Ctx(env, values)
        ctx.store.log("commands", {"argv": argv, "now": iso(ctx.now)})
        target = values.get("name") or next((a for a in positional if "=" not in a), "")
        ctx.take_fault(target or env.get("KOPS_CLUSTER_NAME", ""))
        return handler(ctx, values, positional)
    except KopsError as exc:
        sys.stderr.write(f"\nError: {exc}\n")
        return 1
    except S3Error as exc:
        sys.stderr.write(f"\nError: error reading the state store: operation error S3: {exc}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"\nError: error reading the state store: dial tcp: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
