"""The kops emulator's command line (``python -m providers.kops.emulator.server ...`` or a ``kops`` launcher script).

Which commands and flags exist comes from the kops CLI reference shipped in ./reference (kubernetes/kops
docs/cli, see its PROVENANCE): a command or flag not in it is refused as cobra/pflag refuse it (``Error: unknown
command "set" for "kops"``, ``Error: unknown flag: --x``, exit 1). Of those, the emulator models:

  edit cluster [C] --set K=V.. [--unset K..]              (no interactive editor)
  edit instancegroup --name C IG --set K=V.. [--unset K..] (aliases: instancegroups, ig)
  get clusters [NAME...] [-o table|yaml|json] [--full]    (alias: cluster)
  get instancegroups --name C [IG...] [-o table|yaml|json] (aliases: instancegroup, ig)
  upgrade cluster [C] [--channel LOCATION] [--kubernetes-version V] [--yes]
  update cluster [C] [--yes] [--instance-group G,..] [--instance-group-roles R,..]
                     [--ignore-kubelet-version-skew] [--create-kube-config=false] ...
  rolling-update cluster [C] [--yes] [--instance-group G,..] [--instance-group-roles R,..] [--force]
                     [--cloudonly] [--validation-timeout D] [--drain-timeout D] [--node-interval D] ...
  validate cluster [C] [-o table|yaml|json]
  version [--short]

Other reference commands (``reconcile cluster``, ``version --server``) exit 1 saying they are not modelled.
The emulated binary's own version (``kops version``, and the "upgrading kops is required" check of ``update
cluster``) is fixed by its launcher (KopsEmulator(kops_version=...)), default state.KOPS_VERSION.

Environment: KOPS_STATE_STORE, KOPS_CLUSTER_NAME, KOPS_RUN_TOO_NEW_VERSION; the S3 endpoint from S3_ENDPOINT,
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
    KopsError,
    emit,
    klog,
    parse_flags,
    render_table,
    vkey,
    zones,
)
from providers.kops.emulator.reference import load as load_reference
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
    """kubernetes/kops pkg/apis/kops/validation/validation.go validateRollingUpdate: IntOrString values, no surge
    on control-plane groups, and maxSurge (when set) not zero together with maxUnavailable (default 1)."""
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


def _assignments(values: list[str], what: str) -> list[tuple[str, str]]:
    """``--set KEY=VALUE`` values (cmd/kops/edit_cluster.go / edit_instancegroup.go -> pkg/commands SetClusterFields /
    SetInstancegroupFields, which split each on the first '=')."""
    out = []
    for item in values:
        k, eq, v = item.partition("=")
        if not eq:
            raise KopsError(f'missing value in field "{item}" (missing \'=\') for {what}')
        out.append((k, v))
    return out


def _unset_path(obj: dict[str, Any], path: str) -> None:
    node: Any = obj
    parts = path.split(".")
    for p in parts[:-1]:
        node = node.get(p) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(parts[-1], None)


def _no_editor() -> KopsError:
    # without --set/--unset kops opens $EDITOR on the object (kops_edit_cluster.md Synopsis): not modelled
    return KopsError("the kops emulator has no editor: use --set / --unset (interactive edit is not modelled)")


def cmd_edit_cluster(ctx: Ctx, o: dict[str, Any], args: list[str]) -> int:
    """``kops edit cluster [CLUSTER] --set K=V --unset K`` (kops_edit_cluster.md): changes the desired cluster
    configuration in the registry only; ``kops update cluster`` applies it."""
    if not o.get("set") and not o.get("unset"):
        raise _no_editor()
    name = ctx.cluster_name(args)
    cluster = ctx.cluster(name)
    old = cluster["spec"].get("kubernetesVersion")
    for k in o.get("unset", []):
        _unset_path(cluster, k)
    for k, v in _assignments(o.get("set", []), "cluster"):
        if k == "spec.kubernetesVersion" and vkey(v) == (0, 0, 0):
            raise KopsError(f'failed to set {k}={v}: unable to parse kubernetes version "{v}"')
        _set_path(cluster, k, v, "Cluster")
    ctx.store.put_cluster(cluster)
    new = cluster["spec"].get("kubernetesVersion")
    if new != old:
        ctx.store.log("upgrades", {"kind": "set-version", "cluster": name, "from": old, "to": new,
                                   "now": iso(ctx.now), "argv": ["edit", "cluster", *args]})
    return 0


def cmd_edit_ig(ctx: Ctx, o: dict[str, Any], args: list[str]) -> int:
    """``kops edit instancegroup --name C IG --set K=V`` (kops_edit_instancegroup.md); argument checks as in
    cmd/kops/edit_instancegroup.go (Args)."""
    name = ctx.flags.get("name") or ctx.env.get("KOPS_CLUSTER_NAME", "")
    if not name:
        raise KopsError("--name is required")
    if not args:
        raise KopsError("must specify the name of the instance group to edit")
    if len(args) > 1:
        raise KopsError("can only edit one instance group at a time")
    if not o.get("set") and not o.get("unset"):
        raise _no_editor()
    ctx.cluster(name)
    igs = ctx.store.instance_groups(name)
    if args[0] not in igs:
        raise KopsError(f'InstanceGroup "{args[0]}" not found')
    ig = igs[args[0]]
    for k in o.get("unset", []):
        _unset_path(ig, k)
    for k, v in _assignments(o.get("set", []), "instancegroup"):
        _set_path(ig, k, v, "InstanceGroup")
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
    if o.get("kubernetes-version"):     # kops_upgrade_cluster.md: "Kubernetes version to use for upgrade"
        offered = [o["kubernetes-version"]]
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


_STARLINE = "*" * 80


def _check_not_too_new(ctx: Ctx, desired: str) -> None:
    """kubernetes/kops upup/pkg/fi/cloudup/apply_cluster.go validateKubernetesVersion (run by ``update cluster``
    and ``reconcile cluster``): tooNewVersion = the kops version with Minor+1 (Pre/Build dropped, patch kept); a
    spec.kubernetesVersion >= it (pkg/apis/kops/util IsKubernetesGTE: k8sVersion.GTE(version)) prints the
    starline banner and fails with "kops upgrade is required" unless KOPS_RUN_TOO_NEW_VERSION is set."""
    kops = vkey(ctx.kops_version)
    too_new = (kops[0], kops[1] + 1, kops[2])
    if kops == (0, 0, 0) or vkey(desired) < too_new:
        return
    bypass = bool(ctx.env.get("KOPS_RUN_TOO_NEW_VERSION"))
    sys.stdout.write(f"\n{_STARLINE}\n\nThis version of kubernetes is not yet supported; upgrading kops is required\n"
                     + ("(this check has been bypassed by exporting KOPS_RUN_TOO_NEW_VERSION)\n" if bypass else
                        "(you can bypass this check by exporting KOPS_RUN_TOO_NEW_VERSION)\n")
                     + f"\n{_STARLINE}\n\n")
    if not bypass:
        raise KopsError("kops upgrade is required")


def cmd_update(ctx: Ctx, o: dict[str, Any], args: list[str]) -> int:
    name = ctx.cluster_name(args)
    cluster = ctx.cluster(name)
    igs = ctx.store.instance_groups(name)
    selected = select_groups(igs, o.get("instance-group", []), o.get("instance-group-roles", []))
    desired = cluster["spec"].get("kubernetesVersion", "")
    _check_not_too_new(ctx, desired)        # ApplyClusterCmd.Run checks this before it builds any task
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
    ctx.store.put_completed(cluster, ctx.kops_version)
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
    """``kops validate cluster``: the JSON/YAML shape of kops' ``validation.ValidationCluster`` (kubernetes/kops
    pkg/validation/validate_cluster.go: ``failures`` [{type, name, message, instanceGroup}], ``nodes`` [{name,
    zone, role, hostname, status}]); a node made NotReady (``KopsEmulator.set_node_ready``) is reported with
    status "False" and a failure of type Node, ``node "<name>" of role "<role>" is not ready``, as
    validateNodes does. The command fails (non-zero, output already written) while there are failures."""
    name = ctx.cluster_name(args)
    cluster = ctx.cluster(name)
    igs = ctx.store.instance_groups(name)
    state = ctx.store.cloud(name)
    if advance(state, ctx.now):
        ctx.store.put_cloud(name, state)
    failures = [["InstanceGroup", g, m, g] for g, m in sorted(state["validation_failures"].items()) if g in igs]
    not_ready = set(state.get("not_ready") or [])
    nodes = []
    for g, ig in sorted(igs.items()):
        role = {"ControlPlane": "control-plane", "Master": "control-plane", "APIServer": "apiserver"}.get(
            ig["spec"]["role"], "node")
        if ig["spec"]["role"] != "Bastion":
            for i in state["instances"].get(g, []):
                ready = i["id"] not in not_ready
                nodes.append([i["id"], role, "True" if ready else "False"])
                if not ready:
                    failures.append(["Node", i["id"], f'node "{i["id"]}" of role "{role}" is not ready', g])
    output = o.get("output", "table")
    if output == "table":
        sys.stdout.write(f"Validating cluster {name}\n\nINSTANCE GROUPS\n")
        rows = [[g, ig["spec"]["role"], ig["spec"].get("machineType", ""), str(ig["spec"].get("minSize", "-")),
                 str(ig["spec"].get("maxSize", "-")), ",".join(ig["spec"].get("subnets") or [])]
                for g, ig in igs.items()]
        sys.stdout.write(render_table(["NAME", "ROLE", "MACHINETYPE", "MIN", "MAX", "SUBNETS"], rows))
        sys.stdout.write("\nNODE STATUS\n" + render_table(["NAME", "ROLE", "READY"], nodes))
        if failures:
            sys.stdout.write("\nVALIDATION ERRORS\n" + render_table(["KIND", "NAME", "MESSAGE"],
                                                                    [f[:3] for f in failures]))
            sys.stdout.write("\nValidation Failed\n")
        else:
            sys.stdout.write(f"\nYour cluster {name} is ready\n")
    else:
        result = {"failures": [{"type": k, "name": n, "message": m, "instanceGroup": igs[g]}
                               for k, n, m, g in failures],
                  "nodes": [{"name": n, "role": r, "hostname": n, "status": s, "zone": zones(cluster)}
                            for n, r, s in nodes]}
        sys.stdout.write(json.dumps(result) if output == "json" else yaml.safe_dump(result))
    if failures:
        raise KopsError("Validation failed: cluster not yet healthy")
    return 0


Handler = Callable[[Ctx, dict[str, Any], list[str]], int]
# the commands the emulator models; which commands and flags exist at all comes from the shipped CLI reference
# (providers/kops/emulator/reference/, kubernetes/kops docs/cli): anything else is refused as cobra refuses it
COMMANDS: dict[tuple[str, ...], Handler] = {
    ("edit", "cluster"): cmd_edit_cluster,
    ("edit", "instancegroup"): cmd_edit_ig,
    ("get", "clusters"): cmd_get_clusters,
    ("get", "instancegroups"): cmd_get_igs,
    ("upgrade", "cluster"): cmd_upgrade,
    ("update", "cluster"): cmd_update,
    ("rolling-update", "cluster"): cmd_rolling_update,
    ("validate", "cluster"): cmd_validate,
}
# cobra Aliases of the nouns (kubernetes/kops cmd/kops/get_cluster.go: {"cluster"}; get_instancegroups.go:
# {"instancegroup", "ig"}; edit_instancegroup.go: {"instancegroups", "ig"})
_ALIASES = {("get", "cluster"): "clusters", ("get", "instancegroup"): "instancegroups", ("get", "ig"): "instancegroups",
            ("edit", "instancegroups"): "instancegroup", ("edit", "ig"): "instancegroup"}


def _command_path(argv: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """The command words (up to two, before any flag) and the rest; a flag's separate value is skipped."""
    words: list[str] = []
    rest: list[str] = []
    value_flags = {"--name", "--state", "--config"}
    i = 0
    while i < len(argv):
        tok = argv[i]
        if len(words) < 2 and not tok.startswith("-") and words != ["version"]:
            words.append(tok)
        else:
            rest.append(tok)
            if tok in value_flags and i + 1 < len(argv):
                rest.append(argv[i + 1])
                i += 1
        i += 1
    if len(words) == 2:
        words[1] = _ALIASES.get((words[0], words[1]), words[1])
    return tuple(words), rest


