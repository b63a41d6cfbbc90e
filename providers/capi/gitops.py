"""Cluster API in GitOps mode (fleet.gitops.mode; docs/gitops.md): a step's change written into the cluster's
manifests in Git, the way the adapter would patch the live objects (same image map, same template naming, same
patches from objects.py), and the clusterapi-gitops walkthrough does it by hand:

- control plane: a NEW infrastructure machine template file (a copy of the KubeadmControlPlane's template with
  the image for the target version, named as the adapter names it) beside the old one, and the KCP's
  ``version`` + ``infrastructureRef`` (+ maxSurge when the step sets it);
- node pool: the same for the MachineDeployment (``spec.template.spec.version``, ``infrastructureRef``, knobs).

Manifests are found by content, not by file name: every YAML document under the cluster's folder is indexed
by (kind, metadata.name). Edits are round-trip (comments and formatting kept). Managed topologies (ClusterClass)
are not supported in GitOps mode yet: the step fails with that reason.
"""

from __future__ import annotations

import copy
import json
import posixpath
from collections.abc import Mapping
from typing import Any

from fleet.errors import PermanentProviderError
from fleet.gitops.mode import Change
from fleet.gitops.yamlpath import YamlEditError, YamlFile
from fleet.provider import Cluster, Component, OperationRef, Step
from providers.capi.budget import compute_kcp_surge, compute_pool_knobs
from providers.capi.objects import (
    KcpView,
    MdView,
    Ref,
    capi_version,
    compute_kcp_patch,
    compute_md_patch,
    compute_template_copy,
    get,
    same_version,
)

KCP = "KubeadmControlPlane"
MD = "MachineDeployment"


class _Index:
    """The YAML documents of a cluster's folder by (kind, name)."""

    def __init__(self, files: Mapping[str, str]):
        self.files: dict[str, YamlFile] = {}
        self.where: dict[tuple[str, str], tuple[str, int]] = {}
        for path, text in sorted(files.items()):
            try:
                y = YamlFile.parse(text, path)
            except YamlEditError as exc:
                raise PermanentProviderError(f"gitops: {exc}", code="400") from None
            self.files[path] = y
            for i, doc in y.objects():
                name = get(doc, "metadata", "name")
                if name:
                    self.where.setdefault((str(doc["kind"]), str(name)), (path, i))

    def find(self, kind: str, name: str) -> tuple[str, YamlFile, Any] | None:
        hit = self.where.get((kind, name))
        if hit is None:
            return None
        y = self.files[hit[0]]
        return hit[0], y, y.docs[hit[1]]

    def need(self, kind: str, name: str, folder: str) -> tuple[str, YamlFile, Any]:
        hit = self.find(kind, name)
        if hit is None:
            raise PermanentProviderError(f"gitops: no {kind} {name!r} in the manifests under {folder!r}", code="404")
        return hit


def _plain(doc: Any) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(doc, default=str))
    return out


def _merge(into: Any, patch: Mapping[str, Any]) -> None:
    """A JSON merge patch (RFC 7386, no deletions) applied to a round-trip document in place."""
    for k, v in patch.items():
        if isinstance(v, Mapping) and isinstance(into.get(k), Mapping):
            _merge(into[k], v)
        elif into.get(k) != v:
            into[k] = copy.deepcopy(v) if isinstance(v, Mapping) else v


