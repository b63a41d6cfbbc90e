"""The demo's fleet: about two dozen clusters on six providers, as a platform team might find them on the
scenario date (Monday 2026-11-23): some current, some a patch or a minor behind, some already past the end
of their provider's standard support (EKS 1.32/1.33, GKE 1.34, AKS 1.33, and upstream Kubernetes 1.33/1.34,
whose calendar OKE, Cluster API and kops follow), and one lab cluster whose image pipeline never built the
pinned minor (it ends blocked, with the reason).

Pure data: the versions each cloud offers (newest last, each in its own spelling) and the clusters.
``--short`` uses a subset (two per provider, the blocked one among them) so CI finishes sooner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

SCENARIO_START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)   # a Monday; the demo's virtual "now" at start
WEEK_PER_MINUTE = 7 * 24 * 3600 / 60      # the demo's default speed: 10,080 virtual seconds per real second

# ---- what each cloud offers ------------------------------------------------------------------------------
EKS_MINORS = {          # minor -> (support status on the scenario date, end of standard, end of extended)
    "1.32": ("EXTENDED_SUPPORT", "2026-03-23", "2027-03-23"),
    "1.33": ("EXTENDED_SUPPORT", "2026-07-29", "2027-07-29"),
    "1.34": ("STANDARD_SUPPORT", "2026-12-02", "2027-12-02"),
    "1.35": ("STANDARD_SUPPORT", "2027-03-27", "2028-03-27"),
    "1.36": ("STANDARD_SUPPORT", "2027-08-02", "2028-08-02"),
}
EKS_AMIS = {minor: [f"{minor}.{p}-{d}" for p, d in pairs] for minor, pairs in {
    "1.32": [(9, "20260610"), (13, "20261104")],
    "1.33": [(9, "20260610"), (13, "20261104")],
    "1.34": [(9, "20261001"), (11, "20261104")],
    "1.35": [(6, "20261001"), (8, "20261104")],
    "1.36": [(2, "20261001"), (4, "20261104")],
}.items()}
GKE_VERSIONS = ["1.33.13-gke.1499000", "1.34.9-gke.1655001", "1.35.6-gke.1100000", "1.35.7-gke.1222000",
                "1.36.2-gke.1200000", "1.36.3-gke.1640000"]
AKS_VERSIONS = ["1.33.5", "1.34.6", "1.34.8", "1.35.3", "1.35.5", "1.36.1", "1.36.3"]
OKE_VERSIONS = ["v1.33.1", "v1.34.1", "v1.34.2", "v1.35.0", "v1.35.2", "v1.36.1"]
CAPI_IMAGES = {         # infrastructure template kind -> versions the image pipeline has built
    "OCIMachineTemplate": ["v1.33.13", "v1.34.9", "v1.34.11", "v1.35.6", "v1.35.8", "v1.36.4"],
    "DevMachineTemplate": ["v1.34.9", "v1.34.11", "v1.36.4"],      # the lab never got a 1.35 image
}
KOPS_VERSIONS = ["1.33.13", "1.34.11", "1.35.8", "1.36.4"]
# the emulated kops binary: kops X.Y applies Kubernetes up to X.Y (providers/kops/rules.py), so the demo runs
# the release that matches the newest minor its channel offers
KOPS_BINARY = "1.36.0"

# How fast the demo's emulated clouds upgrade (virtual time): (control-plane step, node-pool batch). The EKS,
# GKE, AKS and OKE emulators are configured with these (fleet.demo.emulators.demo_options); the Cluster API
# and kops emulators replace machines/instances one at a time on their own controller timings, and these two
# rows are what a week of the demo measured for them (docs/demo.md). The demo hands the table to its forecast,
# as a user would with `fleet forecast --step-duration TYPE=CP/POOL` for clouds they know; without it the
# forecast uses the documented defaults for real clouds (EKS 40/12 min ...), which these emulators beat.
DEMO_STEP_DURATIONS: dict[str, tuple[timedelta, timedelta]] = {
    "eks": (timedelta(minutes=15), timedelta(minutes=10)),
    "gke": (timedelta(minutes=15), timedelta(minutes=4)),
    "aks": (timedelta(minutes=15), timedelta(minutes=5)),
    "oke": (timedelta(minutes=20), timedelta(minutes=5)),
    "capi": (timedelta(minutes=15), timedelta(minutes=5)),
    "kops": (timedelta(minutes=10), timedelta(minutes=5)),
}

GKE_PROJECT = "acme-shop"
AKS_SUBSCRIPTION = "5f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
CAPI_MANAGEMENT = "oci-mgmt"


@dataclass(frozen=True)
class DemoCluster:
    provider: str                    # provider type (and name in the demo's FleetConfig)
    name: str
    location: str                    # region / zone / resource group; "" where the provider has none
    version: str                     # control plane, in the provider's spelling
    pools: dict[str, str]            # node pool -> version, in the provider's spelling
    labels: dict[str, str] = field(default_factory=dict)
    infra: str = "OCIMachineTemplate"   # Cluster API only
    short: bool = False              # part of the --short scenario


def _c(provider: str, name: str, location: str, version: str, pools: dict[str, str], short: bool = False,
       **labels: str) -> DemoCluster:
    infra = labels.pop("infra", "OCIMachineTemplate")
    return DemoCluster(provider, name, location, version, pools, dict(labels), infra, short)


CLUSTERS: list[DemoCluster] = [
    # EKS: control planes are minors, node groups AMI releases
    _c("eks", "payments-eu-1", "eu-west-1", "1.34", {"general": "1.34.9-20261001", "batch": "1.34.9-20261001"},
       True, env="prod", canary="true", team="payments"),
    _c("eks", "payments-us-1", "us-east-1", "1.33", {"general": "1.33.9-20260610"}, env="prod", team="payments"),
    _c("eks", "data-dev", "us-east-1", "1.32", {"general": "1.32.9-20260610"}, True, env="dev", team="data"),
    _c("eks", "ml-staging", "us-east-1", "1.35", {"gpu": "1.35.6-20261001"}, env="staging", team="ml"),
    # GKE
    _c("gke", "shop-eu-1", "europe-west1", "1.34.9-gke.1655001",
       {"default": "1.34.9-gke.1655001", "spot": "1.33.13-gke.1499000"}, True, env="prod", team="shop"),
    _c("gke", "shop-us-1", "us-central1", "1.35.6-gke.1100000", {"default": "1.35.6-gke.1100000"},
       env="prod", team="shop"),
    _c("gke", "search-eu-2", "europe-west4", "1.35.7-gke.1222000", {"default": "1.35.7-gke.1222000"},
       env="prod", team="search"),
    _c("gke", "web-staging", "us-central1", "1.35.6-gke.1100000", {"default": "1.35.6-gke.1100000"}, True,
       env="staging", team="shop"),
    _c("gke", "sandbox-dev", "asia-east1", "1.36.2-gke.1200000", {"default": "1.36.2-gke.1200000"},
       env="dev", team="research"),
    # AKS (location is the region; every cluster lives in resource group rg-<team>)
    _c("aks", "crm-eu-1", "westeurope", "1.34.6", {"system": "1.34.6", "user": "1.33.5"}, True,
       env="prod", canary="true", team="crm"),
    _c("aks", "crm-us-1", "eastus", "1.35.3", {"system": "1.35.3", "user": "1.35.3"}, env="prod", team="crm"),
    _c("aks", "crm-staging", "eastus", "1.33.5", {"system": "1.33.5"}, True, env="staging", team="crm"),
    _c("aks", "tools-dev", "westeurope", "1.35.5", {"system": "1.35.5"}, env="dev", team="tools"),
    # OKE
    _c("oke", "erp-eu-1", "eu-frankfurt-1", "v1.34.1", {"pool1": "v1.34.1", "pool2": "v1.34.1"}, True,
       env="prod", team="erp"),
    _c("oke", "erp-staging", "us-ashburn-1", "v1.35.0", {"pool1": "v1.35.0"}, env="staging", team="erp"),
    _c("oke", "erp-dev", "us-ashburn-1", "v1.33.1", {"pool1": "v1.33.1"}, True, env="dev", team="erp"),
    # Cluster API on OCI (one management cluster), pinned minor by minor by the platform policy
    _c("capi", "edge-eu-1", "", "v1.33.13", {"edge-eu-1-md-0": "v1.33.13"}, True, env="platform", team="edge"),
    _c("capi", "edge-us-1", "", "v1.34.9", {"edge-us-1-md-0": "v1.34.9", "edge-us-1-md-1": "v1.34.9"}, env="platform", team="edge"),
    _c("capi", "edge-ap-1", "", "v1.35.6", {"edge-ap-1-md-0": "v1.35.6"}, env="platform", team="edge"),
    _c("capi", "edge-lab", "", "v1.34.11", {"edge-lab-md-0": "v1.34.11"}, True, env="platform", team="edge",
       infra="DevMachineTemplate"),
    # kops (one S3 state store)
    _c("kops", "legacy-1.k8s.local", "", "1.34.11", {"nodes-a": "1.34.11", "nodes-b": "1.34.11"}, True,
       env="platform", team="legacy"),
    _c("kops", "legacy-2.k8s.local", "", "1.34.6", {"nodes": "1.34.6"}, env="platform", team="legacy"),
    _c("kops", "batch.k8s.local", "", "1.35.8", {"nodes": "1.35.8"}, True, env="platform", team="batch"),
    # one more EKS dev cluster, already current
    _c("eks", "tools-dev", "eu-west-1", "1.36", {"general": "1.36.4-20261104"}, env="dev", team="tools"),
]

PROVIDERS = ("eks", "gke", "aks", "oke", "capi", "kops")


def scenario_clusters(short: bool) -> list[DemoCluster]:
    return [c for c in CLUSTERS if c.short] if short else list(CLUSTERS)
