"""Round-trip YAML edits (fleet/gitops/yamlpath.py) and the GitOps settings as users write them."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.errors import InputError
from fleet.gitops.yamlpath import YamlEditError, YamlFile, get_value, parse_path, set_value, spell_version
from fleet.policy.loader import load_config

MULTI = """\
# header comment
apiVersion: v1
kind: Cluster
metadata:
  name: prod    # trailing comment
spec:
  version: '1.29'
  pools:
    - name: a
      version: 1.29.8
    - name: b
      version: 1.29.8
---   # second document
kind: Cluster
metadata: {name: dev}
spec:
  version: "1.28"
  flow: [1, 2, 3]
"""


@pytest.mark.parametrize("path, want", [
    ("spec.version", (None, ["spec", "version"])),
    ("Cluster=prod:spec.version", (("Cluster", "prod"), ["spec", "version"])),
    ("spec.pools[1].version", (None, ["spec", "pools", 1, "version"])),
    ("spec.pools[name=b].version", (None, ["spec", "pools", ("name", "b"), "version"])),
])
def test_parse_path(path, want):
    assert parse_path(path) == want


@pytest.mark.parametrize("bad", ["spec..version", "spec.[x", ""])
def test_bad_paths_are_refused(bad):
    with pytest.raises(YamlEditError):
        parse_path(bad)


def test_an_edit_changes_only_its_value_and_keeps_comments_quotes_and_other_documents():
    f = YamlFile.parse(MULTI)
    assert f.dump() == MULTI                                          # untouched: byte for byte
    assert set_value(f, "Cluster=prod:spec.pools[name=b].version", "1.30.4")
    assert set_value(f, "Cluster=prod:spec.version", "1.30")
    out = f.dump()
    assert out == MULTI.replace("version: '1.29'", "version: '1.30'").replace(
        "- name: b\n      version: 1.29.8", "- name: b\n      version: 1.30.4")
    assert not set_value(f, "Cluster=prod:spec.version", "1.30")      # unchanged: reported as such


def test_ambiguous_or_missing_paths_name_the_problem():
    f = YamlFile.parse(MULTI)
    with pytest.raises(YamlEditError, match="resolves in 2 documents"):
        set_value(f, "spec.version", "1.30")
    with pytest.raises(YamlEditError, match="resolves in 0 documents"):
        get_value(f, "spec.nothing")
    with pytest.raises(YamlEditError, match="2 list items|no key"):
        set_value(YamlFile.parse("kind: X\nmetadata: {name: x}\nl: [{n: 1}, {n: 1}]\n"), "X=x:l[n=1].v", 2)
    assert get_value(f, "Cluster=dev:spec.version") == "1.28"


def test_a_document_no_style_reproduces_is_refused_not_reformatted():
    odd = "kind: X\nmetadata:\n   name: x\nspec:\n     version: 1.29.8\n"
    f = YamlFile.parse(odd)
    with pytest.raises(YamlEditError, match="refusing to reformat"):
        set_value(f, "spec.version", "1.30.4")
    assert f.dump() == odd


@pytest.mark.parametrize("current, to, fmt, want", [
    ("v1.29.8", "1.30.4", "full", "v1.30.4"),
    ("1.29.8", "v1.30.4", "full", "1.30.4"),
    ("1.29", "1.30.4", "minor", "1.30"),
    ("v1.29.8", "v1.30.4", "no-v", "1.30.4"),
])
def test_versions_are_spelled_as_the_file_spells_them(current, to, fmt, want):
    assert spell_version(current, to, fmt) == want


CONFIG = """\
apiVersion: fleet.dev/v1alpha1
kind: FleetConfig
metadata: {name: x}
spec:
  providers:
    - name: sim
      type: sim
      gitops:
        repository: {url: ../clusters.git}
        propose: pull-request
  policies: policies
"""


def test_a_pull_request_proposal_without_a_forge_is_a_config_error(tmp_path: Path):
    cfg = tmp_path / "fleet.yaml"
    cfg.write_text(CONFIG)
    with pytest.raises(InputError) as err:
        load_config(cfg)
    text = str(err.value)
    assert "fleet.yaml" in text and "gitops" in text and "needs forge" in text


def test_an_unknown_gitops_key_is_refused(tmp_path: Path):
    cfg = tmp_path / "fleet.yaml"
    cfg.write_text(CONFIG.replace("propose: pull-request", "propose: push\n        mergeStrategy: yolo"))
    with pytest.raises(InputError, match="mergeStrategy"):
        load_config(cfg)
