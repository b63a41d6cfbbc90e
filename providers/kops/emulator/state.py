"""State behind the kops emulator: a tiny S3 client, kops' state-store layout, and the simulated cloud.

The state store is laid out exactly as kops lays it out (``s3://<bucket>/<cluster>/config``,
``cluster-completed.spec``, ``instancegroup/<ig>``, ``igconfig/<role>/<ig>/nodeupconfig.yaml``,
``kops-version.txt``). What AWS itself would hold (instances and the Kubernetes version each one was launched
with, rolling updates in flight, injected faults, the emulator's logs) lives in a sibling bucket
``s3://<bucket>-cloud``, so the state store stays exactly what kops would write.

Virtual time: every emulator invocation carries a "now" (``FLEET_EMULATOR_NOW``, see emulator_cli). The cloud
keeps a monotonic watermark of the latest now it has seen; a rolling update is a *plan* (which instance is
replaced when, and whether and when validation fails), and ``advance`` applies whatever the plan says is due
by the watermark. Progress is therefore a pure function of (plan, time), no matter which process observes it.

Stdlib + PyYAML only: the emulator CLI starts fresh for every kops invocation and must start fast.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import yaml

KOPS_VERSION = "1.31.0"
API_VERSION = "kops.k8s.io/v1alpha2"
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
# S3 accepts any signature here (moto does not verify); the header only marks the request as authenticated
_AUTH = {"Authorization": "AWS4-HMAC-SHA256 Credential=kops-emulator/20260105/us-east-1/s3/aws4_request, "
                          "SignedHeaders=host;x-amz-date, Signature=0",
         "x-amz-date": "20260105T000000Z", "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}

ROLE_DIRS = {"ControlPlane": "control-plane", "Master": "master", "Node": "node", "APIServer": "apiserver",
             "Bastion": "bastion"}
_ROLE_ALIASES = {"master": "ControlPlane", "control-plane": "ControlPlane", "controlplane": "ControlPlane",
                 "node": "Node", "apiserver": "APIServer", "bastion": "Bastion"}
KUBELET_RE = re.compile(r"/v(\d+\.\d+\.\d+[^/]*)/bin/linux/[^/]+/kubelet$")


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str):
        self.status, self.code = status, code
        super().__init__(f"StatusCode: {status}, api error {code}: {message}")


class S3Mini:
    """Path-style S3 over plain HTTP (GET/PUT/DELETE object, ListObjectsV2, create bucket)."""

    def __init__(self, endpoint: str, timeout: float = 5.0):
        u = urllib.parse.urlsplit(endpoint)
        if u.scheme != "http" or not u.hostname:
            raise ValueError(f"the kops emulator needs a plain-http S3 endpoint, got {endpoint!r}")
        self.host, self.port, self.timeout = u.hostname, u.port or 80, timeout

    def _req(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=dict(_AUTH))
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    @staticmethod
    def _path(bucket: str, key: str = "") -> str:
        return "/" + bucket + ("/" + urllib.parse.quote(key, safe="/") if key else "")

    @staticmethod
    def _raise(status: int, data: bytes) -> None:
        code, msg = str(status), ""
        try:
            root = ET.fromstring(data)
            code, msg = root.findtext("Code") or code, root.findtext("Message") or ""
        except ET.ParseError:
            pass
        raise S3Error(status, code, msg)

    def create_bucket(self, bucket: str) -> None:
        status, data = self._req("PUT", self._path(bucket))
        if status not in (200, 409):
            self._raise(status, data)

    def get(self, bucket: str, key: str) -> bytes | None:
        status, data = self._req("GET", self._path(bucket, key))
        if status == 404:
            return None
        if status != 200:
            self._raise(status, data)
        return data

    def put(self, bucket: str, key: str, body: bytes) -> None:
        status, data = self._req("PUT", self._path(bucket, key), body)
        if status != 200:
            self._raise(status, data)

    def delete(self, bucket: str, key: str) -> None:
        status, data = self._req("DELETE", self._path(bucket, key))
        if status not in (200, 204, 404):
            self._raise(status, data)

    def delete_bucket(self, bucket: str) -> None:
        for key in self.list(bucket, "")[0]:
            self.delete(bucket, key)
        self._req("DELETE", self._path(bucket))

    def list(self, bucket: str, prefix: str, delimiter: str = "") -> tuple[list[str], list[str]]:
        keys: list[str] = []
        prefixes: list[str] = []
        token = ""
        while True:
            q = {"list-type": "2", "prefix": prefix}
            if delimiter:
                q["delimiter"] = delimiter
            if token:
                q["continuation-token"] = token
            status, data = self._req("GET", self._path(bucket) + "?" + urllib.parse.urlencode(q))
            if status != 200:
                self._raise(status, data)
            root = ET.fromstring(data)
            keys += [e.findtext(f"{_NS}Key") or "" for e in root.iter(f"{_NS}Contents")]
            prefixes += [e.findtext(f"{_NS}Prefix") or "" for e in root.iter(f"{_NS}CommonPrefixes")]
            token = root.findtext(f"{_NS}NextContinuationToken") or ""
            if root.findtext(f"{_NS}IsTruncated") != "true" or not token:
                return keys, prefixes

    def get_json(self, bucket: str, key: str, default: Any = None) -> Any:
        data = self.get(bucket, key)
        return default if data is None else json.loads(data)

    def put_json(self, bucket: str, key: str, value: Any) -> None:
        self.put(bucket, key, json.dumps(value, sort_keys=True).encode())


# ---- time ----------------------------------------------------------------------------------------------

_DUR_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DUR_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration (``15m``, ``1h2m3s``, ``500ms``); ValueError when malformed."""
    if text == "0":
        return 0.0
    pos, total = 0, 0.0
    for m in _DUR_RE.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DUR_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f'time: invalid duration "{text}"')
    return total


