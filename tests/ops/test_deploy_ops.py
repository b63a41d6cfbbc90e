"""deploy/ operated safely (issue #23): the shipped API token is refused by the daemon, the pod runs locked
down, a NetworkPolicy limits traffic, RBAC names the Lease, Prometheus scrapes with a bearer token, and the
config's Host allow-list names the Service. (Schema validation of every manifest: tests/demo/test_deploy.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fleet.daemon.auth import check_not_placeholder
from fleet.errors import InputError

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _docs() -> list[dict]:
    return [d for f in sorted(DEPLOY.rglob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]


def _one(kind: str, name: str | None = None) -> dict:
    [d] = [d for d in _docs() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    return d


def test_the_shipped_api_token_is_refused():
    token = _one("Secret", "fleet-api-token")["stringData"]["token"]
    with pytest.raises(InputError, match="placeholder"):
        check_not_placeholder(token, "deploy/secret.yaml")


def test_the_pod_is_locked_down():
    spec = _one("Deployment")["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = spec["containers"][0]["securityContext"]
    assert sc == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    token_vol = next(v for v in spec["volumes"] if v["name"] == "api-token")
    assert token_vol["secret"]["defaultMode"] & 0o077 == 0


def test_network_policy_and_rbac():
    np = _one("NetworkPolicy")
    assert set(np["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert np["spec"]["podSelector"]["matchLabels"].items() <= \
        _one("Deployment")["spec"]["template"]["metadata"]["labels"].items()
    [ing] = np["spec"]["ingress"]
    assert ing["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert _one("Role")["metadata"]["namespace"] == "fleet-system"
    assert not [d for d in _docs() if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]


def test_prometheus_scrapes_with_a_bearer_token_and_hosts_are_listed():
    [ep] = _one("ServiceMonitor")["spec"]["endpoints"]
    assert ep["authorization"]["type"] == "Bearer"
    cfg = yaml.safe_load(_one("ConfigMap")["data"]["fleet.yaml"])
    svc = _one("Service")["metadata"]
    assert f"{svc['name']}.{svc['namespace']}.svc" in cfg["spec"]["http"]["allowedHosts"]
