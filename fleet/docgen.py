"""Generate docs/policy-reference.md from the models: ``python -m fleet.docgen > docs/policy-reference.md``.

Types, required fields and defaults come from the pydantic models (through the JSON Schema of fleet.schema);
a field's description comes from its model (``Field(description=...)``) or, failing that, from ``NOTES``
below. tests/demo/test_docgen.py regenerates the page and compares it with the committed one, and fails when
a field has no description or a note names a field that no longer exists, so the page cannot drift.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any, get_args

from pydantic import BaseModel

from fleet.errors import MissingExtraError, ProviderNotFound
from fleet.policy import models as M
from fleet.policy import rollout as R
from fleet.provider import known_provider_types, load_provider_class
from fleet.schema import compute_schema, provider_settings_models

KIND_ORDER = (("policy", "UpgradePolicy"), ("rollout", "RolloutStrategy"), ("config", "FleetConfig"),
              ("inventory", "Inventory"))

# Descriptions of fields whose model gives none ("Model.yamlName": text).
NOTES: dict[str, str] = {
    "RolloutStrategy.apiVersion": "Always `fleet.dev/v1alpha1`.",
    "RolloutStrategy.kind": "Always `RolloutStrategy` (at most one per policies folder; docs/rollout.md).",
    "RolloutStrategy.metadata": "Its name.",
    "RolloutStrategy.spec": "The stages, in order.",
    "Stage.name": "Stage name, unique; `unstaged` is reserved for the implicit last stage.",
    "PoolOverride.strategy": "`surge` or `blue-green` for the selected pools.",
    "PoolOverride.maxSurge": "The selected pools' maxSurge.",
    "PoolOverride.maxUnavailable": "The selected pools' maxUnavailable.",
    "PoolOverride.blueGreen": "The selected pools' blue-green batches and soaks.",
    "PoolOverride.drainTimeout": "The selected pools' drain timeout.",
    "PoolOverride.nodeSoak": "The selected pools' soak per node.",
    "InventoryNodePool.labels": "The pool's labels (matched by `nodePools.overrides[].matchLabels`).",
    "UpgradePolicy.apiVersion": "Always `fleet.dev/v1alpha1`.",
    "UpgradePolicy.kind": "Always `UpgradePolicy`.",
    "UpgradePolicy.metadata": "Name (unique among policies), labels and annotations.",
    "UpgradePolicy.spec": "What the policy selects, where it takes those clusters and how.",
    "Metadata.name": "Lowercase letters, digits, `-` or `.`, starting and ending alphanumeric (at most 253).",
    "Metadata.labels": "Free-form labels.",
    "Metadata.annotations": "Free-form annotations.",
    "UpgradePolicySpec.selector": "The clusters this policy manages; empty matches every cluster.",
    "UpgradePolicySpec.priority": "When several policies select a cluster, the highest priority wins; a tie "
                                  "blocks the cluster (with the reason) until it is resolved.",
    "UpgradePolicySpec.target": "The version to reach.",
    "UpgradePolicySpec.path": "Control-plane path, never skipping a minor: `patch-first-then-minor` moves to the "
                              "newest patch of the current minor first, then one minor at a time (each to its "
                              "newest patch); `minor-by-minor` does the same without the patch-first step.",
    "UpgradePolicySpec.nodePools": "How node pools follow the control plane, and their disruption budget.",
    "UpgradePolicySpec.maintenance": "When steps may start: windows, time zone, exclusions.",
    "UpgradePolicySpec.rollout": "Waves, concurrency and the failure budget of a run.",
    "Selector.matchLabels": "Every label given must be present with that value.",
    "NodePoolsSpec.upgrade": "`lockstep`: pools follow the control plane one minor at a time; `skip-level`: "
                             "pools jump straight to the control plane's final minor when the skew rules allow.",
    "NodePoolsSpec.strategy": "`surge` (rolling) or `blue-green` where the provider has it; providers that "
                              "lack it say so in `fleet plan` and use a rolling update.",
    "NodePoolsSpec.maxSurge": "Extra nodes during a rolling upgrade: a count or a percentage of the pool "
                              "(a percentage rounds up, as in Kubernetes Deployments).",
    "NodePoolsSpec.maxUnavailable": "Nodes that may be unavailable at once: a count or a percentage of the pool "
                                    "(a percentage rounds down; when both come to 0, 1 node may be unavailable). "
                                    "Not both may be written as 0.",
    "NodePoolsSpec.blueGreen": "Batch size and soaks of a blue-green upgrade (needs `strategy: blue-green`).",
    "NodePoolsSpec.drainTimeout": "How long a node may take to drain before the provider forces it.",
    "NodePoolsSpec.nodeSoak": "Wait after each node (batch) before the next.",
    "BlueGreenSpec.batchNodeCount": "Nodes moved per batch (or give batchPercentage, not both).",
    "BlueGreenSpec.batchPercentage": "Percentage of the pool moved per batch, e.g. \"25%\".",
    "BlueGreenSpec.batchSoak": "Wait after each batch.",
    "BlueGreenSpec.nodePoolSoak": "Wait after the whole pool moved, before the old nodes go.",
    "Maintenance.timezone": "IANA time zone of the windows and of exclusions written without an offset.",
    "Maintenance.windows": "Steps start only inside a window (a running step may finish after it closes). "
                           "No windows: any time.",
    "Maintenance.exclusions": "Freezes that override the windows.",
    "Window.days": "Days of the week (`Mon` … `Sun`); or give `rrule`.",
    "Window.rrule": "An RFC 5545 recurrence without DTSTART/BYHOUR/BYMINUTE, e.g. `FREQ=MONTHLY;BYDAY=1SA`; "
                    "or give `days`.",
    "Window.start": "Local start time, `HH:MM`.",
    "Window.duration": "How long the window stays open (more than 0, at most 7 days); it may cross midnight.",
    "Exclusion.name": "A label for reports and logs.",
    "Exclusion.scope": "`no-upgrades`, or `no-minor-upgrades` (patches still flow).",
    "Rollout.waves": "Ordered waves: a cluster joins the first wave whose selector matches, else a final "
                     "`default` wave. A wave starts when the previous one is done and its soak has passed.",
    "Rollout.maxConcurrentClusters": "Clusters of a run upgrading at the same time.",
    "Rollout.maxFailures": "Failed clusters after which the run halts (resume with `fleet resume`).",
    "Wave.name": "Unique within the policy.",
    "Wave.selector": "The clusters of this wave (among those the policy selects).",
    "Wave.soak": "Wait after this wave completes before the next starts.",
    "Gate.type": "What the gate checks (docs/gates.md): provider checks upgrade-blockers, cluster-health, "
                 "etcd-backup, nodes-ready; prometheus (PromQL); webhook (2xx passes).",
    "Gate.maxAge": "etcd-backup: the newest etcd backup must be younger than this.",
    "Gate.requestTimeout": "prometheus/webhook: the time limit of one HTTP request (a timeout is an error).",
    "Gate.timeout": "Post-step: how long after the step the gate may take to be satisfied (settle included); "
                    "then it has failed.",
    "Gate.settle": "Post-step: how long the gate must pass without interruption (a failing evaluation restarts "
                   "the count).",
    "Wave.approval": "`required`: the wave waits for `fleet approve RUN WAVE`.",
    "FleetConfig.apiVersion": "Always `fleet.dev/v1alpha1`.",
    "FleetConfig.kind": "Always `FleetConfig`.",
    "FleetConfig.metadata": "Name and labels of this configuration.",
    "FleetConfig.spec": "Providers, policies, state, API and high availability.",
    "FleetConfigSpec.providers": "The cloud accounts and management clusters to manage (at least one).",
    "FleetConfigSpec.policies": "A policy file or folder, relative to this file.",
    "FleetConfigSpec.state": "Where runs, steps and the audit log are kept.",
    "FleetConfigSpec.reconcileInterval": "How often the daemon observes and reconciles; it also wakes at "
                                         "window openings and when an operation is due for a poll.",
    "FleetConfigSpec.http": "The daemon's HTTP API.",
    "FleetConfigSpec.leaderElection": "How replicas agree on the one that acts.",
    "FleetConfigSpec.shards": "Split the fleet between this many acting daemons (by a hash of the cluster id).",
    "FleetConfigSpec.notifications": "Webhooks called on run events.",
    "ProviderConfig.name": "Unique name; cluster ids and policy selectors use it.",
    "ProviderConfig.type": "A registered provider: sim, eks, gke, aks, oke, capi, kops.",
    "ProviderConfig.settings": "Provider-specific settings, checked against the settings model of `type` "
                               "when the file loads (SimSettings, EksSettings, ... below).",
    "StateConfig.url": "`sqlite:///PATH` (relative to this file) or `postgresql+psycopg://…` (needed for "
                       "several replicas).",
    "StateConfig.create": "Create the store when it is missing or empty (a missing or 0-byte SQLite file, a "
                          "database without fleet's tables); otherwise `fleet apply` and `fleet daemon` refuse "
                          "to start on it unless given `--init`.",
    "HttpConfig.listen": "`HOST:PORT` of the API, /metrics, /healthz and /readyz.",
    "HttpConfig.tokenFile": "File holding the write token (pause, resume, approve, retry).",
    "HttpConfig.readOnlyTokenFile": "File holding a read token; without one, reads are open.",
    "HttpConfig.tlsCertFile": "Serve HTTPS with this certificate (with tlsKeyFile).",
    "HttpConfig.tlsKeyFile": "The certificate's private key.",
    "HttpConfig.maxBodyBytes": "Largest request body accepted.",
    "LeaderElectionConfig.backend": "`none` (one replica), `database` (a lease row in the state store) or "
                                    "`kubernetes` (a coordination.k8s.io Lease).",
    "LeaderElectionConfig.leaseDuration": "A leader that has not renewed for this long is replaced.",
    "LeaderElectionConfig.namespace": "Namespace of the Kubernetes Lease.",
    "LeaderElectionConfig.leaseName": "Name of the lease.",
    "LeaderElectionConfig.kubeconfig": "Kubeconfig for the Lease (default: in-cluster, else the usual kubeconfig).",
    "LeaderElectionConfig.context": "Kubeconfig context.",
    "NotificationConfig.name": "Unique name of the webhook.",
    "NotificationConfig.url": "`http://` or `https://` URL that receives the POSTs.",
    "NotificationConfig.format": "`json` (signed) or `slack` (a Slack-compatible message).",
    "NotificationConfig.events": "Event kinds to send (default: all).",
    "NotificationConfig.timeout": "Timeout of one delivery attempt (at most 5m).",
    "Inventory.apiVersion": "Always `fleet.dev/v1alpha1`.",
    "Inventory.kind": "Always `Inventory`.",
    "Inventory.metadata": "Optional name and labels.",
    "Inventory.clusters": "The clusters, for offline planning (`fleet plan --inventory`).",
    "Inventory.offers": "Versions each provider offers: a list, or separate `controlPlane` and `nodePools` lists.",
    "InventoryCluster.provider": "Provider name (or type).",
    "InventoryCluster.location": "Region, zone or management cluster.",
    "InventoryCluster.name": "Cluster name.",
    "InventoryCluster.id": "Cluster id (default `provider/location/name`).",
    "InventoryCluster.labels": "Labels, matched by selectors.",
    "InventoryCluster.nodePools": "Node pools with their versions.",
    "InventoryCluster.available": "Versions offered to this cluster (overrides `offers`).",
    "InventoryCluster.autoUpgrade": "The cloud's own auto-upgrade setting, if on (planned with a warning).",
    "InventoryNodePool.name": "Pool name, unique in the cluster.",
    "InventoryNodePool.nodes": "Node count (for budgets).",
    "InventoryNodePool.available": "Node versions offered to this pool.",
    "ProviderOffers.controlPlane": "Control-plane versions.",
    "ProviderOffers.nodePools": "Node-pool versions.",
}

_PATTERNS = {r"^\d+%$": "percentage such as \"25%\"", r"^\d\d:\d\d$": "time `HH:MM`"}


def _models() -> dict[str, type[BaseModel]]:
    """Every model the reference documents, by its schema name: fleet's own and each provider's settings."""
    out = {n: v for mod in (M, R) for n, v in vars(mod).items() if isinstance(v, type) and issubclass(v, BaseModel)}
    todo: list[type[BaseModel]] = [*provider_settings_models().values(), M.Gates]
    while todo:
        model = todo.pop()
        out.setdefault(model.__name__, model)
        for info in model.model_fields.values():
            todo += [t for t in _nested_types(info.annotation) if t.__name__ not in out]
    return out


def _nested_types(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [t for arg in get_args(annotation) for t in _nested_types(arg)]


def _fmt_default(v: Any) -> str:
    if isinstance(v, timedelta):
        s = int(v.total_seconds())
        for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
            if s and s % n == 0:
                return f"`{s // n}{unit}`"
        return f"`{s}s`"
    if isinstance(v, BaseModel):
        return "(defaults)"
    if v is None:
        return ""
    if isinstance(v, str):
        return f"`{v}`"
    if isinstance(v, bool):
        return f"`{str(v).lower()}`"
    return f"`{v}`"


def _string_type(p: dict[str, Any]) -> str:
    """A string property's readable type: a known pattern, or what its description says it is."""
    pat = p.get("pattern")
    if pat in _PATTERNS:
        return _PATTERNS[pat]
    desc = p.get("description", "")
    for prefix, name in (("duration", "duration"), ("ISO 8601", "date-time"), ("Kubernetes version", "version")):
        if desc.startswith(prefix):
            return name
    return "string"