def go_duration(seconds: float) -> str:
    """Go's time.Duration.String() for whole seconds (``15m0s``, ``1h0m0s``, ``30s``)."""
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h}h{m}m{sec}s"
    if m:
        return f"{m}m{sec}s"
    return f"{sec}s"


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ---- kops objects --------------------------------------------------------------------------------------

def dump_yaml(obj: Any) -> bytes:
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False).encode()


def parse_role(text: str) -> str | None:
    return _ROLE_ALIASES.get(text.strip().lower())


def is_control_plane(role: str) -> bool:
    return role in ("ControlPlane", "Master")


def kubelet_assets(version: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for arch in ("amd64", "arm64"):
        out[arch] = [f"{hashlib.sha256(f'{b}-{arch}-{version}'.encode()).hexdigest()}@"
                     f"https://dl.k8s.io/release/v{version.lstrip('v')}/bin/linux/{arch}/{b}"
                     for b in ("kubelet", "kubectl")]
    return out


def nodeup_config(cluster: str, ig: dict[str, Any], version: str) -> dict[str, Any]:
    role = ig["spec"]["role"]
    return {"Assets": kubelet_assets(version), "ClusterName": cluster,
            "InstanceGroupName": ig["metadata"]["name"], "InstanceGroupRole": role,
            "KubeletConfig": {"cgroupDriver": "systemd", "cloudProvider": "external",
                              "nodeLabels": {"kops.k8s.io/instancegroup": ig["metadata"]["name"]}},
            "UpdatePolicy": "automatic"}


def nodeup_version(doc: dict[str, Any]) -> str | None:
    for urls in (doc.get("Assets") or {}).values():
        for entry in urls or []:
            m = KUBELET_RE.search(str(entry).split("@", 1)[-1])
            if m:
                return m.group(1)
    return None


@dataclass
class Layout:
    """Where things live for one state store ``s3://bucket[/prefix]``."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, store: str) -> Layout:
        u = urllib.parse.urlsplit(store)
        if u.scheme != "s3" or not u.netloc:
            raise ValueError(f"unsupported state store {store!r}: the emulator implements s3://<bucket>")
        return cls(u.netloc, u.path.strip("/"))

    @property
    def cloud_bucket(self) -> str:
        return f"{self.bucket}-cloud"

    def key(self, cluster: str, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, cluster, *parts) if p)

    def config(self, c: str) -> str:
        return self.key(c, "config")

    def completed(self, c: str) -> str:
        return self.key(c, "cluster-completed.spec")

    def ig(self, c: str, ig: str) -> str:
        return self.key(c, "instancegroup", ig)

    def nodeup(self, c: str, role: str, ig: str) -> str:
        return self.key(c, "igconfig", ROLE_DIRS.get(role, role.lower()), ig, "nodeupconfig.yaml")

    def cloud(self, c: str) -> str:
        return f"clusters/{self.key(c)}/state.json"


class Store:
    """Read and write one state store (and its simulated cloud) through S3Mini."""

    def __init__(self, s3: S3Mini, layout: Layout):
        self.s3, self.l = s3, layout

    def clusters(self) -> list[str]:
        _, prefixes = self.s3.list(self.l.bucket, self.l.key("") + ("/" if self.l.prefix else ""), "/")
        names = [p.rstrip("/").rsplit("/", 1)[-1] for p in prefixes]
        return sorted(n for n in names if self.s3.get(self.l.bucket, self.l.config(n)) is not None)

    def cluster(self, name: str) -> dict[str, Any] | None:
        data = self.s3.get(self.l.bucket, self.l.config(name))
        return None if data is None else yaml.safe_load(data)

    def put_cluster(self, obj: dict[str, Any]) -> None:
        self.s3.put(self.l.bucket, self.l.config(obj["metadata"]["name"]), dump_yaml(obj))

    def instance_groups(self, cluster: str) -> dict[str, dict[str, Any]]:
        keys, _ = self.s3.list(self.l.bucket, self.l.key(cluster, "instancegroup") + "/")
        out = {}
        for k in keys:
            data = self.s3.get(self.l.bucket, k)
            if data is not None:
                ig = yaml.safe_load(data)
                out[ig["metadata"]["name"]] = ig
        return out

    def put_ig(self, cluster: str, ig: dict[str, Any]) -> None:
        self.s3.put(self.l.bucket, self.l.ig(cluster, ig["metadata"]["name"]), dump_yaml(ig))

    def applied_version(self, cluster: str, ig: dict[str, Any]) -> str | None:
        data = self.s3.get(self.l.bucket, self.l.nodeup(cluster, ig["spec"]["role"], ig["metadata"]["name"]))
        return None if data is None else nodeup_version(yaml.safe_load(data) or {})

    def put_applied(self, cluster: str, ig: dict[str, Any], version: str) -> None:
        key = self.l.nodeup(cluster, ig["spec"]["role"], ig["metadata"]["name"])
        self.s3.put(self.l.bucket, key, dump_yaml(nodeup_config(cluster, ig, version)))

    def put_completed(self, obj: dict[str, Any], kops_version: str = KOPS_VERSION) -> None:
        name = obj["metadata"]["name"]
        self.s3.put(self.l.bucket, self.l.completed(name), dump_yaml(obj))
        self.s3.put(self.l.bucket, self.l.key(name, "kops-version.txt"), kops_version.encode())

    # -- simulated cloud --
    def cloud(self, cluster: str) -> dict[str, Any]:
        return self.s3.get_json(self.l.cloud_bucket, self.l.cloud(cluster), None) or {
            "seq": 0, "now": None, "instances": {}, "rolls": [], "validation_failures": {}}

    def put_cloud(self, cluster: str, state: dict[str, Any]) -> None:
        self.s3.put_json(self.l.cloud_bucket, self.l.cloud(cluster), state)

    def globals(self) -> dict[str, Any]:
        return self.s3.get_json(self.l.cloud_bucket, "_emulator/globals.json", None) or {
            "cli_faults": [], "fail_next_roll": 0, "releases": [], "timing": {}}

    def put_globals(self, g: dict[str, Any]) -> None:
        self.s3.put_json(self.l.cloud_bucket, "_emulator/globals.json", g)

    def log(self, kind: str, entry: dict[str, Any]) -> None:
        self.s3.put_json(self.l.cloud_bucket, f"_emulator/log/{kind}/{uuid.uuid4().hex}.json", entry)

    def read_log(self, kind: str) -> list[dict[str, Any]]:
        keys, _ = self.s3.list(self.l.cloud_bucket, f"_emulator/log/{kind}/")
        entries = [self.s3.get_json(self.l.cloud_bucket, k, {}) for k in keys]
        return sorted(entries, key=lambda e: (e.get("now") or "", e.get("seq", 0)))


# ---- the simulated cloud: instances and rolling updates ------------------------------------------------

@dataclass(frozen=True)
class Timing:
    instance_seconds: float = 240.0     # drain, terminate, boot the replacement and let it join
    validate_seconds: float = 30.0      # one validation pass before each instance group

    @classmethod
    def of(cls, g: dict[str, Any]) -> Timing:
        t = g.get("timing") or {}
        return cls(float(t.get("instance_seconds", 240.0)), float(t.get("validate_seconds", 30.0)))


def new_instance(state: dict[str, Any], version: str) -> dict[str, Any]:
    state["seq"] = int(state.get("seq", 0)) + 1
    digest = hashlib.sha256(f"{state['seq']}".encode()).hexdigest()[:17]
    return {"id": f"i-{digest}", "version": version}


def int_or_percent(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total
        return -(-exact // 100) if round_up else exact // 100
    return int(value)


def resolve_rolling_update(cluster: dict[str, Any], ig: dict[str, Any], n: int) -> tuple[int, int]:
    """kops' resolveSettings (kubernetes/kops pkg/instancegroups/settings.go): (maxSurge, maxUnavailable) as ints
    for a group of ``n`` instances. The group's ``spec.rollingUpdate`` over the cluster's; an unset maxSurge is 1
    on AWS (unless the group's manager is Karpenter, or the Spotinst feature flag is on: not modelled), else 0
    (also pkg/apis/kops/cluster.go RollingUpdate.MaxSurge "Defaults to 1 on AWS, 0 otherwise"); percentages
    resolve against ``n``, surge rounding up, unavailable down but to at least 1; an unset maxUnavailable is 1
    when the resolved maxSurge is 0, else 0 (rolling-update.md "maxUnavailable")."""
    ru = dict(ig["spec"].get("rollingUpdate") or {})
    for k, v in (cluster["spec"].get("rollingUpdate") or {}).items():
        ru.setdefault(k, v)
    cloud = cluster["spec"].get("cloudProvider")
    cloud = next(iter(cloud), "") if isinstance(cloud, dict) else str(cloud or "")
    default_surge = 1 if cloud.lower() == "aws" and ig["spec"].get("manager") != "Karpenter" else 0
    surge = int_or_percent(ru.get("maxSurge", default_surge), n, True)
    if "maxUnavailable" not in ru:
        unavailable = 1 if surge == 0 else 0
    else:
        unavailable = int_or_percent(ru["maxUnavailable"], n, False)
        if isinstance(ru["maxUnavailable"], str) and unavailable <= 0:
            unavailable = 1
    return surge, unavailable


def roll_order(igs: dict[str, dict[str, Any]], names: list[str]) -> list[str]:
    """Bastions, then control plane, then API servers, then nodes; sorted within each (kops' order)."""
    rank = {"Bastion": 0, "ControlPlane": 1, "Master": 1, "APIServer": 2, "Node": 3}
    return sorted(names, key=lambda n: (rank.get(igs[n]["spec"]["role"], 4), n))


def needs_update(state: dict[str, Any], ig: str, version: str | None) -> list[dict[str, Any]]:
    return [i for i in state["instances"].get(ig, []) if version and i["version"] != version]


def advance(state: dict[str, Any], now: datetime) -> bool:
    """Move the simulated cloud to ``now`` (never backwards); True when an instance or a roll changed (the
    watermark alone is not worth a write)."""
    mark = parse_time(state["now"]) if state.get("now") else now
    mark = max(mark, now)
    changed = False
    state["now"] = iso(mark)
    for roll in state["rolls"]:
        if roll["state"] != "running":
            continue
        for step in roll["steps"]:
            if step.get("done") or parse_time(step["at"]) > mark:
                continue
            members = state["instances"].setdefault(step["ig"], [])
            for idx, inst in enumerate(members):
                if inst["id"] == step["instance"]:
                    members[idx] = new_instance(state, step["version"])
            step["done"] = changed = True
        fail = roll.get("fail")
        if fail:
            if parse_time(fail["at"]) <= mark:
                roll.update(state="failed", finished=fail["at"])
                changed = True
        elif all(s.get("done") for s in roll["steps"]) and parse_time(roll["end"]) <= mark:
            roll.update(state="succeeded", finished=roll["end"])
            changed = True
    return changed


@dataclass
class RollOptions:
    force: bool = False
    cloudonly: bool = False
    fail_on_validate: bool = True
    validation_timeout: float = 900.0
    control_plane_interval: float = 15.0
    node_interval: float = 15.0
    bastion_interval: float = 15.0
    post_drain_delay: float = 5.0
    drain_timeout: float | None = None


def being_replaced(state: dict[str, Any]) -> set[str]:
    return {s["instance"] for r in state["rolls"] if r["state"] == "running" for s in r["steps"]
            if not s.get("done")}


def plan_roll(state: dict[str, Any], cluster: dict[str, Any], igs: dict[str, dict[str, Any]],
              applied: dict[str, str | None], groups: list[str], opts: RollOptions, timing: Timing,
              now: datetime, fail_first: bool) -> dict[str, Any]:
    """Plan a rolling update of ``groups`` starting at ``now`` (kops' order, one group at a time, batches
    of maxSurge+maxUnavailable; control-plane groups never surge). Validation failures are decided here."""
    t = now
    steps: list[dict[str, Any]] = []
    fail = None
    busy = being_replaced(state)
    detail: dict[str, Any] = {}
    for g in roll_order(igs, groups):
        ig, version = igs[g], applied.get(g)
        members = state["instances"].get(g, [])
        todo = [i for i in members if opts.force or i["version"] != version]
        todo = [i for i in todo if i["id"] not in busy]
        if not todo or not version:
            continue
        role = ig["spec"]["role"]
        injected = state["validation_failures"].get(g)
        if fail_first and not injected:
            injected = f'machine "{todo[0]["id"]}" has not yet joined cluster'
            fail_first = False
        if injected and not opts.cloudonly and role != "Bastion" and opts.fail_on_validate:
            fail = {"ig": g, "at": iso(t + timedelta(seconds=opts.validation_timeout)), "detail": injected,
                    "control_plane": is_control_plane(role), "timeout": go_duration(opts.validation_timeout)}
            break
        t += timedelta(seconds=timing.validate_seconds)
        surge, unavailable = resolve_rolling_update(cluster, ig, len(members))
        surge = min(surge, len(todo))
        concurrency = surge + unavailable
        if is_control_plane(role) and surge:
            surge, concurrency = 0, unavailable or 1
        concurrency = max(1, concurrency)
        interval = (opts.control_plane_interval if is_control_plane(role) else
                    opts.bastion_interval if role == "Bastion" else opts.node_interval)
        detail[g] = {"maxSurge": surge, "maxUnavailable": unavailable, "concurrency": concurrency,
                     "batches": -(-len(todo) // concurrency), "interval": go_duration(interval)}
        for start in range(0, len(todo), concurrency):
            t += timedelta(seconds=timing.instance_seconds + opts.post_drain_delay + interval)
            steps += [{"ig": g, "instance": i["id"], "at": iso(t), "version": version}
                      for i in todo[start:start + concurrency]]
    groups = sorted({s["ig"] for s in steps} | ({fail["ig"]} if fail else set()))
    return {"id": uuid.uuid4().hex[:12], "groups": groups, "state": "running", "started": iso(now),
            "end": fail["at"] if fail else iso(t), "finished": None, "steps": steps, "fail": fail, "detail": detail}
