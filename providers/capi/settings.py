"""Settings of the Cluster API provider (camelCase keys in the FleetConfig), validated once at start-up.

    managementClusters:            # one or more management clusters
      - kubeconfig: mgmt.kubeconfig   # path (relative to the config file's directory)
        context: mgmt-admin           # optional; the kubeconfig's current context otherwise
        name: oci-phx                 # optional; the location prefix in cluster ids (default: context)
        namespaces: [team-a]          # optional; overrides the top-level list
        endpoint: https://...         # optional; overrides the server of the kubeconfig
    namespaces: [default]          # where to look for clusters (default: all namespaces)
    images:                        # infrastructure template kind -> Kubernetes version -> image
      OCIMachineTemplate: {v1.30.4: ocid1.image.oc1..aaa}
    versions:                      # managed control plane kind (or MachinePool) -> versions the cloud offers
      AWSManagedControlPlane: [v1.30, v1.31]
      OCIManagedControlPlane: [v1.30.1, v1.31.1]
    imageFields:                   # where the image lives, for kinds not built in (objects.IMAGE_FIELDS)
      MyMachineTemplate: spec.template.spec.image
    endpoint: null                 # overrides the server of every management cluster (emulators)
    controlPlaneMaxSurge: 1        # KCP maxSurge when the step does not say (0 or 1); default: leave as is
    requestTimeoutSeconds: 10
    rolloutTimeoutSeconds: null    # a rollout without progress... that long fails the step; default: never
    pollIntervalSeconds: 30
    apiRatePerSecond: 10           # discovery and offers reads per second per management cluster (client pace)
    apiBurst: 20                   # reads per management cluster that may go at once before that pace applies
    apiConcurrency: 8              # management clusters read at once
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from fleet.versions import InvalidVersion, parse_version
from providers.capi.objects import IMAGE_FIELDS, capi_version
from providers.capi.pools import CONTROL_PLANES, MP, POOL_IMAGE_FIELDS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=False, frozen=True,
                              use_attribute_docstrings=True)


class ManagementCluster(_Strict):
    kubeconfig: str = Field(min_length=1)
    """Path of the management cluster's kubeconfig (relative to the config file's folder)."""
    context: str | None = None
    """The kubeconfig context (default: its current context)."""
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    """The location prefix in cluster ids (default: the context)."""
    namespaces: list[str] | None = None
    """Namespaces to look in on this management cluster (overrides the top-level list)."""
    endpoint: str | None = None
    """Overrides the server of the kubeconfig."""


class CapiSettings(_Strict):
    """A `capi` provider: Cluster API workload clusters of management clusters."""

    management_clusters: list[ManagementCluster] = Field(min_length=1)
    """The management clusters to manage workload clusters through."""
    namespaces: list[str] = Field(default_factory=list)
    """Where to look for clusters (default: all namespaces)."""
    images: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Infrastructure machine template kind -> Kubernetes version -> machine image."""
    versions: dict[str, list[str]] = Field(default_factory=dict)
    """Managed control plane kind (AWSManagedControlPlane, OCIManagedControlPlane, AzureManagedControlPlane,
    GCPManagedControlPlane), MachinePool or ByoMachineTemplate -> the versions the cloud offers, or (BYOH) the
    installer bundles published (the allow-list of those clusters and pools; spelled as the provider expects
    them, e.g. EKS `v1.31`)."""
    image_fields: dict[str, str] = Field(default_factory=dict)
    """Where the image lives in a template kind that is not built in (e.g. `spec.template.spec.image`)."""
    endpoint: str | None = None
    """Overrides the server of every management cluster (emulators)."""
    control_plane_max_surge: Literal[0, 1] | None = None
    """KubeadmControlPlane maxSurge when the step does not say (default: leave as is)."""
    request_timeout_seconds: float = Field(10.0, gt=0, le=300)
    """Timeout of one API request, in seconds."""
    rollout_timeout_seconds: int | None = Field(None, gt=0)
    """A rollout without progress for that long fails the step (default: never)."""
    poll_interval_seconds: float = Field(30.0, gt=0)
    """Suggested delay between polls of a rollout, in seconds."""
    api_rate_per_second: float = Field(10.0, gt=0)
    """Sustained discovery and offers reads per second per management cluster (token bucket): a client pace
    (client-go's default is 5/s, burst 10), not a server rule; the API server bounds requests in flight
    (docs/scale.md)."""
    api_burst: int = Field(20, ge=1)
    """Reads per management cluster that may go at once before the sustained rate applies."""
    api_concurrency: int = Field(8, ge=1, le=128)
    """Management clusters discovered at once (each on its own worker; its reads go one after the other)."""

    @field_validator("images")
    @classmethod
    def _versions(cls, images: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for kind, by_version in images.items():
            out[kind] = {}
            for v, image in by_version.items():
                try:
                    parse_version(str(v))
                except InvalidVersion:
                    raise ValueError(f"{kind}: {v!r} is not a Kubernetes version") from None
                if not image:
                    raise ValueError(f"{kind}: {v}: empty image")
                out[kind][capi_version(str(v))] = image
        return out

    @model_validator(mode="after")
    def _fields_known(self) -> CapiSettings:
        for kind, listed in self.versions.items():
            if kind not in CONTROL_PLANES and kind not in (MP, "ByoMachineTemplate"):
                raise ValueError(f"versions.{kind}: not a managed control plane kind, MachinePool or "
                                 f"ByoMachineTemplate (known: {', '.join([*CONTROL_PLANES, MP, 'ByoMachineTemplate'])})")
            for v in listed:
                try:
                    parse_version(str(v))
                except InvalidVersion:
                    raise ValueError(f"versions.{kind}: {v!r} is not a Kubernetes version") from None
        for kind in self.images:
            if kind not in IMAGE_FIELDS and kind not in POOL_IMAGE_FIELDS and kind not in self.image_fields:
                raise ValueError(f"images.{kind}: no known image field for this kind; add imageFields.{kind} "
                                 "(e.g. spec.template.spec.image)")
        names = [mc.name or mc.context or f"mgmt{i}" for i, mc in enumerate(self.management_clusters)]
        if len(set(names)) != len(names):
            raise ValueError("managementClusters: names (or contexts) must be unique")
        return self

    def image_field(self, kind: str) -> str | None:
        return self.image_fields.get(kind) or IMAGE_FIELDS.get(kind)


def parse_settings(raw: dict[str, Any]) -> CapiSettings:
    """Validate; raise ValueError naming the bad key (``capi settings: managementClusters.0.kubeconfig: ...``)."""
    try:
        return CapiSettings.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "<settings>"
            problems.append(f"{where}: {err['msg']}")
        raise ValueError("capi settings: " + "; ".join(problems)) from None
