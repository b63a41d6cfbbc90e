"""Reading kops' S3 state store with boto3, so discovery and reports work without running kops.

Per cluster kops keeps ``<cluster>/config`` (the Cluster: ``spec.kubernetesVersion`` is the version asked
for), ``instancegroup/<ig>`` (role, sizes, ``spec.rollingUpdate``) and, written by ``kops update cluster``,
``igconfig/<role>/<ig>/nodeupconfig.yaml``: the configuration new instances of that group boot with, whose
kubelet asset URL carries the Kubernetes version the group has actually been given (kops >= 1.31 holds node
groups back while the control plane still runs an older version).
"""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fleet.versions import parse_version

CONTROL_PLANE_ROLES = frozenset({"ControlPlane", "Master"})
_KUBELET_RE = re.compile(r"/v(\d+\.\d+\.\d+[^/]*)/bin/linux/[^/]+/kubelet$")
DEFAULT_CHANNEL_BASE = "https://raw.githubusercontent.com/kubernetes/kops/master/channels/"


@dataclass(frozen=True)
class StateStore:
    url: str
    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> StateStore:
        u = urllib.parse.urlsplit(url.rstrip("/"))
        if u.scheme != "s3" or not u.netloc:
            raise ValueError(f"{url!r} is not an s3://bucket[/prefix] state store")
        return cls(url.rstrip("/"), u.netloc, u.path.strip("/"))

    @property
    def location(self) -> str:
        """The scope in cluster ids: the bucket, plus the prefix (``/`` written as ``:``) if any."""
        return self.bucket + (":" + self.prefix.replace("/", ":") if self.prefix else "")

    def key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)


def nodeup_version(doc: dict[str, Any]) -> str | None:
    for urls in (doc.get("Assets") or {}).values():
        for entry in urls or []:
            m = _KUBELET_RE.search(str(entry).split("@", 1)[-1])
            if m:
                return m.group(1)
    return None


@dataclass
class KopsCluster:
    """One cluster as its state store describes it."""

    store: StateStore
    name: str
    obj: dict[str, Any]
    igs: dict[str, dict[str, Any]] = field(default_factory=dict)
    applied: dict[str, str | None] = field(default_factory=dict)

    @property
    def spec(self) -> dict[str, Any]:
        return self.obj.get("spec") or {}

    @property
    def desired(self) -> str:
        return str(self.spec.get("kubernetesVersion") or "")

    @property
    def cloud(self) -> str:
        cp = self.spec.get("cloudProvider")
        return next(iter(cp), "") if isinstance(cp, dict) else str(cp or "")

    def role(self, ig: str) -> str:
        return str((self.igs[ig].get("spec") or {}).get("role") or "")

    def groups(self, *roles: str) -> list[str]:
        return sorted(g for g in self.igs if self.role(g) in roles)

    @property
    def control_plane_groups(self) -> list[str]:
        return self.groups(*CONTROL_PLANE_ROLES)

    def version_of(self, ig: str) -> str:
        return self.applied.get(ig) or self.desired

    @property
    def control_plane_version(self) -> str:
        versions = [self.version_of(g) for g in self.control_plane_groups]
        return min(versions, key=parse_version) if versions else self.desired

    def ig_summary(self, ig: str) -> dict[str, Any]:
        spec = self.igs[ig].get("spec") or {}
        return {"role": spec.get("role"), "minSize": spec.get("minSize"), "maxSize": spec.get("maxSize"),
                "rollingUpdate": spec.get("rollingUpdate") or {}, "manager": spec.get("manager"),
                "appliedVersion": self.applied.get(ig)}


class StateStoreReader:
    """Thin reads over a boto3 S3 client; every SDK error propagates to the adapter's boundary."""

    def __init__(self, s3: Any):
        self.s3 = s3

    def get(self, bucket: str, key: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None

    def keys(self, bucket: str, prefix: str, delimiter: str = "") -> tuple[list[str], list[str]]:
        keys: list[str] = []
        prefixes: list[str] = []
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        while True:
            page = self.s3.list_objects_v2(**kwargs)
            keys += [o["Key"] for o in page.get("Contents") or []]
            prefixes += [p["Prefix"] for p in page.get("CommonPrefixes") or []]
            if not page.get("IsTruncated"):
                return keys, prefixes
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def cluster_names(self, store: StateStore) -> list[str]:
        """Like kops' ListClusters: the top-level "directories" that hold a ``config``."""
        _, prefixes = self.keys(store.bucket, store.key("") + ("/" if store.prefix else ""), "/")
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in prefixes)

    def read(self, store: StateStore, name: str) -> KopsCluster | None:
        raw = self.get(store.bucket, store.key(name, "config"))
        if raw is None:
            return None
        kc = KopsCluster(store, name, yaml.safe_load(raw) or {})
        for key in self.keys(store.bucket, store.key(name, "instancegroup") + "/")[0]:
            data = self.get(store.bucket, key)
            if data is not None:
                ig = yaml.safe_load(data) or {}
                kc.igs[(ig.get("metadata") or {}).get("name") or key.rsplit("/", 1)[-1]] = ig
        for key in self.keys(store.bucket, store.key(name, "igconfig") + "/")[0]:
            parts = key.split("/")
            if parts[-1] == "nodeupconfig.yaml" and len(parts) >= 3 and parts[-2] in kc.igs:
                data = self.get(store.bucket, key)
                kc.applied[parts[-2]] = nodeup_version(yaml.safe_load(data) or {}) if data else None
        return kc

    def channel(self, location: str, timeout: float) -> dict[str, Any]:
        """A kops channel document from s3://, http(s):// or a local file; bare names are kops' own channels."""
        if "://" not in location and not location.startswith("/"):
            location = DEFAULT_CHANNEL_BASE + location
        if location.startswith("s3://"):
            bucket, _, key = location[5:].partition("/")
            data = self.get(bucket, key)
            if data is None:
                raise self.s3.exceptions.NoSuchKey({"Error": {"Code": "NoSuchKey", "Message":
                                                              f"channel {location} not found"}}, "GetObject")
        elif location.startswith(("https://", "http://")):
            with urllib.request.urlopen(location, timeout=timeout) as resp:   # noqa: S310 (scheme checked)
                data = resp.read()
        else:
            data = Path(location.removeprefix("file://")).read_bytes()
        return yaml.safe_load(data) or {}


def channel_versions(channel: dict[str, Any]) -> list[str]:
    """Every recommended Kubernetes version a kops channel lists (one per minor), ascending."""
    found = {str(e.get("recommendedVersion")) for e in (channel.get("spec") or {}).get("kubernetesVersions") or []
             if e.get("recommendedVersion")}
    return sorted(found, key=parse_version)
