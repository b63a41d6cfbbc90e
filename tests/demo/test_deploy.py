"""deploy/: every manifest validates against the Kubernetes schemas (kubernetes-validate, offline), and the
Deployment agrees with the daemon: its command parses with the real CLI, its probes hit routes the API serves,
its port is the config's, and the ConfigMap's fleet.yaml and policies load with fleet's own loader."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.31"
# A ServiceMonitor is a CustomResource of the Prometheus Operator: kubernetes-validate ships schemas for the
# built-in kinds only, so this kind alone is checked structurally (test_servicemonitor_structure).
CRD_KINDS = {"ServiceMonitor": "a Prometheus Operator CRD: kubernetes-validate has no schema for it"}


def _docs() -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for f in sorted(DEPLOY.rglob("*.yaml")):
        for d in yaml.safe_load_all(f.read_text()):
            if d is not None:
                out.append((f, d))
    return out


def _one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for _, d in _docs() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def _container() -> dict[str, Any]:
    return _one("Deployment")["spec"]["template"]["spec"]["containers"][0]


def test_every_manifest_validates_against_the_kubernetes_schemas() -> None:
    import kubernetes_validate
    kinds = []
    for f, d in _docs():
        if d["kind"] in CRD_KINDS:
            with pytest.raises(kubernetes_validate.SchemaNotFoundError):   # the stated reason still holds
                kubernetes_validate.validate(d, K8S_VERSION, strict=True)
            continue
        try:
            kubernetes_validate.validate(d, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{f.relative_to(ROOT)}: {d['kind']} {d['metadata']['name']}: {exc}")
        kinds.append(d["kind"])
    for kind in ("Deployment", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret", "Service"):
        assert kind in kinds


def test_the_validator_rejects_a_broken_manifest() -> None:
    import kubernetes_validate
    bad = json.loads(json.dumps(_one("Deployment")))
    bad["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)
    bad = json.loads(json.dumps(_one("Deployment")))
    bad["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGett"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_validation_needs_no_network() -> None:
    """Run the validation with every socket connection refused (an audit hook, in a child process)."""
    code = (
        "import sys, pathlib, yaml\n"
        "def hook(event, args):\n"
        "    if event in ('socket.connect', 'socket.getaddrinfo'):\n"
        "        raise RuntimeError('network used: ' + event)\n"
        "sys.addaudithook(hook)\n"
        "import kubernetes_validate\n"
        f"for f in sorted(pathlib.Path({str(DEPLOY)!r}).glob('*.yaml')):\n"
        "    for d in yaml.safe_load_all(f.read_text()):\n"
        f"        kubernetes_validate.validate(d, {K8S_VERSION!r}, strict=True)\n"
        "print('validated offline')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "validated offline" in r.stdout


def test_servicemonitor_structure() -> None:
    sm = _one("ServiceMonitor")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    svc = _one("Service")
    assert sm["metadata"]["namespace"] == svc["metadata"]["namespace"]
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert sm["spec"]["namespaceSelector"]["matchNames"] == [svc["metadata"]["namespace"]]
    [ep] = sm["spec"]["endpoints"]
    assert ep["port"] in {p["name"] for p in svc["spec"]["ports"]}
    assert ep["path"] == "/metrics"
    assert set(sm) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(ep) <= {"port", "path", "interval", "scrapeTimeout", "scheme", "honorLabels", "relabelings",
                       "authorization"}
    assert not (DEPLOY / "servicemonitor.yaml").exists(), "keep it optional: `kubectl apply -f deploy/` must not need the CRD"


def test_two_replicas_elect_a_leader_through_a_lease_they_may_use(tmp_path: Path) -> None:
    dep = _one("Deployment")
    assert dep["spec"]["replicas"] == 2
    cfg = _load_configmap(tmp_path)
    le = cfg.spec.leader_election
    assert le.backend == "kubernetes"
    assert le.namespace == dep["metadata"]["namespace"]
    assert cfg.spec.state.url.startswith("postgresql"), "two replicas need one shared state store"
    role, binding = _one("Role"), _one("RoleBinding")
    rules = role["rules"]
    assert all(r["apiGroups"] == ["coordination.k8s.io"] and r["resources"] == ["leases"] for r in rules)
    assert {"get", "create", "update"} <= {v for r in rules for v in r["verbs"]}
    # get/update only on the Lease itself (#23); create cannot be limited by name
    assert all(r.get("resourceNames") == [le.lease_name] for r in rules if set(r["verbs"]) & {"get", "update"})
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    sa = dep["spec"]["template"]["spec"]["serviceAccountName"]
    assert {"kind": "ServiceAccount", "name": sa, "namespace": le.namespace} in binding["subjects"]
    assert _one("ServiceAccount")["metadata"]["name"] == sa


def _load_configmap(tmp_path: Path) -> Any:
    """Write the ConfigMap's files where the Deployment mounts them and load them with fleet's loader."""
    from fleet.policy.loader import load_config, load_policies, resolve_path
    cm = _one("ConfigMap")
    vol = next(v for v in _one("Deployment")["spec"]["template"]["spec"]["volumes"] if "configMap" in v)
    assert vol["configMap"]["name"] == cm["metadata"]["name"]
    for item in vol["configMap"]["items"]:
        p = tmp_path / item["path"]
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(cm["data"][item["key"]])
    assert {i["key"] for i in vol["configMap"]["items"]} == set(cm["data"]), "every key is mounted"
    cfg = load_config(tmp_path / "fleet.yaml")
    policies = load_policies(resolve_path(tmp_path / "fleet.yaml", cfg.spec.policies))
    assert len(policies) == len(cm["data"]) - 1
    return cfg


def test_configmap_loads_with_fleets_loader_and_ships_the_example_policies(tmp_path: Path) -> None:
    _load_configmap(tmp_path)
    cm = _one("ConfigMap")
    for f in (ROOT / "policies" / "examples").glob("*.yaml"):
        assert cm["data"][f.name] == f.read_text(), f"{f.name} differs from policies/examples"


def test_container_command_ports_and_probes_match_the_daemon(tmp_path: Path) -> None:
    from typer.main import get_command

    from fleet.cli import app
    from fleet.daemon.api import create_app
    c = _container()
    argv = c["command"] + c["args"]
    assert argv[:2] == ["fleet", "daemon"]
    cli = get_command(app)
    ctx = cli.make_context("fleet", argv[1:])
    sub = cli.get_command(ctx, "daemon")
    params = sub.make_context("daemon", argv[2:], parent=ctx).params   # raises on an unknown option
    mount = next(m for m in c["volumeMounts"] if m["name"] == "config")["mountPath"]
    assert str(params["config"]) == f"{mount}/fleet.yaml"
    cfg = _load_configmap(tmp_path)
    port = int(cfg.spec.http.listen.rpartition(":")[2])
    assert cfg.spec.http.listen.startswith("0.0.0.0:"), "inside a pod the API must listen on all addresses"
    [cport] = c["ports"]
    assert cport["containerPort"] == port and cport["name"] == "http"
    routes = {r.path for r in create_app(SimpleNamespace(write_token=None, read_token=None,
                                                         max_body_bytes=65536)).routes}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert {"/healthz", "/readyz", "/metrics"} <= routes
    svc = _one("Service")
    assert svc["spec"]["ports"][0]["targetPort"] == "http" and svc["spec"]["ports"][0]["port"] == port
    assert svc["spec"]["selector"].items() <= _one("Deployment")["spec"]["template"]["metadata"]["labels"].items()


def test_api_token_and_database_password_come_from_secrets(tmp_path: Path) -> None:
    c = _container()
    cfg = _load_configmap(tmp_path)
    token_mount = next(m for m in c["volumeMounts"] if m["name"] == "api-token")["mountPath"]
    vol = next(v for v in _one("Deployment")["spec"]["template"]["spec"]["volumes"] if v["name"] == "api-token")
    [item] = vol["secret"]["items"]
    assert cfg.spec.http.token_file == f"{token_mount}/{item['path']}"
    secret = _one("Secret", vol["secret"]["secretName"])
    assert item["key"] in secret["stringData"]
    env = {e["name"]: e for e in c["env"]}
    ref = env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]
    assert ref["key"] in _one("Secret", ref["name"])["stringData"]
    from sqlalchemy.engine import make_url
    assert make_url(cfg.spec.state.url).password is None, "no password in the ConfigMap"


def test_pod_runs_as_the_images_non_root_user() -> None:
    spec = _one("Deployment")["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"USER {spec['securityContext']['runAsUser']}:" in dockerfile
    sc = spec["containers"][0]["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False


@pytest.mark.postgres
def test_the_first_install_creates_the_store_on_an_empty_database(tmp_path: Path, pg_url: str) -> None:
    """`kubectl apply -f deploy/` must start: the ConfigMap lets the daemon create fleet's tables in the empty
    database of a first install (a fresh PostgreSQL schema stands for it); without that line it is refused."""
    from fleet.state.errors import StoreMissingError
    from fleet.state.store import SqlStore
    cfg = _load_configmap(tmp_path)
    assert cfg.spec.state.create is True
    with pytest.raises(StoreMissingError):
        SqlStore(pg_url, create=False)
    store = SqlStore(pg_url, create=cfg.spec.state.create)
    assert store.runs() == []
    store.close()
    SqlStore(pg_url, create=False).close()          # once created, it opens without create
