"""The only module that touches moto internals (pinned: ``moto[server]==5.2.1`` in pyproject's dev extra).

moto implements the EKS read paths (list/describe clusters and node groups, tags) and STS, but not the upgrade
operations. The emulator (``emulator.py``) serves those itself and hands every other request to moto's WSGI app
in-process through :class:`MotoBackend`. Everything here relies on moto 5.2.1 attribute names
(``eks_backends``, ``Cluster.version/status/upgrade_policy``, ``Nodegroup.version/release_version/
update_config``, ``iam.models.get_account_id_from``); re-check them when moto is bumped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_DROP_HEADERS = {"content-type", "content-length", "server", "date", "connection", "transfer-encoding"}


@dataclass
class Forwarded:
    status: int
    body: bytes
    headers: dict[str, str]


class MotoBackend:
    """moto's EKS/STS backends and WSGI app, in this process. moto keeps module-global state, so only one
    ``MotoBackend`` may be active per process; ``open()`` refuses a second one and wipes EKS state."""

    _active: MotoBackend | None = None

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.test import Client

        self._client = Client(DomainDispatcherApplication(create_backend_app))

    # ---- lifecycle -----------------------------------------------------------------------------------
    def open(self) -> None:
        if MotoBackend._active is not None and MotoBackend._active is not self:
            raise RuntimeError("another EKS emulator is running in this process (moto state is global)")
        MotoBackend._active = self
        self._reset_eks()

    def close(self) -> None:
        self._reset_eks()
        if MotoBackend._active is self:
            MotoBackend._active = None

    @staticmethod
    def _reset_eks() -> None:
        from moto.eks.models import eks_backends

        for account in list(eks_backends.values()):
            account.reset()

    # ---- requests ------------------------------------------------------------------------------------
    def forward(self, method: str, path: str, query: str, headers: dict[str, str], raw: bytes) -> Forwarded:
        resp = self._client.open(path, method=method, query_string=query, data=raw,
                                 headers=[(k, v) for k, v in headers.items() if k.lower() != "host"])
        out = {k: v for k, v in resp.headers.items() if k.lower() not in _DROP_HEADERS}
        return Forwarded(resp.status_code, resp.get_data(), out)

    @staticmethod
    def account_for(headers: dict[str, str]) -> str:
        """The account moto would use for this request (``x-moto-account-id`` or the signing access key)."""
        from moto.iam.models import get_account_id_from

        low = {k.lower(): v for k, v in headers.items()}
        if "x-moto-account-id" in low:
            return low["x-moto-account-id"]
        auth = low.get("authorization", "")
        key = "AKIAEXAMPLE"
        if "Credential=" in auth:
            key = auth.split("Credential=", 1)[1].split("/", 1)[0]
        return get_account_id_from(key)

    # ---- model access ----------------------------------------------------------------------------------
    @staticmethod
    def _backend(account: str, region: str) -> Any:
        from moto.eks.models import eks_backends

        return eks_backends[account][region]

    # Seeding builds moto's models directly: moto's create_* validate role ARNs through a fresh boto3
    # Session each time (parsing botocore's endpoints.json, ~0.1 s per call), which seeding does not need.
    def create_cluster(self, account: str, region: str, name: str, version: str, *, tags: dict[str, str],
                       support_type: str) -> None:
        from moto.eks.models import Cluster

        backend = self._backend(account, region)
        if name in backend.clusters:
            raise ValueError(f"cluster {name} already exists in {account}/{region}")
        c = Cluster(name=name, role_arn=f"arn:aws:iam::{account}:role/eks-cluster",
                    resources_vpc_config={"subnetIds": ["subnet-a", "subnet-b"]}, account_id=account,
                    region_name=region, aws_partition=backend.partition, version=version, tags=tags)
        c.upgrade_policy = {"supportType": support_type}  # type: ignore[attr-defined]  # moto's Cluster lacks it
        backend.clusters[name] = c
        backend.cluster_count += 1

    def create_nodegroup(self, account: str, region: str, cluster: str, name: str, *, version: str,
                         release_version: str | None, nodes: int, ami_type: str,
                         update_config: dict[str, Any] | None, launch_template: dict[str, str] | None = None) -> None:
        from moto.eks.models import Nodegroup

        backend = self._backend(account, region)
        c = backend.clusters[cluster]
        c.nodegroups[name] = Nodegroup(
            cluster_name=cluster, node_role=f"arn:aws:iam::{account}:role/eks-node", nodegroup_name=name,
            subnets=["subnet-a"], account_id=account, region_name=region, aws_partition=backend.partition,
            scaling_config={"minSize": 0, "maxSize": max(nodes * 2, 1), "desiredSize": nodes},
            ami_type=ami_type, version=version, release_version=release_version, update_config=update_config,
            launch_template=launch_template)
        c.nodegroup_count += 1

    def cluster(self, account: str, region: str, name: str) -> Any | None:
        """moto's Cluster model (attributes ``version``, ``status``, ``platformVersion``, ``nodegroups``)."""
        return self._backend(account, region).clusters.get(name)

    def nodegroup(self, account: str, region: str, cluster: str, name: str) -> Any | None:
        """moto's Nodegroup model (``version``, ``release_version``, ``status``, ``update_config``,
        ``scaling_config``, ``ami_type``)."""
        c = self.cluster(account, region, cluster)
        return None if c is None else c.nodegroups.get(name)

    def apply_nodegroup_config(self, account: str, region: str, cluster: str, name: str,
                               body: dict[str, Any]) -> None:
        """The non-budget parts of UpdateNodegroupConfig (labels, taints, scaling) through moto's own code."""
        self._backend(account, region).update_nodegroup_config(
            cluster_name=cluster, nodegroup_name=name, labels=body.get("labels"), taints=body.get("taints"),
            scaling_config=body.get("scalingConfig"), update_config=None,
            node_repair_config=body.get("nodeRepairConfig"))
