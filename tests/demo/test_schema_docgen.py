"""`fleet schema` (JSON Schema from the models) and the generated policy reference (docs/policy-reference.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FLEET = shutil.which("fleet") or "fleet"
KIND_OF = {"UpgradePolicy": "policy", "RolloutStrategy": "rollout", "Inventory": "inventory", "FleetConfig": "config"}


def _validator(kind: str) -> jsonschema.Draft202012Validator:
    from fleet.schema import compute_schema
    schema = compute_schema(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("kind", ["policy", "inventory", "config"])
def test_fleet_schema_prints_valid_json_schema(kind: str) -> None:
    r = subprocess.run([FLEET, "schema", kind], capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    schema = json.loads(r.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) >= {"apiVersion", "kind"}


def test_fleet_schema_rejects_an_unknown_kind() -> None:
    r = subprocess.run([FLEET, "schema", "policies"], capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 2
    assert "kind: must be one of policy, rollout, inventory, config" in r.stderr


def test_every_shipped_file_validates_against_its_schema(tmp_path: Path) -> None:
    from fleet.demo.workspace import write_policies
    files = sorted((ROOT / "policies").rglob("*.yaml")) + write_policies(tmp_path / "demo")
    files.append(ROOT / "deploy" / "configmap.yaml")
    seen = set()
    for f in files:
        docs = list(yaml.safe_load_all(f.read_text()))
        if f.name == "configmap.yaml":
            docs = [yaml.safe_load(v) for v in docs[0]["data"].values()]
        for doc in docs:
            errors = [f"{list(e.path)}: {e.message}" for e in _validator(KIND_OF[doc["kind"]]).iter_errors(doc)]
            assert not errors, (f, errors)
            seen.add(doc["kind"])
    assert seen == set(KIND_OF)


@pytest.mark.parametrize(("path", "value", "why"), [
    (("spec", "tragets"), {}, "Additional properties"),
    (("spec", "maintenance", "windows"), [{"days": ["Sat"], "start": "1am", "duration": "4h"}], "does not match"),
    (("spec", "maintenance", "windows"), [{"days": ["Sat"], "start": "01:00", "duration": "four hours"}], "match"),
    (("spec", "nodePools", "maxSurge"), "25 percent", "valid"),
    (("spec", "path"), "fastest", "is not one of"),
    (("spec", "rollout", "maxConcurrentClusters"), 0, "minimum"),
])
def test_schema_catches_what_the_loader_catches(tmp_path: Path, path: tuple[str, ...], value: object, why: str) -> None:
    from fleet.errors import InputError
    from fleet.policy.loader import load_policies
    doc = yaml.safe_load((ROOT / "policies" / "examples" / "production.yaml").read_text())
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    errors = list(_validator("policy").iter_errors(doc))
    assert errors and any(why in e.message for e in errors), [e.message for e in errors]
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError):
        load_policies(f)


def test_policy_reference_is_generated_from_the_models() -> None:
    r = subprocess.run([sys.executable, "-m", "fleet.docgen"], capture_output=True, text=True, timeout=60,
                       check=False, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    committed = (ROOT / "docs" / "policy-reference.md").read_text()
    assert r.stdout == committed, "docs/policy-reference.md is stale: run python -m fleet.docgen > docs/policy-reference.md"


def test_every_field_is_described_and_no_note_is_stale() -> None:
    from fleet.docgen import missing_descriptions, stale_notes
    assert missing_descriptions() == [], "describe these fields in the model or in fleet.docgen.NOTES"
    assert stale_notes() == [], "these NOTES name fields that no longer exist"


def test_reference_documents_every_model_field() -> None:
    from fleet.policy.models import FleetConfig, Inventory, UpgradePolicy
    text = (ROOT / "docs" / "policy-reference.md").read_text()

    def walk(model: type, seen: set[str]) -> None:
        if model.__name__ in seen:
            return
        seen.add(model.__name__)
        assert f"### {model.__name__}" in text
        for name, info in model.model_fields.items():
            assert f"| `{info.alias or name}` |" in text, f"{model.__name__}.{name}"
            for t in getattr(info.annotation, "__args__", ()) + (info.annotation,):
                inner = getattr(t, "__args__", (t,))
                for x in inner:
                    if isinstance(x, type) and hasattr(x, "model_fields"):
                        walk(x, seen)
    seen: set[str] = set()
    for m in (UpgradePolicy, FleetConfig, Inventory):
        walk(m, seen)
    assert {"Window", "Wave", "LeaderElectionConfig", "InventoryNodePool"} <= seen


def test_editor_docs_show_the_yaml_language_server_modeline() -> None:
    text = (ROOT / "docs" / "policy-reference.md").read_text()
    assert "# yaml-language-server: $schema=" in text
    assert '"yaml.schemas"' in text