def _resolve(path: tuple[str, ...]) -> tuple[str, ...]:
    """The reference command ``path`` names; cobra's "unknown command" error otherwise
    (spf13/cobra args.go legacyArgs: ``unknown command %q for %q``)."""
    table = load_reference()
    if path in table:
        return path
    verbs = {c[0] for c in table}
    if not path or path[0] not in verbs:
        raise KopsError(f'unknown command "{path[0] if path else ""}" for "kops"')
    raise KopsError(f'unknown command "{path[1] if len(path) > 1 else ""}" for "kops {path[0]}"')


def cmd_version(ctx_env: dict[str, str], o: dict[str, Any], kops_version: str) -> int:
    """kubernetes/kops cmd/kops/version.go RunVersion: ``--short`` prints the bare version."""
    if o.get("server"):
        raise KopsError("the kops emulator does not model `kops version --server`")
    sys.stdout.write(f"{kops_version}\n" if o.get("short") else
                     f"Client version: {kops_version} (git-v{kops_version})\n")
    return 0


def main(argv: list[str] | None = None, env: dict[str, str] | None = None, kops_version: str = KOPS_VERSION) -> int:
    """One ``kops`` invocation; ``kops_version`` is the version this emulated binary reports and enforces
    (the launcher script fixes it, as installing a kops release does)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ if env is None else env)
    path, rest = _command_path(argv)
    try:
        command = _resolve(path)
        values, positional = parse_flags(rest, load_reference()[command])
        if values.get("help"):
            sys.stdout.write(f"Usage:\n  kops {' '.join(command)} [flags]\n")
            return 0
        if command == ("version",):
            return cmd_version(env, values, kops_version)
        handler = COMMANDS.get(command)
        if handler is None:
            raise KopsError(f"the kops emulator does not model `kops {' '.join(command)}`")
        ctx = Ctx(env, values, kops_version)
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
