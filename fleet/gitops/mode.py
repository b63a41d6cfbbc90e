"""GitOps step mode: a provider whose steps are proposed as commits / pull requests (docs/gitops.md).

``wrap(inner, settings, ...)`` returns a provider that delegates discovery, offers, checks and gates to the
inner provider and replaces ``start``/``poll`` for the clusters in GitOps mode. A step's operation goes

    proposed (commit on a branch, PR/MR opened)  ->  merged (into the branch the controller applies)
      ->  applied (the live objects ask for step.to: Argo CD / Flux synced)  ->  converged (the provider says so)

``start`` computes the change from the manifests at the tip of the applied branch (the provider's own edits,
found through the entry-point group ``fleet.gitops``, or the generic YAML-path mapping), commits it on a
deterministic branch, pushes, opens the PR (or finds the one it opened before: idempotent after a crash) and,
with ``merge: auto``, merges it. ``poll`` reads the PR, the branch and the cluster, and never writes anything
but a pending auto-merge. A PR closed unmerged, a change reverted on the branch, or a proposal commit gone from
the branch fails the step with the reason. The engine only calls ``start`` when the step may start (window,
gates, budgets, waves), so a PR is opened only then.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from fleet.clock import Clock, SystemClock, iso
from fleet.errors import PermanentProviderError, TemporaryProviderError
from fleet.gitops.forge import Forge, GitHub, GitLab, PullState
from fleet.gitops.repo import Author, GitError, GitRepo, branch_slug
from fleet.gitops.yamlpath import YamlEditError, YamlFile, get_value, set_value, spell_version
from fleet.policy.gitops import MODE_LABEL, PATH_LABEL, ClusterMapping, GitOpsSettings, YamlField
from fleet.provider import (
    Cluster,
    Component,
    OperationRef,
    OperationState,
    OperationStatus,
    Step,
    UpgradeRules,
    VersionOffers,
    rules_for,
)
from fleet.versions import InvalidVersion, parse_version

ENTRY_POINT_GROUP = "fleet.gitops"
_MAX_PROPOSALS = 9          # branches <branch>, <branch>-2 .. -9 for one step (each retry after a closed PR)
_log = logging.getLogger("fleet.gitops")


@dataclass(frozen=True)
class Change:
    """A step's change: repository path -> full new text (new files included); empty when the manifests at
    the base already ask for the step's version."""
    files: Mapping[str, str] = field(default_factory=dict)
    summary: tuple[str, ...] = ()


class Edits(Protocol):
    """Provider-specific GitOps edits (``providers/<name>/gitops.py``, entry point ``fleet.gitops``)."""

    def compute_change(self, files: Mapping[str, str], folder: str, cluster: Cluster, step: Step) -> Change: ...

    def observe_desired(self, files: Mapping[str, str], folder: str, cluster: Cluster,
                        step: Step) -> tuple[bool, str | None]:
        """Do the manifests ask for step.to (for the step's component), and what they ask for (None: not found)."""
        ...

    def observe_applied(self, cluster: Cluster, step: Step) -> bool:
        """Do the live objects (as discovered) ask for step.to: has the GitOps controller applied it?"""
        ...

    def operation(self, cluster: Cluster, step: Step, since: str) -> OperationRef | None:
        """An operation of the inner provider to poll for convergence, built without any write (None: the
        step is converged when the discovered version is step.to)."""
        ...


def same(a: Any, b: Any) -> bool:
    try:
        return parse_version(str(a)) == parse_version(str(b))
    except InvalidVersion:
        return str(a) == str(b)


class MappedEdits:
    """The generic mapping: the version fields the user listed (YamlField), edited in place."""

    def __init__(self, fields: list[YamlField]):
        self.fields = fields

    def _mine(self, step: Step) -> list[YamlField]:
        want = "control-plane" if step.component is Component.CONTROL_PLANE else f"pool:{step.pool}"
        return [f for f in self.fields if f.component in (want, "pool:*" if step.pool else want)]

    def compute_change(self, files: Mapping[str, str], folder: str, cluster: Cluster, step: Step) -> Change:
        mine = self._mine(step)
        if not mine:
            raise PermanentProviderError(f"gitops: no field is mapped for {step.key} of {cluster.id}",
                                         code="config")
        out: dict[str, str] = {}
        summary = []
        for f in mine:
            path = _join(folder, f.file)
            text = out.get(path, files.get(path))
            if text is None:
                raise PermanentProviderError(f"gitops: {path} not found in the repository", code="404")
            y = _parse(text, path)
            value = spell_version(_get(y, f.path, path), step.to, f.format)
            if _set(y, f.path, value, path):
                out[path] = y.dump()
                summary.append(f"{path}: {f.path} = {value}")
        return Change(out, tuple(summary))

    def observe_desired(self, files: Mapping[str, str], folder: str, cluster: Cluster,
                        step: Step) -> tuple[bool, str | None]:
        seen: list[str] = []
        for f in self._mine(step):
            text = files.get(_join(folder, f.file))
            if text is None:
                return False, None
            have = _get(_parse(text, f.file), f.path, f.file)
            seen.append(str(have))
            if str(have) != spell_version(have, step.to, f.format):
                return False, str(have)
        return bool(seen), (seen[0] if seen else None)

    def observe_applied(self, cluster: Cluster, step: Step) -> bool:
        return _observed(cluster, step)

    def operation(self, cluster: Cluster, step: Step, since: str) -> OperationRef | None:
        return None