def _set_dotted(doc: Any, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = doc
    for p in parts[:-1]:
        if p not in node:
            node[p] = {}
        node = node[p]
    node[parts[-1]] = value


class CapiGitOps:
    """The ``fleet.gitops`` entry point of the ``capi`` provider type."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.settings = inner.settings

    # ---- locate ----------------------------------------------------------------------------------------------
    def _kcp_name(self, idx: _Index, cluster: Cluster, folder: str) -> str:
        hit = idx.find("Cluster", cluster.name)
        if hit is not None:
            if get(hit[2], "spec", "topology"):
                raise PermanentProviderError(f"gitops: cluster {cluster.name} has a managed topology (ClusterClass); "
                                             "GitOps mode does not edit spec.topology yet", code="400")
            ref = get(hit[2], "spec", "controlPlaneRef", "name")
            if ref:
                return str(ref)
        name = get(cluster.extra or {}, "controlPlane", "name")
        if not name:
            raise PermanentProviderError(f"gitops: cannot tell the KubeadmControlPlane of {cluster.name} under "
                                         f"{folder!r}", code="404")
        return str(name)

    def _target(self, idx: _Index, cluster: Cluster, step: Step, folder: str) -> tuple[str, YamlFile, Any]:
        if step.component is Component.CONTROL_PLANE:
            return idx.need(KCP, self._kcp_name(idx, cluster, folder), folder)
        return idx.need(MD, str(step.pool), folder)

    # ---- compute ---------------------------------------------------------------------------------------------
    def compute_change(self, files: Mapping[str, str], folder: str, cluster: Cluster, step: Step) -> Change:
        idx = _Index(files)
        path, y, doc = self._target(idx, cluster, step, folder)
        to = capi_version(step.to)
        capi = str(doc.get("apiVersion", "")).rpartition("/")[2]
        plain = _plain(doc)
        view: KcpView | MdView = KcpView(capi, plain) if doc["kind"] == KCP else MdView(capi, plain)
        if same_version(view.version, to):
            return Change()
        ref = view.infra_ref
        tpath, ty, tdoc = idx.need(ref.kind, ref.name, folder)
        new_doc, new_name = self._template(tdoc, ref.kind, to)
        tversion = str(tdoc.get("apiVersion", "")).rpartition("/")[2]
        new_ref = Ref(ref.group, ref.kind, new_name, tversion).render(capi, tversion)
        if isinstance(view, KcpView):
            surge, _ = compute_kcp_surge(step, self.settings.control_plane_max_surge)
            patch = compute_kcp_patch(view, to, new_ref, surge)
        else:
            knobs, _ = compute_pool_knobs(step)
            patch = compute_md_patch(view, to, new_ref, knobs)
        try:
            y.touch(y.index_of(doc))
        except YamlEditError as exc:
            raise PermanentProviderError(f"gitops: {exc}", code="400") from None
        _merge(doc["spec"], patch["spec"])
        new_path = posixpath.join(posixpath.dirname(tpath), f"{new_name}.yaml")
        new_text = ty.dump_alike(tdoc, new_doc)
        summary = (f"{new_path}: new {ref.kind} {new_name} (from {ref.name}, image for {to})",
                   f"{path}: {doc['kind']} {view.name} version {view.version} -> {to}, infrastructureRef {new_name}")
        return Change({new_path: new_text, path: y.dump()}, summary)

    def _template(self, tdoc: Any, kind: str, to: str) -> tuple[Any, str]:
        image = next((img for v, img in self.settings.images.get(kind, {}).items() if same_version(v, to)), None)
        if image is None:
            raise PermanentProviderError(f"no image for {kind} at {to} in settings.images", code="400")
        field = self.settings.image_field(kind)
        if field is None:
            raise PermanentProviderError(f"no image field known for {kind} (settings.imageFields)", code="400")
        plain = _plain(tdoc)
        plain.setdefault("metadata", {}).setdefault("namespace", "default")
        copy_ = compute_template_copy(plain, to, image, field)       # the adapter's name and annotations
        new = copy.deepcopy(tdoc)                                       # keeps the template's comments
        _set_dotted(new, field, image)
        meta = new["metadata"]
        meta["name"] = copy_["metadata"]["name"]
        meta["annotations"] = copy_["metadata"]["annotations"]
        for k in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
            meta.pop(k, None)
        return new, str(meta["name"])

    # ---- observe ---------------------------------------------------------------------------------------------
    def observe_desired(self, files: Mapping[str, str], folder: str, cluster: Cluster,
                        step: Step) -> tuple[bool, str | None]:
        idx = _Index(files)
        try:
            _, _, doc = self._target(idx, cluster, step, folder)
        except PermanentProviderError:
            return False, None
        v = get(doc, "spec", "version") if doc["kind"] == KCP else get(doc, "spec", "template", "spec", "version")
        return same_version(v, step.to), (None if v is None else str(v))

    def observe_applied(self, cluster: Cluster, step: Step) -> bool:
        if step.component is Component.CONTROL_PLANE:
            return same_version(get(cluster.extra or {}, "controlPlane", "version"), step.to)
        pool = cluster.pool(step.pool or "")
        return pool is not None and same_version(pool.version, step.to)

    def operation(self, cluster: Cluster, step: Step, since: str) -> OperationRef | None:
        """The adapter's own operation for the applied object, built without a write: its poll judges the
        rollout (and fails it when the object asks for another version, e.g. after a revert was applied)."""
        extra = cluster.extra or {}
        cp = step.component is Component.CONTROL_PLANE
        kind, name = (KCP, str(get(extra, "controlPlane", "name"))) if cp else (MD, str(step.pool))
        to = capi_version(step.to)
        data = {"managementCluster": extra.get("managementCluster"), "namespace": extra.get("namespace"),
                "kind": kind, "name": name, "generation": 0, "version": to, "startedAt": since}
        return OperationRef(f"{extra.get('managementCluster')}/{extra.get('namespace')}/{kind}/{name}@{to}",
                            cluster.id, step.key, data)

