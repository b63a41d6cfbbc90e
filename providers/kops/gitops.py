"""kops clusters kept in Git, in GitOps mode (fleet.gitops.mode; docs/gitops.md): the step's change written
into the cluster's kops manifests (the ``kops get cluster -o yaml`` / ``kops get ig -o yaml`` documents that a
pipeline applies with ``kops replace -f``, then ``kops update cluster --yes`` and ``kops rolling-update``):

- control plane: the ``Cluster`` document's ``spec.kubernetesVersion`` (the "Manual update" of kops'
  updates_and_upgrades.md: "set the kubernetesVersion to the target version"), spelled as the file spells it;
- node pool: kops gives every instance group the cluster's ``spec.kubernetesVersion`` (as the adapter says), so a
  pool step writes only the instance group's ``spec.rollingUpdate`` knobs the policy sets (maxSurge,
  maxUnavailable, through the adapter's own budget translation) - its roll is the pipeline's
  ``kops rolling-update --instance-group``.

The manifests are found by content: ``kind: Cluster`` named as the cluster, ``kind: InstanceGroup`` named as the
pool (with label ``kops.k8s.io/cluster`` when present). fleet does not run kops in GitOps mode: "applied" is the
state store's spec asking for the version (discovery's ``desiredVersion``), "converged" the discovered versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleet.errors import PermanentProviderError
from fleet.gitops.mode import Change
from fleet.gitops.yamlpath import YamlEditError, YamlFile, spell_version
from fleet.provider import Cluster, Component, OperationRef, Step
from fleet.versions import InvalidVersion, parse_version
from providers.kops.budget import translate_step

CLUSTER_LABEL = "kops.k8s.io/cluster"


def _same(a: Any, b: Any) -> bool:
    try:
        return a is not None and b is not None and parse_version(str(a)) == parse_version(str(b))
    except InvalidVersion:
        return str(a) == str(b)


class _Docs:
    def __init__(self, files: Mapping[str, str]):
        self.files: dict[str, YamlFile] = {}
        for path, text in sorted(files.items()):
            try:
                self.files[path] = YamlFile.parse(text, path)
            except YamlEditError as exc:
                raise PermanentProviderError(f"gitops: {exc}", code="400") from None

    def find(self, kind: str, name: str, cluster: str) -> tuple[str, YamlFile, Any] | None:
        for path, y in self.files.items():
            for _, d in y.objects():
                meta = d.get("metadata") or {}
                owner = (meta.get("labels") or {}).get(CLUSTER_LABEL)
                if d.get("kind") == kind and meta.get("name") == name and owner in (None, cluster):
                    return path, y, d
        return None

    def need(self, kind: str, name: str, cluster: str, folder: str) -> tuple[str, YamlFile, Any]:
        hit = self.find(kind, name, cluster)
        if hit is None:
            raise PermanentProviderError(f"gitops: no kops {kind} {name!r} in the manifests under {folder!r}",
                                         code="404")
        return hit


class KopsGitOps:
    """The ``fleet.gitops`` entry point of the ``kops`` provider type."""

    def __init__(self, inner: Any):
        self.inner = inner

    def compute_change(self, files: Mapping[str, str], folder: str, cluster: Cluster, step: Step) -> Change:
        docs = _Docs(files)
        path, y, doc = docs.need("Cluster", cluster.name, cluster.name, folder)
        spec = doc.get("spec") or {}
        current = spec.get("kubernetesVersion")
        if step.component is Component.CONTROL_PLANE:
            if _same(current, step.to):
                return Change()
            value = spell_version(current, step.to)
            y.touch(y.index_of(doc))
            doc["spec"]["kubernetesVersion"] = value
            return Change({path: y.dump()}, (f"{path}: Cluster {cluster.name} spec.kubernetesVersion "
                                             f"{current} -> {value}",))
        if not _same(current, step.to):
            raise PermanentProviderError(f"gitops: kops gives every instance group the cluster's "
                                         f"spec.kubernetesVersion ({current}); node pool {step.pool} cannot move to "
                                         f"{step.to}", code="400")
        ipath, iy, ig = docs.need("InstanceGroup", str(step.pool), cluster.name, folder)
        ispec = ig.get("spec") or {}
        tr = translate_step(step, nodes=int(ispec.get("minSize") or 0), cloud=str(spec.get("cloudProvider") or "aws"),
                            manager=ispec.get("manager"))
        wanted = {k.rsplit(".", 1)[-1]: (int(v) if str(v).isdigit() else v) for k, v in tr.fields.items()}
        have = dict(ispec.get("rollingUpdate") or {})
        changed = {k: v for k, v in wanted.items() if str(have.get(k, "")) != str(v)}
        if not changed:
            return Change()
        iy.touch(iy.index_of(ig))
        if "rollingUpdate" not in ig["spec"]:
            ig["spec"]["rollingUpdate"] = {}
        for k, v in changed.items():
            ig["spec"]["rollingUpdate"][k] = v
        return Change({ipath: iy.dump()}, tuple(f"{ipath}: InstanceGroup {step.pool} spec.rollingUpdate.{k} = {v}"
                                                for k, v in changed.items()))

    def observe_desired(self, files: Mapping[str, str], folder: str, cluster: Cluster,
                        step: Step) -> tuple[bool, str | None]:
        hit = _Docs(files).find("Cluster", cluster.name, cluster.name)
        if hit is None:
            return False, None
        v = (hit[2].get("spec") or {}).get("kubernetesVersion")
        return _same(v, step.to), (None if v is None else str(v))

    def observe_applied(self, cluster: Cluster, step: Step) -> bool:
        return _same((cluster.extra or {}).get("desiredVersion"), step.to)

    def operation(self, cluster: Cluster, step: Step, since: str) -> OperationRef | None:
        return None         # converged when discovery reports the version (the pipeline rolls the instances)