def _observed(cluster: Cluster, step: Step) -> bool:
    if step.component is Component.CONTROL_PLANE:
        return same(cluster.control_plane, step.to)
    pool = cluster.pool(step.pool or "")
    return pool is not None and same(pool.version, step.to)


def _join(folder: str, file: str) -> str:
    return f"{folder.strip('/')}/{file.lstrip('/')}" if folder.strip("/") else file.lstrip("/")


def _parse(text: str, where: str) -> YamlFile:
    try:
        return YamlFile.parse(text, where)
    except YamlEditError as exc:
        raise PermanentProviderError(f"gitops: {exc}", code="400") from None


def _get(y: YamlFile, path: str, where: str) -> Any:
    try:
        return get_value(y, path)
    except YamlEditError as exc:
        raise PermanentProviderError(f"gitops: {where}: {exc}", code="400") from None


def _set(y: YamlFile, path: str, value: Any, where: str) -> bool:
    try:
        return set_value(y, path, value)
    except YamlEditError as exc:
        raise PermanentProviderError(f"gitops: {where}: {exc}", code="400") from None


def load_edits(provider_type: str, inner: Any) -> Edits | None:
    """The provider type's own GitOps edits (entry point ``fleet.gitops``), built on the inner provider."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == provider_type:
            edits: Edits = ep.load()(inner)
            return edits
    return None


class GitOpsProvider:
    """See the module docstring; built by :func:`wrap` (a subclass per inner class carries its rules)."""

    inner_cls: type = object

    @classmethod
    def upgrade_rules(cls, cluster: Cluster) -> UpgradeRules:
        return rules_for(cls.inner_cls, cluster)

    @classmethod
    def rollback_support(cls, cluster: Cluster, step: Step) -> None:
        return None     # a rollback is a revert pull request: people decide (docs/gitops.md)

    def __init__(self, inner: Any, settings: GitOpsSettings, *, clock: Clock | None = None,
                 config_dir: str | None = None, forge: Forge | None = None, provider_type: str | None = None):
        self.inner = inner
        self.name: str = inner.name
        self.type = provider_type or getattr(inner, "type", inner.name)
        self.settings = settings
        self.clock = clock or SystemClock()
        base = Path(config_dir) if config_dir else Path.cwd()
        r = settings.repository
        token = None
        if r.token_file:
            tf = Path(r.token_file) if Path(r.token_file).is_absolute() else base / r.token_file
            try:
                token = tf.read_text(encoding="utf-8").strip() or None
            except OSError as exc:
                raise ValueError(f"gitops.repository.tokenFile: cannot read {tf}: {exc.strerror}") from None
        url = r.url
        if "://" not in url and ":" not in url.split("/")[0]:     # a local path, relative to the config file
            url = str((base / url).resolve()) if not Path(url).is_absolute() else url
        workdir = Path(r.workdir) if r.workdir else base / ".fleet-gitops" / branch_slug(self.name)
        if not workdir.is_absolute():
            workdir = base / workdir
        user = "oauth2" if settings.forge is not None and settings.forge.type == "gitlab" else "x-access-token"
        self.repo = GitRepo(url, workdir, r.branch, Author(r.author.name, r.author.email), token=token,
                            token_user=user)
        self.forge = forge if forge is not None else _make_forge(settings, token, self.name)
        self.edits = load_edits(self.type, inner)
        self._discovered: tuple[list[Cluster], list[Cluster]] | None = None

    # ---- delegated -----------------------------------------------------------------------------------------
    def discover(self) -> list[Cluster]:
        found = self.inner.discover()
        if self._discovered is not None and self._discovered[0] is found:
            return self._discovered[1]                      # the inner provider's list did not change
        out = [self._mark(c) for c in found]
        self._discovered = (found, out)
        return out

    def _mark(self, c: Cluster) -> Cluster:
        if not self.in_gitops(c):
            return c
        # the GitOps controller owning the objects is the point here, not a second scheduler
        auto = None if (c.auto_upgrade or "").startswith("GitOps:") else c.auto_upgrade
        return replace(c, auto_upgrade=auto, extra={**(c.extra or {}), "upgradeMode": "gitops",
                                                    "gitopsPath": self.folder(c)})

    def offers(self, cluster: Cluster) -> VersionOffers:
        out: VersionOffers = self.inner.offers(cluster)
        return out

    def check_step(self, cluster: Cluster, step: Step) -> list[str]:
        out: list[str] = list(self.inner.check_step(cluster, step))
        if self.in_gitops(cluster) and self.settings.merge == "manual":
            out.append("gitops: the step waits for a person to merge its pull request")
        return out

    def supported_checks(self, cluster: Cluster) -> frozenset[str]:
        fn = getattr(self.inner, "supported_checks", None)
        return frozenset(fn(cluster)) if callable(fn) else frozenset()

    def run_check(self, cluster: Cluster, check: str, step: Step, params: Mapping[str, Any], now: datetime) -> Any:
        return self.inner.run_check(cluster, check, step, params, now)

    # ---- which clusters, where -----------------------------------------------------------------------------
    def mapping(self, c: Cluster) -> ClusterMapping | None:
        return self.settings.clusters.get(c.id) or self.settings.clusters.get(c.name)

    def in_gitops(self, c: Cluster) -> bool:
        label = (c.labels or {}).get(MODE_LABEL)
        m = self.mapping(c)
        if label == "direct" or (m is not None and m.mode == "direct"):
            return False
        if self.settings.enabled == "all":
            return True
        if self.settings.enabled == "labelled":
            return label == "gitops"
        return m is not None

    def folder(self, c: Cluster) -> str:
        m = self.mapping(c)
        if m is not None and m.path:
            return m.path.strip("/")
        if (c.labels or {}).get(PATH_LABEL):
            return str(c.labels[PATH_LABEL]).strip("/")
        extra = c.extra or {}
        loc_ns = c.location.rpartition("/")[2]
        values = {"provider": c.provider, "location": c.location, "name": c.name,
                  "namespace": str(extra.get("namespace") or loc_ns),
                  "managementCluster": str(extra.get("managementCluster") or c.location.partition("/")[0])}
        return self.settings.repository.path.format(**values).strip("/")

    def _edits_for(self, c: Cluster) -> Edits:
        m = self.mapping(c)
        if m is not None and m.fields:
            return MappedEdits(m.fields)
        if self.edits is None:
            raise PermanentProviderError(f"gitops: provider type {self.type!r} has no GitOps edits of its own; map "
                                         f"the version fields of {c.id} under gitops.clusters", provider=self.name,
                                         code="config")
        return self.edits

    # ---- start -------------------------------------------------------------------------------------------
    def start(self, cluster: Cluster, step: Step) -> OperationRef:
        if not self.in_gitops(cluster):
            out: OperationRef = self.inner.start(cluster, step)
            return out
        edits, folder = self._edits_for(cluster), self.folder(cluster)
        base = self._git(self.repo.fetch)
        files = self._git(self.repo.files, base, folder)
        if not files:
            raise PermanentProviderError(f"gitops: no YAML manifests under {folder!r} on {self.repo.branch} for "
                                         f"{cluster.id}", provider=self.name, code="404")
        now = iso(self.clock.now())
        data: dict[str, Any] = {"gitops": True, "folder": folder, "version": step.to, "proposedAt": now,
                                "branch": self.repo.branch}
        run = _origin(step).get("run", "")
        branch = f"{self.settings.repository.branch_prefix}{branch_slug(cluster.name, step.key, run[:12])}"
        existing = self._git(self.repo.remote_branch, branch) if self.settings.propose == "pull-request" else None
        change = edits.compute_change(files, folder, cluster, step)
        if not change.files and existing is None:
            # the branch already asks for it (merged before a crash, or edited by people): watch it converge
            data.update(mode="none", commit=base)
            return self._ref(cluster, step, data, base[:12])
        title = f"fleet: {cluster.name} {step.key.replace('@', ' -> ')}"
        message = _message(title, cluster, step, change, folder)
        if self.settings.propose == "push":
            commit = self._git(self.repo.commit, base, dict(change.files), message, self.clock.now())
            self._git(self.repo.push, commit, self.repo.branch, expect=base)
            data.update(mode="push", commit=commit)
            _log.info("gitops: pushed %s to %s", commit[:12], self.repo.branch,
                      extra={"provider": self.name, "cluster": cluster.id, "operation": step.key})
            return self._ref(cluster, step, data, commit[:12])
        assert self.forge is not None                       # settings validation: pull-request needs a forge
        branch, commit, pr = self._proposal(branch, existing, base, change, message)
        if pr is None:
            pr = self.forge.create(branch, self.repo.branch, title, message.split("\n", 1)[1].strip())
        data.update(mode="pull-request", commit=commit, branchName=branch, number=pr.number, url=pr.url)
        _log.info("gitops: proposed %s as %s #%s", commit[:12], self.forge.kind, pr.number,
                  extra={"provider": self.name, "cluster": cluster.id, "operation": step.key})
        if self.settings.merge == "auto" and pr.state == "open":
            self.forge.merge(pr.number, commit, self.settings.merge_method, title)
        return self._ref(cluster, step, data, f"{self.forge.kind}#{pr.number}")

    def _proposal(self, branch: str, existing: str | None, base: str, change: Change,
                  message: str) -> tuple[str, str, PullState | None]:
        """The branch, commit and (open or merged) PR of this step: the ones proposed before a crash, else new.
        A PR people closed is never reopened: a retried step proposes again on ``<branch>-2``, ``-3`` ..."""
        assert self.forge is not None
        for n in range(1, _MAX_PROPOSALS + 1):
            name = branch if n == 1 else f"{branch}-{n}"
            tip = existing if n == 1 else self._git(self.repo.remote_branch, name)
            if tip is None:
                commit = self._git(self.repo.commit, base, dict(change.files), message, self.clock.now())
                self._git(self.repo.push, commit, name, expect="")
                return name, commit, None
            pr = self.forge.find(name, self.repo.branch)
            if pr is None or pr.state != "closed":
                return name, tip, pr                        # proposed before a crash: reuse it
        raise PermanentProviderError(f"gitops: {branch}: {_MAX_PROPOSALS} proposals were closed without merging",
                                     provider=self.name, code="closed")

    def _ref(self, cluster: Cluster, step: Step, data: dict[str, Any], what: str) -> OperationRef:
        return OperationRef(f"gitops/{cluster.id}/{step.key}/{what}", cluster.id, step.key, data)

    def _git(self, fn: Any, *args: Any, **kw: Any) -> Any:
        try:
            return fn(*args, **kw)
        except GitError as exc:
            cls = TemporaryProviderError if exc.transient else PermanentProviderError
            raise cls(f"gitops: {exc}", provider=self.name, code="git") from exc

    # ---- poll ----------------------------------------------------------------------------------------------
    def poll(self, cluster: Cluster, op: OperationRef) -> OperationStatus:
        d = dict(op.data)
        if not d.get("gitops"):
            out: OperationStatus = self.inner.poll(cluster, op)
            return out
        step = _step_of(op, cluster)
        head = self._git(self.repo.fetch)
        waiting, merged, note, head = self.poll_proposal(d, head)
        if waiting is not None:
            return waiting
        files = self._git(self.repo.files, head, str(d["folder"]))
        edits = self._edits_for(cluster)
        asks, desired = edits.observe_desired(files, str(d["folder"]), cluster, step)
        if not asks:
            return OperationStatus(OperationState.FAILED, f"the change to {step.to} was reverted on "
                                   f"{self.repo.branch} (the manifests now ask for {desired or 'nothing'})")
        if not edits.observe_applied(cluster, step):
            return OperationStatus(OperationState.RUNNING, f"merged as {merged[:12]}; waiting for the GitOps "
                                   f"controller to apply it{note}", 0.25, poll_after=self.settings.poll_seconds)
        inner_op = edits.operation(cluster, step, str(d.get("proposedAt") or ""))
        if inner_op is None:
            if _observed(cluster, step):
                return OperationStatus(OperationState.SUCCEEDED, f"applied and converged at {step.to}{note}", 1.0)
            return OperationStatus(OperationState.RUNNING, f"applied from {merged[:12]}; waiting for the "
                                   f"cluster to reach {step.to}{note}", 0.5, poll_after=self.settings.poll_seconds)
        st: OperationStatus = self.inner.poll(cluster, inner_op)
        return replace(st, message=f"applied from {merged[:12]}: {st.message}{note}",
                       progress=None if st.progress is None else 0.5 + st.progress / 2)

    def poll_proposal(self, d: Mapping[str, Any], head: str) -> tuple[OperationStatus | None, str, str, str]:
        """Where the proposal stands: (a status to return now, or None once merged; the merged commit; a note
        for the status; the branch tip)."""
        if d["mode"] != "pull-request":
            merged = str(d["commit"])
            if not self._git(self.repo.is_ancestor, merged, head):
                return OperationStatus(OperationState.FAILED, f"commit {merged[:12]} is no longer on "
                                       f"{self.repo.branch} (force-pushed over)"), merged, "", head
            return None, merged, "", head
        assert self.forge is not None
        pr = self.forge.get(int(d["number"]))
        if pr.state == "closed":
            return OperationStatus(OperationState.FAILED, f"{self.forge.kind} #{pr.number} ({pr.url}) was closed "
                                   "without merging"), "", "", head
        if pr.state == "open" and self.settings.merge == "auto" and \
                self.forge.merge(pr.number, str(d["commit"]), self.settings.merge_method, pr.url):
            pr = self.forge.get(pr.number)
            head = self._git(self.repo.fetch)
        if pr.state == "open":
            who = "its required reviews/checks" if self.settings.merge == "auto" else "a person to merge it"
            return OperationStatus(OperationState.RUNNING, f"proposed as {self.forge.kind} #{pr.number} ({pr.url}); "
                                   f"waiting for {who}", 0.0, poll_after=self.settings.poll_seconds), "", "", head
        late = self._late(d, pr)
        if late and self.settings.late_merge == "fail":
            return OperationStatus(OperationState.FAILED, late + "; lateMerge: fail"), "", "", head
        return None, str(pr.merge_commit or head), f"; {late}" if late else "", head

    def _late(self, d: Mapping[str, Any], pr: PullState) -> str:
        after = self.settings.late_merge_after
        if after is None or not pr.merged_at or not d.get("proposedAt"):
            return ""
        proposed = datetime.fromisoformat(str(d["proposedAt"]))
        merged = datetime.fromisoformat(str(pr.merged_at).replace("Z", "+00:00"))
        if merged - proposed > after:
            return (f"merged at {pr.merged_at}, {merged - proposed} after it was proposed (more than lateMergeAfter "
                    f"{after}): its maintenance window may have closed")
        return ""


def _step_of(op: OperationRef, cluster: Cluster) -> Step:
    target, _, to = op.step_key.partition("@")
    if target == "cp":
        return Step(Component.CONTROL_PLANE, to=to, from_=cluster.control_plane)
    pool = target.partition(":")[2]
    p = cluster.pool(pool)
    return Step(Component.NODE_POOL, to=to, from_=p.version if p else "", pool=pool)


def _origin(step: Step) -> dict[str, str]:
    """``run=<id> policy=<name> plan=<keys ...>`` (set by the engine) as a mapping."""
    head, _, plan = (step.origin or "").partition(" plan=")
    out = {k: v for k, _, v in (part.partition("=") for part in head.split())}
    if plan or (step.origin or "").startswith("plan="):
        out["plan"] = plan or (step.origin or "")[5:]
    return out


def _message(title: str, cluster: Cluster, step: Step, change: Change, folder: str) -> str:
    origin = _origin(step)
    plan = origin.get("plan", "")
    lines = [title, "", f"Cluster: {cluster.id}", f"Step: {step.key} ({step.from_} -> {step.to})",
             f"Run: {origin.get('run', '-')}", f"Policy: {origin.get('policy', '-')}",
             f"Plan: {plan or step.key}", f"Folder: {folder}", "", "Changes:"]
    lines += [f"- {s}" for s in change.summary] or ["- (none)"]
    lines += ["", "Proposed by fleet-upgrader (GitOps mode); the GitOps controller applies it after the merge."]
    return "\n".join(lines) + "\n"


def _make_forge(settings: GitOpsSettings, token: str | None, provider: str) -> Forge | None:
    f = settings.forge
    if f is None:
        return None
    cls = GitHub if f.type == "github" else GitLab
    return cls(f.repository, token, api=f.api, timeout=f.timeout_seconds, provider=provider)


def wrap(inner: Any, settings: GitOpsSettings, *, provider_type: str, clock: Clock | None = None,
         config_dir: str | None = None, forge: Forge | None = None) -> GitOpsProvider:
    """``inner`` in GitOps mode; the returned object's class carries the inner class's upgrade rules."""
    cls = type(f"GitOps{type(inner).__name__}", (GitOpsProvider,), {"inner_cls": type(inner)})
    out: GitOpsProvider = cls(inner, settings, clock=clock, config_dir=config_dir, forge=forge,
                              provider_type=provider_type)
    return out