def _object_type(p: dict[str, Any]) -> str:
    extra = p.get("additionalProperties")
    if isinstance(extra, dict):
        return f"map of string to {compute_type(extra)}"
    return "mapping"


def _integer_type(p: dict[str, Any]) -> str:
    lo = p.get("minimum", p.get("exclusiveMinimum"))
    return f"integer ≥ {lo}" if lo is not None else "integer"


def _typed(p: dict[str, Any]) -> str:
    """The type of a property that is no reference, union, constant or enum: by its JSON Schema ``type``."""
    t = p.get("type")
    if t == "array":
        return f"list of {compute_type(p.get('items', {}))}"
    if t == "object":
        return _object_type(p)
    if t == "string":
        return _string_type(p)
    if t == "integer":
        return _integer_type(p)
    return str(t or "any")


def compute_type(p: dict[str, Any]) -> str:
    """A short, readable type of one JSON Schema property."""
    if "$ref" in p:
        name = p["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in p:
        parts = [compute_type(x) for x in p["anyOf"] if x.get("type") != "null"]
        return " or ".join(dict.fromkeys(parts))
    if "const" in p:
        return f"`{p['const']}`"
    if "enum" in p:
        return "one of " + ", ".join(f"`{v}`" for v in p["enum"])
    return _typed(p)



def _description(model: str, field: str, p: dict[str, Any]) -> str:
    note = NOTES.get(f"{model}.{field}")
    desc = p.get("description") or ""
    if desc.startswith("duration:"):
        desc = ""                                    # the type column says "duration"
    return note or desc


def _ordered_defs(schema: dict[str, Any], root: str) -> list[tuple[str, dict[str, Any]]]:
    defs = dict(schema.get("$defs", {}))
    defs[root] = {k: v for k, v in schema.items() if k != "$defs"}
    order: list[str] = []
    todo = [root]
    while todo:
        name = todo.pop(0)
        if name in order:
            continue
        order.append(name)
        text = str([defs[name].get("properties", {}), defs[name].get("allOf", [])])  # allOf: provider settings
        for ref in sorted(defs, key=lambda n: text.find(f"/{n}'") if f"/{n}'" in text else 1 << 30):
            if f"#/$defs/{ref}'" in text and ref not in order:
                todo.append(ref)
    return [(n, defs[n]) for n in order]


def missing_descriptions() -> list[str]:
    """Fields without a description (in the model or in NOTES); empty when the reference is complete."""
    out = []
    for kind, root in KIND_ORDER:
        for name, d in _ordered_defs(compute_schema(kind), root):
            for f, p in d.get("properties", {}).items():
                if not _description(name, f, p):
                    out.append(f"{name}.{f}")
    return sorted(set(out))


def stale_notes() -> list[str]:
    """NOTES entries that name no field of the models."""
    known = set()
    for kind, root in KIND_ORDER:
        for name, d in _ordered_defs(compute_schema(kind), root):
            known |= {f"{name}.{f}" for f in d.get("properties", {})}
    return sorted(set(NOTES) - known)


def _default(models: dict[str, type[BaseModel]], name: str, field: str) -> str:
    model = models.get(name)
    if model is None:
        return ""
    for fname, info in model.model_fields.items():
        if (info.alias or fname) == field:
            if info.is_required():
                return ""
            return _fmt_default(info.get_default(call_default_factory=True))
    return ""


def _facts_models() -> dict[str, type[BaseModel]]:
    """Provider type -> its ``facts_model`` (the per-cluster facts of an inventory's ``facts:``), for every
    installed provider that declares one (loaded through its entry point; no SDK is needed)."""
    out = {}
    for type_name in known_provider_types():
        try:
            cls = load_provider_class(type_name)
        except (ProviderNotFound, MissingExtraError):
            continue
        model = getattr(cls, "facts_model", None)
        if isinstance(model, type) and issubclass(model, BaseModel):
            out[type_name] = model
    return out


def _facts_section() -> list[str]:
    lines = ["## Cluster facts", "",
             "An inventory cluster's `facts:` states what changes its cloud's upgrade rules (the planner applies "
             "them to offline plans as to live ones, where the provider discovers the same facts). They are "
             "checked against the provider type's facts model; unknown keys are errors. See "
             "[plan-format.md](plan-format.md#cloud-rules) for what each rule does to a plan.", ""]
    for type_name, model in sorted(_facts_models().items()):
        schema = model.model_json_schema(by_alias=True, mode="validation")
        lines += [f"### `{type_name}`", ""]
        doc = " ".join((model.__doc__ or "").split()).replace("``", "`")
        if doc:
            lines += [doc, ""]
        lines += ["| fact | type | default | description |", "| --- | --- | --- | --- |"]
        for f, p in schema.get("properties", {}).items():
            info = next((i for n, i in model.model_fields.items() if (i.alias or n) == f), None)
            default = "" if info is None or info.is_required() else _fmt_default(
                info.get_default(call_default_factory=True))
            desc = (p.get("description") or "").replace("|", "\\|")
            lines.append(f"| `{f}` | {compute_type(p).replace('|', chr(92) + '|')} | {default} | {desc} |")
        lines.append("")
    return lines


def render_reference() -> str:
    models = _models()
    lines = ["<!-- GENERATED by `python -m fleet.docgen > docs/policy-reference.md`; do not edit by hand. -->",
             "# Policy language reference", "",
             "Every file fleet reads is YAML with `apiVersion: fleet.dev/v1alpha1` and a `kind`. Unknown fields are "
             "errors (reported as `file:line: field: message`). The same definitions are published as JSON Schema "
             "by `fleet schema policy|config|inventory` (see [editor support](#editor-support)).", "",
             "Value types: a *duration* is `90s`, `30m`, `4h`, `1h30m`, `2d`, `1w` or ISO 8601 (`PT4H`); a "
             "*version* is a Kubernetes version in the provider's spelling (`1.30.4`, `v1.30.4`, "
             "`1.30.4-gke.1348000`); write versions as quoted strings (YAML reads `1.30` as the number 1.3).", ""]
    done: set[str] = set()
    for kind, root in KIND_ORDER:
        lines += [f"## {root}", "", f"`fleet schema {kind}` prints its JSON Schema.", ""]
        for name, d in _ordered_defs(compute_schema(kind), root):
            if name in done:
                continue
            done.add(name)
            lines += [f"### {name}", ""]
            doc = (models[name].__doc__ or "").strip() if name in models else ""
            if doc and not doc.startswith(name + "("):
                lines += [" ".join(doc.split()).replace("``", "`"), ""]
            lines += ["| field | type | required | default | description |", "| --- | --- | --- | --- | --- |"]
            req = set(d.get("required", []))
            for f, p in d.get("properties", {}).items():
                desc = _description(name, f, p).replace("|", "\\|").replace("``", "`")
                typ = compute_type(p).replace("|", "\\|")
                lines.append(f"| `{f}` | {typ} | {'yes' if f in req else ''} | {_default(models, name, f)} | {desc} |")
            lines.append("")
    lines += _facts_section()
    lines += ["## Editor support", "",
              "Write the schema to a file and point the YAML language server at it, per file:", "",
              "```yaml", "# yaml-language-server: $schema=./schemas/upgrade-policy.json",
              "apiVersion: fleet.dev/v1alpha1", "kind: UpgradePolicy", "```", "",
              "or for a whole folder in VS Code's `settings.json` (Red Hat YAML extension):", "",
              "```json", "{", '  "yaml.schemas": {', '    "./schemas/upgrade-policy.json": "policies/*.yaml",',
              '    "./schemas/fleet-config.json": "fleet.yaml"', "  }", "}", "```", "",
              "with `fleet schema policy > schemas/upgrade-policy.json` and "
              "`fleet schema config > schemas/fleet-config.json`.", ""]
    return "\n".join(lines)


def main() -> None:
    sys.stdout.write(render_reference())


if __name__ == "__main__":
    main()
