"""Reading kops' S3 state store with boto3, so discovery and reports work without running kops.

Per cluster kops keeps ``<cluster>/config`` (the Cluster: ``spec.kubernetesVersion`` is the version asked
for), ``instancegroup/<ig>`` (role, sizes, ``spec.rollingUpdate``) and, written by ``kops update cluster``,
``igconfig/<role>/<ig>/nodeupconfig.yaml``: the configuration new instances of that group boot with, whose
kubelet asset URL carries the Kubernetes version the group has actually been given (kops >= 1.31 holds node
groups back while the control plane still runs an older version).

Every request (one GET of an object, one page of a listing, one channel download) goes through the reader's
``request(scope, fn)``: directly by default; the adapter's discovery and offers reads use a reader whose
``request`` is the rate-limit kit (``StateStoreReader.metered``), the scope being the state store's URL for its
objects and the channel's location for a channel (docs/scale.md).
"""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from collections.abc import Callable
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


Request = Callable[[str, Callable[[], Any]], Any]   # (scope, one request) -> its result


def _direct(scope: str, fn: Callable[[], Any]) -> Any:
    return fn()


def channel_url(location: str) -> str:
    """Where a channel is read from: bare names are kops' own channels (its GitHub ``channels/`` folder)."""
    if "://" not in location and not location.startswith("/"):
        return DEFAULT_CHANNEL_BASE + location
    return location


class StateStoreReader:
    """Thin reads over a boto3 S3 client; every SDK error propagates to ``request`` (the adapter translates it).
    ``request(scope, fn)`` makes each single request (default: directly)."""

    def __init__(self, s3: Any, request: Request | None = None):
        self.s3 = s3
        self.request: Request = request or _direct

    def metered(self, request: Request) -> StateStoreReader:
        """The same S3 client, each request made through ``request(scope, fn)`` (the adapter's limiter)."""
        return StateStoreReader(self.s3, request)

    def _get(self, bucket: str, key: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None

    def get(self, bucket: str, key: str, scope: str | None = None) -> bytes | None:
        """One GET (None when the key does not exist), a request of ``scope`` (default ``s3://bucket``)."""
        return self.request(scope or f"s3://{bucket}", lambda: self._get(bucket, key))

    def keys(self, bucket: str, prefix: str, delimiter: str = "", scope: str | None = None
             ) -> tuple[list[str], list[str]]:
        """Every key (and common prefix) under ``prefix``: one ListObjectsV2 request of ``scope`` per page."""
        keys: list[str] = []
        prefixes: list[str] = []
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        while True:
            args = dict(kwargs)
            page = self.request(scope or f"s3://{bucket}", lambda: self.s3.list_objects_v2(**args))
            keys += [o["Key"] for o in page.get("Contents") or []]
            prefixes += [p["Prefix"] for p in page.get("CommonPrefixes") or []]
            if not page.get("IsTruncated"):
                return keys, prefixes
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def cluster_names(self, store: StateStore) -> list[str]:
        """Like kops' ListClusters: the top-level "directories" that hold a ``config``."""
        _, prefixes = self.keys(store.bucket, store.key("") + ("/" if store.prefix else ""), "/", store.url)
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in prefixes)

    def read(self, store: StateStore, name: str) -> KopsCluster | None:
        """Cluster ``name`` from its objects (each GET and each listed page a request of the store's scope)."""
        scope = store.url
        raw = self.get(store.bucket, store.key(name, "config"), scope)
        if raw is None:
            return None
        kc = KopsCluster(store, name, yaml.safe_load(raw) or {})
        for key in self.keys(store.bucket, store.key(name, "instancegroup") + "/", scope=scope)[0]:
            data = self.get(store.bucket, key, scope)
            if data is not None:
                ig = yaml.safe_load(data) or {}
                kc.igs[(ig.get("metadata") or {}).get("name") or key.rsplit("/", 1)[-1]] = ig
        for key in self.keys(store.bucket, store.key(name, "igconfig") + "/", scope=scope)[0]:
            parts = key.split("/")
            if parts[-1] == "nodeupconfig.yaml" and len(parts) >= 3 and parts[-2] in kc.igs:
                data = self.get(store.bucket, key, scope)
                kc.applied[parts[-2]] = nodeup_version(yaml.safe_load(data) or {}) if data else None
        return kc

    def channel(self, location: str, timeout: float) -> dict[str, Any]:
        """A kops channel document from s3://, http(s):// or a local file; bare names are kops' own channels.
        One request, whose scope is the channel's location (``channel_url``): another server than the state
        store (GitHub for kops' own channels, another bucket), so a throttled channel never pauses a store."""
        url = channel_url(location)

        def fetch() -> bytes:
            if url.startswith("s3://"):
                bucket, _, key = url[5:].partition("/")
                data = self._get(bucket, key)
                if data is None:
                    raise self.s3.exceptions.NoSuchKey({"Error": {"Code": "NoSuchKey", "Message":
                                                                  f"channel {url} not found"}}, "GetObject")
                return data
            if url.startswith(("https://", "http://")):
                with urllib.request.urlopen(url, timeout=timeout) as resp:   # noqa: S310 (scheme checked)
                    return bytes(resp.read())
            return Path(url.removeprefix("file://")).read_bytes()

        return yaml.safe_load(self.request(url, fetch)) or {}


def channel_versions(channel: dict[str, Any]) -> list[str]:
    """Every recommended Kubernetes version a kops channel lists (one per minor), ascending."""
    found = {str(e.get("recommendedVersion")) for e in (channel.get("spec") or {}).get("kubernetesVersions") or []
             if e.get("recommendedVersion")}
    return sorted(found, key=parse_version)
