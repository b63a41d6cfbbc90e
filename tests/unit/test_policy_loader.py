"""Loading user files: every problem is ``file:line: field: message`` with the right line and field path,
loading is all-or-nothing, and YAML is loaded safely (no tags that build Python objects)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.errors import InputError, Problem
from fleet.policy import source
from fleet.policy.loader import inventory_clusters, load_files, load_inventory, load_policies

REPO = Path(__file__).resolve().parents[2]

# lines 1-7; what a case appends starts on line 8
BASE = """\
apiVersion: fleet.dev/v1alpha1
kind: UpgradePolicy
metadata:
  name: web
spec:
  target:
    version: "1.30"
"""


def problems_of(tmp_path: Path, files: dict[str, str], **kw) -> list[Problem]:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(InputError) as exc:
        load_files([tmp_path / n for n in files], **kw)
    return exc.value.problems


@pytest.mark.parametrize("text,line,field,message", [
    # unknown fields, at every depth
    (BASE + "  bogus: 1\n", 8, "spec.bogus", "unknown field"),
    (BASE + "  nodePools:\n    maxSurge: 1\n    surge: 2\n", 10, "spec.nodePools.surge", "unknown field"),
    (BASE.replace("metadata:", "extra: 1\nmetadata:"), 3, "extra", "unknown field"),
    # wrong types
    (BASE + "  priority: high\n", 8, "spec.priority", "valid integer"),
    (BASE + "  selector:\n    providers: gke\n", 9, "spec.selector.providers", "valid list"),
    (BASE + "  nodePools:\n    maxSurge: lots\n", 9, "spec.nodePools.maxSurge", "percentage such as '25%'"),
    # a version YAML reads as a float
    (BASE.replace('"1.30"', "1.30"), 7, "spec.target.version", "quote 1.3"),
    (BASE.replace('"1.30"', "'1.x'"), 7, "spec.target.version", "must be 'latest'"),
    # time zones, windows, exclusions
    (BASE + "  maintenance:\n    timezone: Mars/Olympus_Mons\n", 9, "spec.maintenance.timezone",
     "unknown IANA time zone 'Mars/Olympus_Mons'"),
    (BASE + "  maintenance:\n    windows:\n      - days: [Sat]\n        rrule: FREQ=WEEKLY\n"
            "        start: '01:00'\n        duration: 2h\n", 10, "spec.maintenance.windows[0]",
     "give either days or rrule (exactly one)"),
    (BASE + "  maintenance:\n    windows:\n      - days: [Sat]\n        start: '25:00'\n        duration: 2h\n",
     11, "spec.maintenance.windows[0].start", "HH:MM"),
    (BASE + "  maintenance:\n    windows:\n      - days: [Caturday]\n        start: '01:00'\n        duration: 2h\n",
     10, "spec.maintenance.windows[0].days", "unknown day 'Caturday'"),
    (BASE + "  maintenance:\n    windows:\n      - rrule: FREQ=HOURLY\n        start: '01:00'\n        duration: 2h\n",
     10, "spec.maintenance.windows[0].rrule", "FREQ must be"),
    (BASE + "  maintenance:\n    windows:\n      - days: [Sat]\n        start: '01:00'\n        duration: soon\n",
     12, "spec.maintenance.windows[0].duration", "invalid duration 'soon'"),
    (BASE + "  maintenance:\n    exclusions:\n      - start: 2026-12-20T00:00:00\n        end: 2026-12-10T00:00:00\n",
     10, "spec.maintenance.exclusions[0]", "end must be after start"),
    (BASE + "  maintenance:\n    exclusions:\n      - start: 2026-12-20T00:00:00\n        end: 9999-12-31T23:00:00\n",
     11, "spec.maintenance.exclusions[0].end", "between the years 1970 and 9000"),
    # budgets: both literally 0
    (BASE + "  nodePools:\n    maxSurge: 0\n    maxUnavailable: 0\n", 8, "spec.nodePools",
     "maxSurge and maxUnavailable cannot both be 0"),
    (BASE + "  nodePools:\n    maxSurge: '0%'\n    maxUnavailable: 0\n", 8, "spec.nodePools", "cannot both be 0"),
    # a string budget must be a percentage (apimachinery intstr): "50" is not 50 nodes
    (BASE + "  nodePools:\n    maxUnavailable: \"50\"\n", 9, "spec.nodePools.maxUnavailable",
     "a string must be a percentage"),
    (BASE + "  nodePools:\n    maxSurge: '2'\n", 9, "spec.nodePools.maxSurge", "a string must be a percentage"),
    (BASE + "  nodePools:\n    blueGreen: {batchNodeCount: 1}\n", 8, "spec.nodePools", "strategy: blue-green"),
    # enumerations
    (BASE + "  path: fastest\n", 8, "spec.path", "must be 'patch-first-then-minor' or 'minor-by-minor'"),
    (BASE + "  rollout:\n    waves:\n      - name: a\n      - name: a\n", 9, "spec.rollout.waves",
     "duplicate wave names: a"),
    # duplicate keys: the second one
    (BASE + "  priority: 1\n  priority: 2\n", 9, "spec.priority", "duplicate key"),
    (BASE.replace("  name: web\n", "  name: web\n  name: api\n"), 5, "metadata.name", "duplicate key"),
    # invalid YAML
    (BASE + "  selector: [gke\n", 8, "<document>", "invalid YAML"),
    (BASE + "  priority: 1\n   bad: indent\n", 9, "<document>", "invalid YAML"),
    (BASE + "  x: \"unterminated\n", 8, "<document>", "invalid YAML"),
    # the wrong document
    (BASE.replace("fleet.dev/v1alpha1", "fleet.dev/v2"), 1, "apiVersion", "must be 'fleet.dev/v1alpha1'"),
    (BASE.replace("kind: UpgradePolicy", "kind: Policy"), 2, "kind", "expected one of"),
    (BASE.replace("metadata:\n  name: web\n", ""), 1, "metadata", "Field required"),
    (BASE.replace("name: web", "name: Web_Site"), 4, "metadata.name", "lowercase"),
    ("- just\n- a list\n", 1, "<document>", "expected a mapping"),
])
def test_broken_policy(tmp_path, text, line, field, message):
    (problem,) = problems_of(tmp_path, {"p.yaml": text})
    assert (problem.line, problem.field or "<document>") == (line, field), str(problem)
    assert message in problem.message
    assert str(problem).startswith(f"{tmp_path / 'p.yaml'}:{line}: {field}: ")


def test_lines_count_from_the_top_of_the_file_in_multi_document_files(tmp_path):
    text = BASE + "---\n" + BASE.replace("web", "api") + "  priority: x\n"
    (problem,) = problems_of(tmp_path, {"two.yaml": text})
    assert (problem.line, problem.field) == (16, "spec.priority")


def test_every_problem_of_every_file_is_reported(tmp_path):
    problems = problems_of(tmp_path, {
        "a.yaml": BASE + "  bogus: 1\n  priority: x\n",
        "b.yaml": BASE.replace("web", "api").replace('"1.30"', "1.30"),
        "c.yaml": BASE.replace("web", "ok"),
    })
    assert [(Path(p.file).name, p.line, p.field) for p in problems] == [
        ("a.yaml", 8, "spec.bogus"), ("a.yaml", 9, "spec.priority"), ("b.yaml", 7, "spec.target.version")]


def test_all_or_nothing(tmp_path):
    (tmp_path / "good.yaml").write_text(BASE)
    (tmp_path / "bad.yaml").write_text(BASE.replace("web", "api") + "  bogus: 1\n")
    with pytest.raises(InputError):
        load_policies(tmp_path)
    (tmp_path / "bad.yaml").unlink()
    assert [p.name for p in load_policies(tmp_path)] == ["web"]


def test_duplicate_policy_names_across_files(tmp_path):
    (problem,) = problems_of(tmp_path, {"a.yaml": BASE, "b.yaml": "# the same name again\n" + BASE})
    assert (Path(problem.file).name, problem.line, problem.field) == ("b.yaml", 5, "metadata.name")
    assert "policy 'web' is already defined at" in problem.message and "a.yaml:1" in problem.message


def test_only_the_kinds_asked_for(tmp_path):
    (problem,) = problems_of(tmp_path, {"p.yaml": BASE}, kinds=("Inventory",))
    assert (problem.line, problem.field) == (2, "kind")
    assert "expected one of Inventory, got 'UpgradePolicy'" in problem.message


def test_missing_file_is_one_problem(tmp_path):
    with pytest.raises(InputError) as exc:
        load_files([tmp_path / "nope.yaml"])
    assert [p.message for p in exc.value.problems] == ["no such file or directory"]


def test_empty_documents_are_skipped(tmp_path):
    (tmp_path / "p.yaml").write_text("# nothing yet\n---\n" + BASE + "---\n")
    assert len(load_files([tmp_path / "p.yaml"]).policies) == 1


# ---- safe loading --------------------------------------------------------------------------------------

@pytest.mark.parametrize("value,line", [
    ("!!python/object/apply:os.system ['touch {marker}']", 8),
    ("!!python/object:fleet.policy.models.Selector {{}}", 8),
    ("!!python/object/new:builtins.list [[1]]", 8),
    ("!!python/name:os.system", 8),
    ("!!python/tuple [1, 2]", 8),
    ("\n    providers: !!python/object/apply:os.system ['touch {marker}']", 9),
    ("!!set {{a, b}}", 8),
    ("!custom {{a: 1}}", 8),
])
def test_tags_that_build_objects_are_refused(tmp_path, value, line):
    marker = tmp_path / "pwned"
    (problem,) = problems_of(tmp_path, {"p.yaml": BASE + "  selector: " + value.format(marker=marker) + "\n"})
    assert problem.line == line
    assert "is not allowed" in problem.message
    assert not marker.exists()


def test_alias_bombs_are_refused(tmp_path):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    (problem,) = problems_of(tmp_path, {"bomb.yaml": "\n".join(lines) + "\n"})
    assert f"more than {source.ALIAS_BUDGET} values" in problem.message


def test_anchors_and_merge_keys_still_work(tmp_path):
    text = BASE + "  maintenance:\n    windows:\n      - &w {days: [Sat], start: '01:00', duration: 2h}\n" \
                  "      - {<<: *w, days: [Sun]}\n"
    (tmp_path / "p.yaml").write_text(text)
    (pol,) = load_policies(tmp_path / "p.yaml")
    assert [w.days for w in pol.spec.maintenance.windows] == [["Sat"], ["Sun"]]


# ---- inventories ---------------------------------------------------------------------------------------

INV = """\
apiVersion: fleet.dev/v1alpha1
kind: Inventory
offers:
  gke: ["1.30.1", "1.31.2"]
  eks:
    controlPlane: ["1.30", "1.31"]
    nodePools: ["1.30.9-20250403"]
