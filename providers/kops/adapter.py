"""KopsProvider: upgrades kops clusters the way an operator does by hand, reading state straight from S3.

Settings (camelCase, validated strictly):
  stateStore      s3://bucket[/prefix], or a list of them (each is a discovery scope; the cluster id's location
                  is the bucket, plus the prefix with ``/`` written as ``:``)
  clusters        cluster names to manage (default: every cluster in the store(s))
  kopsBinary      the kops executable (default ``kops``, looked up on the PATH of the environment below)
  env             extra environment for kops (credentials, AWS_PROFILE, PATH, ...); the
                  AWS_* credentials/profile/region in it are also used for the adapter's own boto3 reads
  endpoint        S3 endpoint override for boto3 (also given to kops as S3_ENDPOINT / AWS_ENDPOINT_URL_S3
                  unless ``env`` sets those)
  region          AWS region for boto3 (default: AWS_REGION from env, else us-east-1)
  channel         channel location for version offers (default: the cluster's spec.channel, else "stable")
  commandTimeout  seconds a synchronous kops command may take (default 120)
  requestTimeout  seconds for one S3 / channel request (default 10)
  pollInterval    seconds between polls of a running rolling update, suggested to the engine (default 30)
  logDir          where background ``kops rolling-update`` output and roll records go (default
                  <config_dir>/.kops-rolls, else <tmp>/fleet-kops-<uid>)
  exportClock     give kops the adapter's clock as FLEET_EMULATOR_NOW (for the kops emulator under virtual
                  time; real kops ignores it)
  apiRatePerSecond, apiBurst, apiConcurrency
                  the rate-limit kit (fleet.ratelimit, docs/scale.md): a token bucket per state store (and per
                  channel location) for the reads of discovery and offers, and the workers reading stores at once
                  (default 100/s, burst 200, 8 workers)

Discovery and offers are on the rate-limit kit: every state store is read on its own worker of the limiter
(``limiter.spread``), every object read (a GET, a page of a listing) is one token and one count of the store's
scope, its URL (``limiter.call``); a channel is its own scope, its location. S3's 503 ``SlowDown`` (and a
channel server's 429) becomes ThrottledError(retry_after) inside the limiter
(providers.kops.errors.translate), so the limiter pauses that scope and retries the read while the other
stores go on. Starts, polls and checks (kops commands and their reads) are not metered.

Commands: only commands and flags of the kops CLI reference (kubernetes/kops docs/cli, shipped in
providers/kops/emulator/reference/; a test checks every argv the adapter sends against it). ``kops set`` was
removed in kops 1.22 and is never used. The sequence is the "Manual update" of updates_and_upgrades.md
("kops edit cluster $NAME" / "set the kubernetesVersion to the target version" / "kops update cluster $NAME
--yes" / "kops rolling-update cluster $NAME --yes"), with ``kops edit --set`` instead of an editor
(kops_edit_cluster.md example: ``kops edit cluster testcluster.k8s.local --set spec.kubernetesVersion=1.28.4``).
``kops upgrade cluster`` is not used: without ``--kubernetes-version`` it moves to the channel's recommendation.
``kops reconcile cluster`` (kops 1.31+, updates_and_upgrades.md "Automated update") is not used either: it has no
``--instance-group`` / ``--instance-group-roles`` (kops_reconcile_cluster.md), so it cannot do fleet's separate
control-plane and per-pool steps with their own budgets.

Control-plane step: ``kops edit cluster C --set spec.kubernetesVersion=V``, ``kops update cluster C --yes
--instance-group-roles control-plane[,apiserver] --create-kube-config=false``, then ``kops rolling-update
cluster C --yes --instance-group-roles ...`` in the background, polled. Node-pool step (pool = instance group
with role Node): ``kops edit instancegroup --name C G --set spec.rollingUpdate.maxSurge=..
--set spec.rollingUpdate.maxUnavailable=..`` (kops_edit_instancegroup.md), ``kops update cluster C --yes
--instance-group G``, ``kops rolling-update cluster C --yes --instance-group G``.
The kops binary's release (``kops version --short``, kops_version.md) is discovered into
``Cluster.facts["kopsVersion"]``: kops X.Y refuses Kubernetes X.(Y+1) and newer in ``update cluster``
("upgrading kops is required"), which providers/kops/rules.py turns into the planner's ``max_minor``.
Idempotency: every step first compares the state store with the target; when the version is already applied,
the dry run ``kops rolling-update cluster C --instance-group ...`` says whether instances still need replacing,
and re-running the rolling update is safe (kops only replaces what needs it), so a restart just re-attaches to
a still-running roll (recorded in logDir) or re-runs it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fleet.clock import Clock, SystemClock, iso
from fleet.errors import PermanentProviderError, ProviderError, TemporaryProviderError
from fleet.provider import (
    BuiltinCheck,
    CheckOutcome,
    Cluster,
    Component,
    NodePool,
    OperationRef,
    OperationState,
    OperationStatus,
    RollbackSupport,
    Step,
    UpgradeRules,
    VersionOffers,
    import_optional,
)
from fleet.ratelimit import ScopeLimiter
from fleet.versions import InvalidVersion, parse_version
from providers.checks_base import guarded
from providers.kops import gates
from providers.kops.budget import translate_step
from providers.kops.errors import KopsCommandError, kops_message, translate
from providers.kops.rules import Facts, compute_rules, kops_max_minor
from providers.kops.settings import CLUSTER_NAME_RE, KopsSettings, parse_settings
from providers.kops.state_store import KopsCluster, StateStore, StateStoreReader, channel_versions

log = logging.getLogger("providers.kops")

IG_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$")
VERSION_RE = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")


@dataclass
class _Run:
    proc: subprocess.Popen[bytes]
    stderr: Path
    relaunches: int = 0


class KopsProvider:
    type = "kops"
    settings_model = KopsSettings   # the schema of this provider's settings (FleetConfig validates against it)
    facts_model = Facts             # the per-cluster facts of its upgrade rules (inventory spelling)

    @classmethod
    def upgrade_rules(cls, cluster: Cluster) -> UpgradeRules:
        return compute_rules(cluster)

    def __init__(self, name: str = "kops", settings: Mapping[str, Any] | None = None, *,
                 clock: Clock | None = None, config_dir: str | None = None, **_: Any):
        self.name = name
        self.clock = clock or SystemClock()
        self.settings = parse_settings(settings)
        s = self.settings
        urls = [s.stateStore] if isinstance(s.stateStore, str) else list(s.stateStore)
        self.stores = [StateStore.parse(u) for u in urls]
        boto3 = import_optional("boto3", "kops")
        from botocore.config import Config  # type: ignore[import-untyped]  # botocore ships no types
        with self._boundary("configuring the S3 client"):      # e.g. an unknown AWS_PROFILE
            session = boto3.session.Session(
                aws_access_key_id=s.env.get("AWS_ACCESS_KEY_ID"),
                aws_secret_access_key=s.env.get("AWS_SECRET_ACCESS_KEY"),
                aws_session_token=s.env.get("AWS_SESSION_TOKEN"), profile_name=s.env.get("AWS_PROFILE"),
                region_name=s.region or s.env.get("AWS_REGION") or s.env.get("AWS_DEFAULT_REGION") or "us-east-1")
            config = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                            connect_timeout=min(5.0, s.requestTimeout), read_timeout=s.requestTimeout)
            self.reader = StateStoreReader(session.client("s3", endpoint_url=s.endpoint, config=config))
        # bounded concurrency and a token bucket per state store (and channel), on this provider's clock
        # (docs/scale.md); ``_metered`` is the reader of discovery and offers, each request through the limiter
        self.limiter = ScopeLimiter(name, s.apiRatePerSecond, s.apiBurst, concurrency=s.apiConcurrency,
                                    clock=self.clock)
        self._metered = self.reader.metered(self._request)
        default_logs = (Path(config_dir) / ".kops-rolls" if config_dir
                        else Path(tempfile.gettempdir()) / f"fleet-kops-{os.getuid()}")
        self.log_dir = Path(s.logDir) if s.logDir else default_logs
        self._runs: dict[str, _Run] = {}
        self._kops_version: str | None = None

    # ---- boundary ----------------------------------------------------------------------------------------
    @contextmanager
    def _boundary(self, what: str) -> Iterator[None]:
        try:
            yield
        except (TemporaryProviderError, PermanentProviderError):
            raise
        except Exception as exc:  # every foreign error is translated in one place: providers.kops.errors
            raise translate(exc, provider=self.name, operation=what) from exc

    def _request(self, scope: str, fn: Callable[[], Any]) -> Any:
        """One state-store or channel read through the limiter: a token of ``scope`` (a state store's URL, a
        channel's location), counted in its figures. The foreign error is translated here, inside the limiter,
        so S3's 503 SlowDown becomes ThrottledError(retry_after) and pauses this scope only."""
        def attempt() -> Any:
            with self._boundary(f"read {scope}"):
                return fn()
        return self.limiter.call(scope, attempt)

    def _env(self, store: StateStore) -> dict[str, str]:
        s = self.settings
        env = dict(os.environ)
        if s.endpoint:
            env["S3_ENDPOINT"] = env["AWS_ENDPOINT_URL_S3"] = s.endpoint
        env.update(s.env)
        env["KOPS_STATE_STORE"] = store.url
        if s.exportClock:
            env["FLEET_EMULATOR_NOW"] = iso(self.clock.now()) or ""
        return env

    def _argv(self, env: dict[str, str], args: list[str]) -> list[str]:
        binary = shutil.which(self.settings.kopsBinary, path=env.get("PATH"))
        if binary is None:
            raise FileNotFoundError(f"kops binary {self.settings.kopsBinary!r} not found on PATH")
        return [binary, *args]

    def _kops(self, store: StateStore, args: list[str]) -> subprocess.CompletedProcess[str]:
        env = self._env(store)
        argv = self._argv(env, args)
        log.debug("running kops %s", " ".join(args), extra={"provider": self.name, "operation": " ".join(args[:2])})
        done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=self.settings.commandTimeout, check=False)
        if done.returncode != 0:
            raise KopsCommandError(args, done.returncode, done.stderr, done.stdout)
        return done

    # ---- discovery ---------------------------------------------------------------------------------------
    def kops_version(self) -> str:
        """The kops binary's release, from ``kops version --short`` (kops_version.md: "only print the main kOps
        version"; cmd/kops/version.go prints kops.Version and a newline); read once per adapter."""
        if self._kops_version is None:
            out = self._kops(self.stores[0], ["version", "--short"]).stdout.strip()
            version = out.splitlines()[0].strip() if out else ""
            try:
                kops_max_minor(version)
            except ValueError as exc:
                raise PermanentProviderError(f"`kops version --short` printed {out!r}, not a kops release",
                                             provider=self.name, code="500") from exc
            self._kops_version = version.lstrip("v")
        return self._kops_version

    def discover(self) -> list[Cluster]:
        """Every state store on its own worker (``limiter.spread``), each of its object reads a token of the
        store (``limiter.call``): one throttled store waits alone. Then every channel the clusters name, once
        each, concurrently, each its own scope (docs/scale.md)."""
        with self._boundary("discover"):
            facts = {"kopsVersion": self.kops_version()}
            read: list[KopsCluster] = []
            for part in self.limiter.spread([functools.partial(self._discover_store, s) for s in self.stores]):
                if isinstance(part, BaseException):
                    raise part
                read.extend(part)
            locations = sorted({self._channel_location(kc) for kc in read})
            found = self.limiter.spread([functools.partial(self._channel_offers, loc) for loc in locations])
            offers = dict(zip(locations, found, strict=True))
            out = []
            for kc in read:
                try:
                    out.append(self._to_cluster(kc, offers[self._channel_location(kc)], facts))
                except InvalidVersion as exc:   # one odd cluster must not hide the others
                    log.warning("skipping kops cluster %s in %s: %s", kc.name, kc.store.url, exc,
                                extra={"provider": self.name, "cluster": kc.name, "reason": str(exc)})
            return out

    def _discover_store(self, store: StateStore) -> list[KopsCluster]:
        """One state store's clusters (run on the store's worker; every read through the limiter)."""
        names = list(self.settings.clusters) if self.settings.clusters else self._metered.cluster_names(store)
        return [kc for kc in (self._metered.read(store, name) for name in names) if kc is not None]

    def _channel_offers(self, location: str) -> tuple[str, ...]:
        """A channel's versions; unreadable: none (discovery still reports the cluster; offers() raises)."""
        try:
            with self._boundary(f"channel {location}"):
                return tuple(channel_versions(self._metered.channel(location, self.settings.requestTimeout)))
        except ProviderError as err:
            log.warning("kops channel unreadable: %s", err,
                        extra={"provider": self.name, "operation": f"read channel {location}", "reason": err.code})
            return ()

    def _channel_location(self, kc: KopsCluster) -> str:
        return self.settings.channel or str(kc.spec.get("channel") or "stable")

    def _to_cluster(self, kc: KopsCluster, available: tuple[str, ...], facts: Mapping[str, Any]) -> Cluster:
        cp = kc.control_plane_version
        pools = tuple(NodePool(g, kc.version_of(g), int((kc.igs[g].get("spec") or {}).get("minSize") or 0))
                      for g in kc.groups("Node"))
        karpenter = sorted(g for g in kc.groups("Node") if (kc.igs[g].get("spec") or {}).get("manager") == "Karpenter")
        labels = {str(k): str(v) for k, v in ((kc.obj.get("metadata") or {}).get("labels") or {}).items()}
        return Cluster(provider=self.name, location=kc.store.location, name=kc.name, control_plane=cp,
                       node_pools=pools, labels=labels, provider_type=self.type, facts=dict(facts),
                       available=tuple(v for v in available if parse_version(v) >= parse_version(cp)),
                       auto_upgrade=(f"Karpenter replaces drifted nodes of {', '.join(karpenter)}" if karpenter
                                     else None),
                       upgrading=parse_version(kc.desired) != parse_version(cp) if kc.desired else False,
                       extra={"stateStore": kc.store.url, "desiredVersion": kc.desired, "cloudProvider": kc.cloud,
                              "channel": self._channel_location(kc),
                              "instanceGroups": {g: kc.ig_summary(g) for g in sorted(kc.igs)}})

    def _store_of(self, cluster: Cluster) -> StateStore:
        for store in self.stores:
            if store.location == cluster.location or store.url == (cluster.extra or {}).get("stateStore"):
                return store
        raise PermanentProviderError(f"{cluster.id}: state store {cluster.location!r} is not configured",
                                     provider=self.name, code="404")

    def _read(self, cluster: Cluster, *, metered: bool = False) -> KopsCluster:
        """The cluster from its state store; ``metered``: each read through the limiter (offers)."""
        if not CLUSTER_NAME_RE.match(cluster.name):
            raise PermanentProviderError(f"refusing to pass {cluster.name!r} to kops: not a kops cluster name",
                                         provider=self.name, code="400")
        kc = (self._metered if metered else self.reader).read(self._store_of(cluster), cluster.name)
        if kc is None:
            raise PermanentProviderError(f"cluster {cluster.name} not found in {cluster.location}",
                                         provider=self.name, code="404")
        return kc

    def offers(self, cluster: Cluster) -> VersionOffers:
        with self._boundary("offers"):
            kc = self._read(cluster, metered=True)
            return self._offers(kc, metered=True)

    def _offers(self, kc: KopsCluster, *, metered: bool = False) -> VersionOffers:
        reader = self._metered if metered else self.reader
        versions = channel_versions(reader.channel(self._channel_location(kc), self.settings.requestTimeout))
        cp = parse_version(kc.control_plane_version)
        cp_offers = tuple(v for v in versions if parse_version(v) >= cp)
        pools = tuple(sorted(set(cp_offers) | ({kc.desired} if kc.desired else set()), key=parse_version))
        return VersionOffers(cp_offers, {"*": pools})

    # ---- budgets -----------------------------------------------------------------------------------------
    def check_step(self, cluster: Cluster, step: Step) -> list[str]:
        igs = (cluster.extra or {}).get("instanceGroups") or {}
        ig = igs.get(step.pool or "") or {}
        pool = cluster.pool(step.pool) if step.pool else None
        warnings = list(translate_step(step, nodes=pool.nodes if pool else int(ig.get("minSize") or 0),
                                       cloud=str((cluster.extra or {}).get("cloudProvider") or "aws"),
                                       manager=ig.get("manager")).warnings)
        if step.component is Component.NODE_POOL and step.pool and igs and step.pool not in igs:
            warnings.append(f"instance group {step.pool} not found in {cluster.id}")
        return warnings

    # ---- start -------------------------------------------------------------------------------------------
    def start(self, cluster: Cluster, step: Step) -> OperationRef:
        with self._boundary("start"):
            if not VERSION_RE.match(step.to):
                raise PermanentProviderError(f"{step.to!r} is not a Kubernetes version", provider=self.name,
                                             code="400")
            kc = self._read(cluster)
            if step.component is Component.CONTROL_PLANE:
                return self._start_control_plane(cluster, kc, step)
            return self._start_pool(cluster, kc, step)

    def _same(self, a: str | None, b: str | None) -> bool:
        return bool(a) and bool(b) and parse_version(str(a)) == parse_version(str(b))

    def _start_control_plane(self, cluster: Cluster, kc: KopsCluster, step: Step) -> OperationRef:
        to, groups = step.to, kc.control_plane_groups + kc.groups("APIServer")
        roles = "control-plane" + (",apiserver" if kc.groups("APIServer") else "")
        selector = ["--instance-group-roles", roles]
        flags = translate_step(step, nodes=1, cloud=kc.cloud).flags
        applied = all(self._same(kc.version_of(g), to) for g in groups)
        if self._same(kc.desired, to) and applied:
            return self._ensure_roll(cluster, kc, step, groups, selector, flags)
        if not self._same(kc.desired, to):
            cp = kc.control_plane_version
            if not self._same(kc.desired, cp) or self._need_update(kc, selector)[0]:
                raise TemporaryProviderError(f"{cluster.id}: an upgrade to {kc.desired} is still in progress "
                                             f"(control plane at {cp})", provider=self.name, code="409",
                                             retry_after=self.settings.pollInterval * 2)
            if parse_version(to) < parse_version(cp):
                raise PermanentProviderError(f"{cluster.id}: kops does not downgrade ({cp} -> {to})",
                                             provider=self.name, code="400")
            offered = self._offers(kc).control_plane
            if not any(self._same(v, to) for v in offered):
                raise PermanentProviderError(f"{cluster.id}: {to} is not offered by kops channel "
                                             f"{self._channel_location(kc)} (offers {', '.join(offered) or 'none'})",
                                             provider=self.name, code="400")
            self._refuse_too_new(cluster, to)
            # kops_edit_cluster.md: "kops edit cluster testcluster.k8s.local --set spec.kubernetesVersion=1.28.4"
            self._kops(kc.store, ["edit", "cluster", kc.name, "--set", f"spec.kubernetesVersion={to}"])
        self._kops(kc.store, ["update", "cluster", kc.name, "--yes", *selector, "--create-kube-config=false"])
        kc = self._read(cluster)
        missing = [g for g in groups if not self._same(kc.version_of(g), to)]
        if missing:
            raise PermanentProviderError(f"{cluster.id}: kops update cluster did not give {', '.join(missing)} "
                                         f"version {to}", provider=self.name, code="500")
        return self._launch(cluster, kc, step, groups, selector, flags)

    def _start_pool(self, cluster: Cluster, kc: KopsCluster, step: Step) -> OperationRef:
        g, to = step.pool or "", step.to
        if not IG_NAME_RE.match(g):
            raise PermanentProviderError(f"refusing to pass {g!r} to kops: not an instance group name",
                                         provider=self.name, code="400")
        if g not in kc.igs or kc.role(g) != "Node":
            raise PermanentProviderError(f"{cluster.id}: no instance group {g} with role Node", provider=self.name,
                                         code="404")
        if not self._same(to, kc.desired):
            raise PermanentProviderError(f"{cluster.id}: kops gives every instance group the cluster's "
                                         f"spec.kubernetesVersion ({kc.desired}); node pool {g} cannot move to {to}",
                                         provider=self.name, code="400")
        if not self._same(kc.control_plane_version, to):
            raise TemporaryProviderError(f"{cluster.id}: the control plane is not at {to} yet", provider=self.name,
                                         code="409", retry_after=self.settings.pollInterval * 2)
        spec = kc.igs[g].get("spec") or {}
        tr = translate_step(step, nodes=int(spec.get("minSize") or 0), cloud=kc.cloud, manager=spec.get("manager"))
        selector = ["--instance-group", g]
        current = spec.get("rollingUpdate") or {}
        changes = [f"{k}={v}" for k, v in tr.fields.items()
                   if str(current.get(k.rsplit(".", 1)[-1], "")) != v]
        if self._same(kc.version_of(g), to):
            return self._ensure_roll(cluster, kc, step, [g], selector, tr.flags, changes)
        if changes:
            self._edit_ig(kc, g, changes)
        self._kops(kc.store, ["update", "cluster", kc.name, "--yes", *selector, "--create-kube-config=false"])
        kc = self._read(cluster)
        if not self._same(kc.version_of(g), to):
            raise TemporaryProviderError(f"{cluster.id}: kops held instance group {g} at {kc.version_of(g)} "
                                         "(the control plane may still be rolling)", provider=self.name,
                                         code="409", retry_after=self.settings.pollInterval * 2)
        return self._launch(cluster, kc, step, [g], selector, tr.flags)

    def _edit_ig(self, kc: KopsCluster, group: str, changes: list[str]) -> None:
        """kops_edit_instancegroup.md: ``kops edit instancegroup --name C G --set K=V`` (one --set per field:
        the flag is a string slice split at commas)."""
        self._kops(kc.store, ["edit", "instancegroup", "--name", kc.name, group,
                              *(arg for change in changes for arg in ("--set", change))])

    def _refuse_too_new(self, cluster: Cluster, to: str) -> None:
        """Refuse, before changing the state store, a version ``kops update cluster`` would refuse (the planner
        blocks it already through rules.py; this guards a stale plan or another caller)."""
        limit = kops_max_minor(self.kops_version())
        v = parse_version(to)
        if (v.major, v.minor) > limit:
            raise PermanentProviderError(f"{cluster.id}: kops {self.kops_version()} applies Kubernetes up to "
                                         f"{limit[0]}.{limit[1]}, not {to} (\"upgrading kops is required\")",
                                         provider=self.name, code="400")

    # ---- rolling updates ---------------------------------------------------------------------------------
    def _need_update(self, kc: KopsCluster | tuple[StateStore, str], selector: list[str]) -> tuple[int, int]:
        """(instances needing update, instances) from the dry run ``kops rolling-update cluster``."""
        store, name = (kc.store, kc.name) if isinstance(kc, KopsCluster) else kc
        out = self._kops(store, ["rolling-update", "cluster", name, *selector]).stdout
        need = total = 0
        lines = [ln for ln in out.splitlines() if ln.strip()]
        if not lines or not lines[0].startswith("NAME"):
            return 0, 0
        header = lines[0].split()
        for ln in lines[1:]:
            cells = ln.split()
            if len(cells) != len(header):
                break
            row = dict(zip(header, cells, strict=True))
            need += int(row["NEEDUPDATE"])
            total += int(row["NEEDUPDATE"]) + int(row["READY"])
        return need, total

    def _record_path(self, kc: KopsCluster, groups: list[str]) -> Path:
        safe = re.sub(r"[^A-Za-z0-9.-]", "_", f"{kc.store.location}--{kc.name}--{'+'.join(groups)}")
        return self.log_dir / f"{safe}.json"

    def _ensure_roll(self, cluster: Cluster, kc: KopsCluster, step: Step, groups: list[str], selector: list[str],
                     flags: list[str], changes: list[str] | None = None) -> OperationRef:
        """The version is applied: finished if nothing needs replacing, else attach to or re-run the roll."""
        if not self._need_update(kc, selector)[0]:
            return OperationRef(f"kops:{uuid.uuid4().hex[:12]}", cluster.id, step.key,
                                {"done": True, "cluster": kc.name, "to": step.to, "groups": groups})
        record = self._load_record(kc, groups)
        if record and _pid_running(record.get("pid"), kc.name):
            if not self._same(record.get("to"), step.to):
                raise TemporaryProviderError(f"{cluster.id}: a rolling update to {record.get('to')} is running",
                                             provider=self.name, code="409", retry_after=self.settings.pollInterval)
            return OperationRef(record["op"], cluster.id, step.key, record)
        if changes:
            self._edit_ig(kc, groups[0], changes)
        return self._launch(cluster, kc, step, groups, selector, flags)

    def _load_record(self, kc: KopsCluster, groups: list[str]) -> dict[str, Any] | None:
        try:
            return json.loads(self._record_path(kc, groups).read_text())
        except (OSError, ValueError):
            return None

    def _spawn(self, store: StateStore, args: list[str], op_id: str) -> tuple[subprocess.Popen[bytes], Path]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = self._env(store)
        argv = self._argv(env, args)
        out, err = self.log_dir / f"{op_id}.out", self.log_dir / f"{op_id}.err"
        with open(out, "ab") as fo, open(err, "ab") as fe:
            proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe, close_fds=True)
        log.info("started kops %s (pid %s)", " ".join(args), proc.pid,
                 extra={"provider": self.name, "operation": op_id})
        return proc, err

    def _launch(self, cluster: Cluster, kc: KopsCluster, step: Step, groups: list[str], selector: list[str],
                flags: list[str]) -> OperationRef:
        op_id = f"kops-{uuid.uuid4().hex[:12]}"
        args = ["rolling-update", "cluster", kc.name, "--yes", *selector, *flags]
        proc, err = self._spawn(kc.store, args, op_id)
        self._runs[op_id] = _Run(proc, err)
        data = {"op": op_id, "cluster": kc.name, "store": kc.store.url, "to": step.to, "groups": groups,
                "args": args, "pid": proc.pid, "stderr": str(err), "startedAt": iso(self.clock.now())}
        self._record_path(kc, groups).write_text(json.dumps(data))
        return OperationRef(op_id, cluster.id, step.key, data)

    # ---- poll --------------------------------------------------------------------------------------------
    def poll(self, cluster: Cluster, op: OperationRef) -> OperationStatus:
        with self._boundary("poll"):
            d = dict(op.data)
            if d.get("done"):
                return OperationStatus(OperationState.SUCCEEDED, "no instance needed replacing", 1.0)
            if not CLUSTER_NAME_RE.match(cluster.name):
                raise PermanentProviderError(f"refusing to pass {cluster.name!r} to kops", provider=self.name,
                                             code="400")
            kc = (self._store_of(cluster), cluster.name)
            selector = list(d["args"][4:4 + 2]) if d.get("args") else []
            run = self._runs.get(op.id)
            if run is None:
                return self._poll_detached(cluster, kc, op, d, selector)
            rc = run.proc.poll()
            need = total = 0
            if rc is None:
                need, total = self._need_update(kc, selector)   # also lets the emulator observe the clock
                rc = run.proc.poll()
                if rc is None and need == 0:
                    try:
                        rc = run.proc.wait(timeout=0.5)        # kops is finishing its last validation
                    except subprocess.TimeoutExpired:
                        rc = None
            if rc is None:
                return OperationStatus(OperationState.RUNNING, f"kops rolling-update: {need} of {total} instances "
                                       "still to replace", (1 - need / total) if total else None,
                                       self.settings.pollInterval)
            self._runs.pop(op.id, None)
            if rc == 0:
                return OperationStatus(OperationState.SUCCEEDED, "kops rolling-update completed", 1.0)
            return self._failed(cluster, kc, op, d, run, rc)

    def _failed(self, cluster: Cluster, kc: tuple[StateStore, str], op: OperationRef, d: dict[str, Any],
                run: _Run, rc: int) -> OperationStatus:
        stderr = _tail(run.stderr)
        err = translate(KopsCommandError(d["args"], rc, stderr), provider=self.name)
        if isinstance(err, TemporaryProviderError) and run.relaunches < 3:
            proc, path = self._spawn(kc[0], d["args"], op.id)
            self._runs[op.id] = _Run(proc, path, run.relaunches + 1)
            return OperationStatus(OperationState.RUNNING, f"kops rolling-update hit a transient error, re-running "
                                   f"it (safe): {kops_message(stderr)}", None, self.settings.pollInterval)
        detail = [ln.split("] ", 1)[-1] for ln in stderr.splitlines() if "did not pass validation" in ln]
        message = f"kops rolling-update failed (exit {rc}): {kops_message(stderr)}"
        if detail:
            message += f" [{detail[-1].rstrip('.')}]"
        log.warning("%s: %s", cluster.id, message, extra={"provider": self.name, "cluster": cluster.id,
                                                           "operation": op.id, "reason": f"exit {rc}"})
        return OperationStatus(OperationState.FAILED, message)

    def _poll_detached(self, cluster: Cluster, kc: tuple[StateStore, str], op: OperationRef, d: dict[str, Any],
                       selector: list[str]) -> OperationStatus:
        """No process handle (a restarted daemon, or another adapter instance): follow the recorded kops
        process while it lives; afterwards the dry run decides, and re-running the roll is safe."""
        need, total = self._need_update(kc, selector)
        if _pid_running(d.get("pid"), kc[1]):
            return OperationStatus(OperationState.RUNNING, f"kops rolling-update (pid {d.get('pid')}): {need} of "
                                   f"{total} instances still to replace", (1 - need / total) if total else None,
                                   self.settings.pollInterval)
        if need == 0:
            return OperationStatus(OperationState.SUCCEEDED, "kops rolling-update completed", 1.0)
        proc, err = self._spawn(kc[0], d["args"], op.id)
        self._runs[op.id] = _Run(proc, err)
        return OperationStatus(OperationState.RUNNING, f"re-running kops rolling-update (safe): {need} of {total} "
                               "instances still to replace", (1 - need / total) if total else None,
                               self.settings.pollInterval)

    # ---- safety gates (fleet.provider: BuiltinCheck; providers/kops/gates.py; docs/gates-providers.md) ----
    SUPPORTED_CHECKS = frozenset({BuiltinCheck.CLUSTER_HEALTH, BuiltinCheck.NODES_READY, BuiltinCheck.ETCD_BACKUP})

    def supported_checks(self, cluster: Cluster) -> frozenset[str]:
        return frozenset(str(c) for c in self.SUPPORTED_CHECKS)

    def run_check(self, cluster: Cluster, check: str, step: Step, params: Mapping[str, Any],
                  now: datetime) -> CheckOutcome:
        runners: dict[str, Callable[[], CheckOutcome]] = {
            BuiltinCheck.CLUSTER_HEALTH: lambda: gates.validation(self._validate(self._read(cluster))),
            BuiltinCheck.NODES_READY: lambda: self._check_ready(cluster, step),
            BuiltinCheck.ETCD_BACKUP: lambda: self._check_etcd_backup(cluster, params, now),
        }

        def run() -> CheckOutcome:
            with self._boundary(f"check {check}"):
                return runners[str(check)]()
        return guarded(str(check), self.name, self.supported_checks(cluster), run)

    @classmethod
    def rollback_support(cls, cluster: Cluster, step: Step) -> RollbackSupport | None:
        """None: kops does not downgrade Kubernetes (``start`` refuses it; updates_and_upgrades.md documents
        upgrades only); restoring etcd from a backup is a disaster-recovery procedure, not a rollback."""
        return None

    def _validate(self, kc: KopsCluster) -> dict[str, Any]:
        """``kops validate cluster --name C -o json`` (kops_validate_cluster.md); its JSON is written even when
        validation fails (non-zero exit), so a failing run is a result, not an error."""
        try:
            out = self._kops(kc.store, ["validate", "cluster", "--name", kc.name, "-o", "json"]).stdout
        except KopsCommandError as exc:
            out = exc.stdout
            parsed = _json_object(out)
            if parsed is None:
                raise
            return parsed
        parsed = _json_object(out)
        if parsed is None:
            raise PermanentProviderError(f"kops validate cluster {kc.name}: output is not JSON",
                                         provider=self.name, code="500")
        return parsed

    def _check_ready(self, cluster: Cluster, step: Step) -> CheckOutcome:
        kc = self._read(cluster)
        if step.component is Component.CONTROL_PLANE:
            groups = kc.control_plane_groups + kc.groups("APIServer")
            roles = "control-plane" + (",apiserver" if kc.groups("APIServer") else "")
            selector = ["--instance-group-roles", roles]
        else:
            groups, selector = [step.pool or ""], ["--instance-group", step.pool or ""]
            if step.pool not in kc.igs:
                raise PermanentProviderError(f"{cluster.id}: no instance group {step.pool}", provider=self.name,
                                             code="404")
        need, _ = self._need_update(kc, selector)
        return gates.groups_ready(self._validate(kc), groups, {g: kc.version_of(g) for g in groups}, step.to, need,
                                  self._same)

    def _check_etcd_backup(self, cluster: Cluster, params: Mapping[str, Any], now: datetime) -> CheckOutcome:
        kc = self._read(cluster)
        base = kc.store.key(kc.name, "backups", "etcd")
        newest = {}
        for etcd in gates.ETCD_CLUSTERS:
            keys, _ = self.reader.keys(kc.store.bucket, f"{base}/{etcd}/")
            times = gates.backup_times(keys)
            newest[etcd] = times[-1] if times else None
        return gates.etcd_backups(newest, params, now, f"s3://{kc.store.bucket}/{base}")


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text or "")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _tail(path: Path, limit: int = 20000) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode(errors="replace")


def _pid_running(pid: Any, marker: str) -> bool:
    """Is ``pid`` a live (not zombie) ``kops rolling-update`` for cluster ``marker``?"""
    if not isinstance(pid, int) or pid <= 0:
        return False
    proc = Path(f"/proc/{pid}")
    if not Path("/proc/self").exists():
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X") and "rolling-update" in cmdline and marker in cmdline
