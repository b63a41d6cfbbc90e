"""A faithful local stand-in for kops: a ``kops`` executable plus the S3 state store it works on.

``KopsEmulator`` (used by tests and demos, in-process):

- starts moto's S3 (``moto.server.ThreadedMotoServer``) on 127.0.0.1 and creates a fresh state-store bucket;
- starts a recording, fault-injecting proxy in front of it (providers.emulator_base.EmulatorServer): ``.url``
  is what the *adapter's* boto3 client uses, so ``inject('throttle'|'server-error'|'forbidden'|'not-found'|
  'timeout')`` fails the adapter's next S3 request with S3's XML error shape; ``slow_down(store, times)`` answers
  the adapter's next ``times`` requests for one state store's objects ``503 SlowDown`` (S3 throttling one
  prefix, while the other stores are served);
- ``write_launcher(dir)`` writes a tiny ``kops`` script running providers.kops.emulator.cli; ``kops_env()`` is
  the environment for it (KOPS_STATE_STORE, S3_ENDPOINT/AWS_ENDPOINT_URL_S3 pointing at moto directly, fake
  credentials, PATH with the launcher first). kops invocations never go through the proxy, so an injected
  proxy fault always lands on the adapter;
- seeding (``seed_cluster``, ``set_channel``), kops-level faults (``inject('fail-operation')``: the next
  rolling update fails validation; ``inject('kops-throttle'|'kops-server-error'|'kops-forbidden'|
  'kops-timeout')``: the next kops command fails like kops does when S3 fails; ``inject_validation_failure``:
  an instance group never validates), and the emulator's own logs (``upgrade_log``: accepted mutating upgrade
  requests, i.e. ``set cluster spec.kubernetesVersion`` changes and ``update cluster --yes`` runs that changed
  an instance group's Kubernetes version; ``command_log``: every kops invocation with its argv).

``python -m providers.kops.emulator <kops args>`` runs the emulated CLI directly.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import stat
import sys
import threading
import urllib.parse
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from fleet.clock import Clock, SystemClock
from providers.emulator_base import EmulatorServer, Request
from providers.kops.emulator.cli import main
from providers.kops.emulator.state import (
    API_VERSION,
    KOPS_VERSION,
    Layout,
    S3Mini,
    Store,
    dump_yaml,
    iso,
    new_instance,
)

_HOP = {"content-length", "connection", "transfer-encoding", "expect", "keep-alive"}
_S3_FAULTS = {"throttle": ("SlowDown", "Please reduce your request rate."),
              "server-error": ("ServiceUnavailable", "Service is unable to handle request."),
              "forbidden": ("AccessDenied", "Access Denied"),
              "not-found": ("NoSuchBucket", "The specified bucket does not exist")}
PROXY_FAULTS = {"throttle", "server-error", "forbidden", "not-found", "timeout"}
KOPS_FAULTS = {"kops-throttle", "kops-server-error", "kops-forbidden", "kops-not-found", "kops-timeout"}


def _s3_error_body(fault: str, status: int) -> bytes:
    code, msg = _S3_FAULTS.get(fault, ("InternalError", "We encountered an internal error. Please try again."))
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{msg}</Message>'
            f"<RequestId>0EMULATOR0</RequestId><HostId>emulator</HostId></Error>").encode()


class KopsEmulator:
    """See the module docstring. ``instance_seconds``/``validate_seconds``: virtual time a rolling update
    spends per batch of instances / per validation pass."""

    def __init__(self, clock: Clock | None = None, *, bucket: str | None = None, instance_seconds: float = 240.0,
                 validate_seconds: float = 30.0, retry_after: int = 2, kops_version: str = KOPS_VERSION):
        self.clock = clock or SystemClock()
        self.kops_version = kops_version    # the release the emulated ``kops`` binary reports and enforces
        self.bucket = bucket or f"kops-state-{uuid.uuid4().hex[:10]}"
        self.timing = {"instance_seconds": instance_seconds, "validate_seconds": validate_seconds}
        self.retry_after = retry_after
        self._moto: Any = None
        self.proxy: EmulatorServer | None = None
        self.s3_url = ""
        self.url = ""
        self._slow_lock = threading.Lock()
        self._slow: dict[str, int] = {}       # "bucket/prefix/" -> requests still to answer 503 SlowDown
        self.slowed_down: list[str] = []      # the "bucket/key" of every request answered 503 SlowDown

    # ---- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> Self:
        from moto.server import ThreadedMotoServer
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.s3_url = f"http://{host}:{port}"
        self.proxy = EmulatorServer(routes=[(m, r"/.*", self._forward) for m in ("GET", "PUT", "POST", "DELETE")],
                                    error_body=_s3_error_body, retry_after=self.retry_after).start()
        self.url = self.proxy.url
        s3 = self._s3()
        for b in (self.bucket, self.layout.cloud_bucket, self.channels_bucket):
            s3.create_bucket(b)
        g = self.store.globals()
        g["timing"] = self.timing
        self.store.put_globals(g)
        return self

    def stop(self) -> None:
        if self._moto is None:
            return
        try:
            s3 = self._s3()
            for b in (self.bucket, self.layout.cloud_bucket, self.channels_bucket):
                s3.delete_bucket(b)
        except OSError:
            pass
        stopper = threading.Thread(target=self.proxy.stop) if self.proxy is not None else None
        if stopper is not None:       # both servers poll for shutdown every 0.5 s: stop them side by side
            stopper.start()
        self._moto.stop()
        if stopper is not None:
            stopper.join()
        self._moto = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @staticmethod
    def object_of(req: Request) -> str:
        """``bucket/key`` a path-style S3 request is about; for a listing, ``bucket/<its prefix parameter>``."""
        bucket, _, key = urllib.parse.unquote(req.path).lstrip("/").partition("/")
        return f"{bucket}/{key or req.param('prefix') or ''}"

    def _slowed(self, req: Request) -> bool:
        target = self.object_of(req)
        with self._slow_lock:
            for under, left in self._slow.items():
                if left > 0 and target.startswith(under):
                    self._slow[under] = left - 1
                    self.slowed_down.append(target)
                    return True
        return False

    def _forward(self, _m: Any, _body: Any, req: Request) -> tuple[int, bytes, dict[str, str]]:
        if self._slowed(req):
            # S3 answers a request rate over what a partitioned prefix sustains with HTTP 503, code SlowDown,
            # "Please reduce your request rate." (Amazon S3 error responses; "Why am I getting 503 Slow Down
            # errors from Amazon S3...", AWS Knowledge Center), and documents no Retry-After for it
            return 503, _s3_error_body("throttle", 503), {}
        host, _, port = self.s3_url.removeprefix("http://").partition(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            headers = {k: v for k, v in req.headers.items() if k.lower() not in _HOP}
            conn.request(req.method, req.path + (f"?{req.query}" if req.query else ""), body=req.raw or None,
                         headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            keep = {k: v for k, v in resp.getheaders()
                    if k.lower() not in _HOP | {"content-type", "server", "date"}}
            return resp.status, data, keep
        finally:
            conn.close()

    # ---- plumbing ----------------------------------------------------------------------------------------
    @property
    def state_store(self) -> str:
        return f"s3://{self.bucket}"

    @property
    def layout(self) -> Layout:
        return Layout(self.bucket)

    @property
    def channels_bucket(self) -> str:
        return f"{self.bucket}-channels"

    def _s3(self) -> S3Mini:
        return S3Mini(self.s3_url)

    @property
    def store(self) -> Store:
        return Store(self._s3(), self.layout)

    def kops_env(self, launcher_dir: str | None = None) -> dict[str, str]:
        """Environment for the emulated kops (pass it as the adapter's ``env`` setting)."""
        env = {"KOPS_STATE_STORE": self.state_store, "S3_ENDPOINT": self.s3_url, "AWS_ENDPOINT_URL_S3": self.s3_url,
               "AWS_ACCESS_KEY_ID": "emulator", "AWS_SECRET_ACCESS_KEY": "emulator", "AWS_REGION": "us-east-1"}
        if launcher_dir:
            env["PATH"] = launcher_dir + os.pathsep + os.environ.get("PATH", "")
        return env

    def adapter_settings(self, directory: str | Path, **overrides: Any) -> dict[str, Any]:
        """KopsProvider settings for this emulator: writes the ``kops`` launcher into ``directory``; the adapter's
        boto3 goes through the fault-injecting proxy, kops straight to S3; ``exportClock`` hands the adapter's
        (virtual or scaled) clock to the emulated kops."""
        self.write_launcher(directory)
        settings = {"stateStore": self.state_store, "endpoint": self.url, "env": self.kops_env(str(directory)),
                    "exportClock": True, "logDir": str(Path(directory) / "rolls")}
        settings.update(overrides)
        return settings

    def write_launcher(self, directory: str | Path) -> str:
        """Write an executable ``kops`` into ``directory`` that runs this emulator as kops ``kops_version``;
        returns its path."""
        path = Path(directory) / "kops"
        path.write_text(f"#!{sys.executable}\nimport sys\nfrom providers.kops.emulator.cli import main\n"
                        f"sys.exit(main(kops_version={self.kops_version!r}))\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return str(path)

    # ---- seeding -----------------------------------------------------------------------------------------
    def set_channel(self, name: str, versions: Iterable[str]) -> str:
        """A kops channel offering, per minor, the newest of ``versions``; returns its s3:// location."""
        newest: dict[tuple[int, int], str] = {}
        for v in versions:
            major, minor = (int(x) for x in v.lstrip("v").split(".")[:2])
            cur = newest.get((major, minor))
            if cur is None or [int(x) for x in v.lstrip("v").split(".")[:3]] > [int(x) for x in
                                                                               cur.lstrip("v").split(".")[:3]]:
                newest[(major, minor)] = v
        entries = [{"range": f">={mj}.{mn}.0", "recommendedVersion": v, "requiredVersion": f"{mj}.{mn}.0"}
                   for (mj, mn), v in sorted(newest.items(), reverse=True)]
        doc = {"spec": {"kubernetesVersions": entries,
                        "kopsVersions": [{"range": ">=1.31.0-alpha.1", "recommendedVersion": "1.31.0",
                                          "kubernetesVersion": entries[0]["recommendedVersion"] if entries else ""}]}}
        key = f"{name}/stable"
        self._s3().put(self.channels_bucket, key, dump_yaml({"kind": "Channel", "apiVersion": API_VERSION, **doc}))
        self._add_releases(newest.values())
        return f"s3://{self.channels_bucket}/{key}"

    def _add_releases(self, versions: Iterable[str]) -> None:
        g = self.store.globals()
        g["releases"] = sorted(set(g.get("releases") or []) | set(versions))
        self.store.put_globals(g)

    def seed_cluster(self, name: str, version: str, groups: Mapping[str, Mapping[str, Any]], *,
                     cloud: str = "aws", zones: Iterable[str] = ("us-east-1a",),
                     available: Iterable[str] | None = None, rolling_update: Mapping[str, Any] | None = None,
                     labels: Mapping[str, str] | None = None, store: str | None = None) -> str:
        """Create cluster ``name`` (a DNS name, e.g. ``alpha.k8s.local``) at ``version`` with instance groups
        ``{ig: {"role": "ControlPlane"|"Node"|..., "size": n, "version": v (default: version),
        "rollingUpdate": {...}, "manager": "Karpenter", "machineType": ...}}`` and a channel offering
        ``available`` (default: just ``version``). ``store``: another state store in this emulator's bucket
        (``s3://<bucket>/<prefix>``, a second discovery scope). Returns the cluster name."""
        created = iso(self.clock.now())
        layout = Layout.parse(store) if store else self.layout
        if layout.bucket != self.bucket:
            raise ValueError(f"{store!r} is not in this emulator's bucket {self.bucket}")
        zones = list(zones)
        subnets = [{"name": z, "type": "Public", "zone": z, "cidr": f"172.20.{32 * i}.0/19"}
                   for i, z in enumerate(zones)]
        channel = self.set_channel(name, list(available or [version]))
        spec: dict[str, Any] = {"channel": channel, "cloudProvider": cloud,
                                "configBase": f"s3://{layout.bucket}/{layout.key(name)}",
                                "kubernetesVersion": version, "networking": {"cilium": {}},
                                "nonMasqueradeCIDR": "100.64.0.0/10", "subnets": subnets,
                                "kubernetesApiAccess": ["0.0.0.0/0"], "sshAccess": ["0.0.0.0/0"]}
        if rolling_update:
            spec["rollingUpdate"] = dict(rolling_update)
        cluster = {"apiVersion": API_VERSION, "kind": "Cluster",
                   "metadata": {"creationTimestamp": created, "name": name, **({"labels": dict(labels)} if labels
                                                                               else {})},
                   "spec": spec}
        target = Store(self._s3(), layout)
        target.put_cluster(cluster)
        target.put_completed(cluster)
        state = target.cloud(name)
        versions = {version}
        for ig_name, g in groups.items():
            size = int(g.get("size", 1))
            ig_spec: dict[str, Any] = {"role": g.get("role", "Node"), "machineType": g.get("machineType", "t3.medium"),
                                       "minSize": size, "maxSize": int(g.get("maxSize", size)),
                                       "subnets": list(g.get("subnets", zones[:1])),
                                       "image": "099720109477/ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64",
                                       "nodeLabels": {"kops.k8s.io/instancegroup": ig_name}}
            for key in ("rollingUpdate", "manager"):
                if g.get(key):
                    ig_spec[key] = g[key]
            ig = {"apiVersion": API_VERSION, "kind": "InstanceGroup",
                  "metadata": {"creationTimestamp": created, "labels": {"kops.k8s.io/cluster": name},
                               "name": ig_name}, "spec": ig_spec}
            target.put_ig(name, ig)
            ig_version = str(g.get("version", version))
            versions.add(ig_version)
            target.put_applied(name, ig, ig_version)
            state["instances"][ig_name] = [new_instance(state, ig_version) for _ in range(size)]
        target.put_cloud(name, state)
        self._add_releases(versions)
        return name

    # ---- faults ------------------------------------------------------------------------------------------
    def inject(self, fault: str) -> None:
        """One-shot faults: see the module docstring."""
        if fault in PROXY_FAULTS:
            assert self.proxy is not None, "start() the emulator first"
            self.proxy.inject(fault)
            return
        g = self.store.globals()
        if fault == "fail-operation":
            g["fail_next_roll"] = int(g.get("fail_next_roll", 0)) + 1
        elif fault in KOPS_FAULTS:
            g.setdefault("cli_faults", []).append(fault.removeprefix("kops-"))
        else:
            raise ValueError(f"unknown fault {fault!r}")
        self.store.put_globals(g)

    def slow_down(self, store: str, times: int = 1) -> None:
        """The adapter's next ``times`` requests for objects of state store ``store`` (``s3://bucket[/prefix]``:
        a GET of a key under it, a listing of a prefix under it) answer ``503 SlowDown``, as S3 does when the
        request rate of a prefix is exceeded; requests for other stores and channels are served."""
        layout = Layout.parse(store)
        under = f"{layout.bucket}/" + (f"{layout.prefix}/" if layout.prefix else "")
        with self._slow_lock:
            self._slow[under] = self._slow.get(under, 0) + times

    def inject_validation_failure(self, cluster: str, ig: str, message: str | None = None) -> None:
        """From now on, a rolling update reaching ``ig`` fails validation (after --validation-timeout)."""
        state = self.store.cloud(cluster)
        size = len(state["instances"].get(ig, [])) or 1
        state["validation_failures"][ig] = message or f'InstanceGroup "{ig}" did not have enough nodes {size - 1} ' \
                                                      f'vs {size}'
        self.store.put_cloud(cluster, state)

    def clear_validation_failure(self, cluster: str, ig: str) -> None:
        state = self.store.cloud(cluster)
        state["validation_failures"].pop(ig, None)
        self.store.put_cloud(cluster, state)

    def set_node_ready(self, cluster: str, ig: str, index: int, ready: bool) -> None:
        """Test control: the ``index``-th instance of ``ig`` reports its Node Ready or NotReady (what kops
        validate reads from the Kubernetes API, which the emulator does not run)."""
        state = self.store.cloud(cluster)
        iid = state["instances"][ig][index]["id"]
        not_ready = set(state.get("not_ready") or [])
        state["not_ready"] = sorted(not_ready - {iid} if ready else not_ready | {iid})
        self.store.put_cloud(cluster, state)

    def add_etcd_backup(self, cluster: str, at: datetime, etcd: str = "main", sequence: int = 1,
                        etcd_version: str = "3.5.17") -> str:
        """An etcd-manager backup in the state store, as kops documents and etcd-manager writes them:
        ``<cluster>/backups/etcd/{main,events}/`` (kops docs/operations/etcd_backup_restore_encryption.md:
        ``--backup-store=s3://my.clusters/test.my.clusters/backups/etcd/main``), one directory per backup named
        ``<RFC 3339 time>-<suffix>`` (e.g. ``2018-01-30T01:02:03Z-000009``) holding the data file and a JSON
        ``_etcd_backup.meta`` with at least ``etcdVersion`` (etcd-manager's "The backup structure" document).
        Returns the directory's key."""
        when = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        base = self.layout.key(cluster, "backups", "etcd", etcd, f"{when}-{sequence:06d}")
        s3 = self._s3()
        s3.put(self.bucket, base + "/etcd.backup.gz", b"emulated snapshot")
        s3.put(self.bucket, base + "/_etcd_backup.meta", json.dumps({"etcdVersion": etcd_version}).encode())
        return base

    # ---- observation -------------------------------------------------------------------------------------
    def upgrade_log(self, cluster: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.store.read_log("upgrades")
                if (cluster is None or e.get("cluster") == cluster) and (kind is None or e.get("kind") == kind)]

    def command_log(self) -> list[dict[str, Any]]:
        return self.store.read_log("commands")

    def cloud_state(self, cluster: str) -> dict[str, Any]:
        return self.store.cloud(cluster)

    def instance_group(self, cluster: str, ig: str) -> dict[str, Any]:
        return self.store.instance_groups(cluster)[ig]

    def cluster_spec(self, cluster: str) -> dict[str, Any]:
        obj = self.store.cluster(cluster)
        assert obj is not None, cluster
        return obj

    def instance_versions(self, cluster: str) -> dict[str, list[str]]:
        """The Kubernetes version each running instance was launched with, per instance group."""
        return {g: [i["version"] for i in members] for g, members in self.cloud_state(cluster)["instances"].items()}


if __name__ == "__main__":
    sys.exit(main())