clusters:
  - {provider: gke, location: eu, name: a, controlPlane: "1.30.1", nodePools: [{name: p, version: "1.30.1"}]}
  - {provider: eks, location: eu, name: b, controlPlane: "1.30", labels: {env: prod}}
"""


@pytest.mark.parametrize("old,new,line,field,message", [
    ('"1.31.2"]', '1.31]', 4, "offers.gke[1]", "quote 1.31"),
    ("    nodePools: [", "    nodePool: [", 7, "offers.eks.nodePool", "unknown field"),
    ('gke: ["1.30.1", "1.31.2"]', "gke: 5", 4, "offers.gke", "must be a valid list or a valid dictionary"),
    ('controlPlane: "1.30", labels', 'controlPlane: "banana", labels', 10, "clusters[1].controlPlane",
     "not a Kubernetes version"),
    ('{name: p, version: "1.30.1"}', '{name: p, version: "1.30.1", nodes: -1}', 9, "clusters[0].nodePools[0].nodes",
     "greater than or equal to 0"),
    ("name: b,", "name: a,", 8, "clusters", "duplicate cluster id"),
    ("name: b,", "name: a, provider: gke,", 10, "clusters[1].provider", "duplicate key"),
])
def test_broken_inventory(tmp_path, old, new, line, field, message):
    assert old in INV
    text = INV.replace(old, new) if "duplicate cluster" not in message else INV.replace(
        "provider: eks, location: eu, name: b", "provider: gke, location: eu, name: a")
    (problem,) = problems_of(tmp_path, {"inv.yaml": text})
    assert (problem.line, problem.field) == (line, field), str(problem)
    assert message in problem.message


def test_inventory_to_clusters(tmp_path):
    (tmp_path / "inv.yaml").write_text(INV)
    clusters, offers = inventory_clusters(load_inventory(tmp_path / "inv.yaml"))
    assert [c.id for c in clusters] == ["gke/eu/a", "eks/eu/b"]
    assert clusters[1].labels == {"env": "prod"} and clusters[1].provider_type == "eks"
    assert offers["gke"].control_plane == ("1.30.1", "1.31.2")
    assert offers["eks"].node_pools == {"*": ("1.30.9-20250403",)}


def test_shipped_examples_load():
    pols = load_policies(REPO / "policies" / "examples")
    assert sorted(p.name for p in pols) == ["dev-default", "platform-monthly", "production", "staging"]
    inv = load_inventory(REPO / "policies" / "inventory" / "example-fleet.yaml")
    assert len(inv.clusters) == 10


# ---- cluster facts: checked against the provider type's facts model ----------------------------------------

FACTS_INV = """\
apiVersion: fleet.dev/v1alpha1
kind: Inventory
clusters:
  - provider: sim
    location: eu
    name: a
    controlPlane: "1.30.1"
    facts:
      poolsMatchBeforeCpMinor: true
      poolSkeww: 2
  - provider: sim
    location: eu
    name: b
    controlPlane: "1.30.1"
    facts: {poolMinorStep: 0}
  - {provider: nosuch, location: eu, name: c, controlPlane: "1.30.1", facts: {x: 1}}
  - {provider: sim, location: eu, name: d, controlPlane: "1.30.1", facts: {blockedPools: {p: "BASIC cluster"}}}
"""


def test_inventory_facts_are_checked_against_the_provider_types_model(tmp_path):
    problems = problems_of(tmp_path, {"inv.yaml": FACTS_INV})
    assert [(p.line, p.field) for p in problems] == [
        (10, "clusters[0].facts.poolSkeww"), (15, "clusters[1].facts.poolMinorStep"), (16, "clusters[2].facts")]
    assert problems[0].message == "unknown field"
    assert "greater than or equal to 1" in problems[1].message
    assert "unknown provider type 'nosuch'" in problems[2].message
    assert str(problems[0]).startswith(f"{tmp_path / 'inv.yaml'}:10: clusters[0].facts.poolSkeww: ")


def test_inventory_facts_reach_the_cluster(tmp_path):
    text = FACTS_INV.split("  - provider: sim\n    location: eu\n    name: b")[0].replace("      poolSkeww: 2\n", "")
    (tmp_path / "inv.yaml").write_text(text)
    (c,) = inventory_clusters(load_inventory(tmp_path / "inv.yaml"))[0]
    assert c.facts["poolsMatchBeforeCpMinor"] is True
