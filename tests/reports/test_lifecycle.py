"""The lifecycle dataset: the shipped file, lookups, settings, and the loader's file:line errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from fleet.errors import InputError
from fleet.reports.lifecycle import (
    LifecycleSettings,
    install_lifecycle,
    load_active,
    load_builtin,
    load_lifecycle_file,
)

from .helpers import LIFECYCLE, lifecycle


def test_shipped_dataset():
    lc = load_builtin()
    assert lc.source == "builtin" and lc.as_of == date(2026, 8, 20)
    assert set(lc.data.providers) >= {"kubernetes", "eks", "aks", "gke", "oke", "capi", "kops"}
    eks = lc.support(("eks",), "1.33")
    assert (eks.end_of_standard, eks.end_of_extended) == (date(2026, 7, 29), date(2027, 7, 29))
    aks = lc.support(("aks",), "1.30.12")  # AKS LTS is its extended support
    assert (aks.end_of_standard, aks.end_of_extended) == (date(2025, 8, 22), date(2026, 7, 31))
    for follower in ("oke", "capi", "kops"):
        s = lc.support((follower,), "v1.32.4")
        assert s.provider == "kubernetes" and s.end_of_standard == date(2026, 2, 28) == s.end_of_extended
    gke = lc.support(("gke",), "1.32.2-gke.1297002")
    assert gke.end_of_standard == date(2026, 4, 11) and gke.end_of_extended is None


def test_lookups_never_guess():
    lc = lifecycle()
    assert not lc.support(("eks",), "1.29.1").known                  # minor missing
    assert not lc.support(("onprem",), "1.34.1").known               # provider missing
    assert not lc.support(("eks",), "not-a-version").known
    s = lc.support(("onprem", "eks"), "1.34.1")                      # first known name wins
    assert s.known and s.provider == "eks"


BAD = [
    # (case, replace this, with this, expected "line: field: message" fragment)
    ("unknown field", '    extendedSupport: false\n', '    extendedSupport: false\n    colour: red\n',
     ":7: providers.kubernetes.colour: unknown field"),
    ("unquoted minor", '"1.30": {released: 2024-04-17', '1.30: {released: 2024-04-17',
     ":8: providers.kubernetes.releases: write each minor as a quoted string"),
    ("not a minor", '"1.30": {released: 2024-04-17', '"1.30.1": {released: 2024-04-17',
     ":8: providers.kubernetes.releases.1.30.1: release key '1.30.1' must be a minor"),
    ("missing end of standard", '"1.33": {released: 2025-04-23, endOfStandardSupport: 2026-06-28}',
     '"1.33": {released: 2025-04-23}', ":9: providers.kubernetes.releases.1.33.endOfStandardSupport: Field required"),
    ("not a date", "endOfStandardSupport: 2026-06-28}", "endOfStandardSupport: soon}",
     ":9: providers.kubernetes.releases.1.33.endOfStandardSupport: Input should be a valid date"),
    ("end before release", '"1.34": {released: 2025-08-27, endOfStandardSupport: 2026-10-27}',
     '"1.34": {released: 2025-08-27, endOfStandardSupport: 2025-01-01}',
     ":10: providers.kubernetes.releases.1.34: endOfStandardSupport must be after released"),
    ("extended before standard", "endOfStandardSupport: 2025-11-26, endOfExtendedSupport: 2026-11-26",
     "endOfStandardSupport: 2025-11-26, endOfExtendedSupport: 2025-01-26",
     ":14: providers.eks.releases.1.31: endOfExtendedSupport cannot be before endOfStandardSupport"),
    ("extended without extended support", '"1.35": {released: 2025-12-17, endOfStandardSupport: 2027-02-28}',
     '"1.35": {released: 2025-12-17, endOfStandardSupport: 2027-02-28, endOfExtendedSupport: 2028-01-01}',
     ":11: providers.kubernetes.releases.1.35.endOfExtendedSupport: extendedSupport is false for this provider"),
    ("follows an unknown provider", "follows: kubernetes", "follows: k8s",
     ":24: providers.oke.follows: 'k8s' is not a provider in this file"),
    ("follows and releases", "    follows: kubernetes\n",
     '    follows: kubernetes\n    releases:\n      "1.30": {endOfStandardSupport: 2025-07-15}\n',
     ":23: providers.oke: give either follows or releases, not both"),
    ("wrong kind", "kind: LifecycleData", "kind: Inventory", ":2: kind: String should match pattern"),
    ("missing asOf", 'asOf: "2026-08-01"\n', "", ":1: asOf: Field required"),
    ("bad asOf", 'asOf: "2026-08-01"', 'asOf: "August"', ":3: asOf: Input should be a valid date"),
    ("invalid YAML", "providers:\n", "providers:\n  - [\n", ":7: <document>: invalid YAML"),
    ("duplicate minor", '      "1.34": {released: 2025-08-27', '      "1.33": {released: 2025-08-27',
     ":10: providers.kubernetes.releases.1.33: duplicate key"),
    ("a YAML tag", 'asOf: "2026-08-01"', "asOf: !!python/object:os.system x", ":3: asOf: YAML tag"),
]


@pytest.mark.parametrize(("case", "old", "new", "want"), BAD, ids=[b[0] for b in BAD])
def test_bad_files_are_rejected_with_file_and_line(tmp_path, case, old, new, want):
    assert old in LIFECYCLE
    f = tmp_path / "lc.yaml"
    f.write_text(LIFECYCLE.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_lifecycle_file(f)
    text = "\n".join(str(p) for p in exc.value.problems)
    assert f"{f}{want}" in text, text


def test_cycles_and_empty_files(tmp_path):
    f = tmp_path / "cycle.yaml"
    f.write_text(LIFECYCLE.replace("  oke:\n    follows: kubernetes\n",
                                   "  oke:\n    follows: capi\n  capi:\n    follows: oke\n"), encoding="utf-8")
    with pytest.raises(InputError, match="follows form a cycle"):
        load_lifecycle_file(f)
    (tmp_path / "empty.yaml").write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(InputError, match="expected one LifecycleData document, found 0"):
        load_lifecycle_file(tmp_path / "empty.yaml")
    with pytest.raises(InputError, match="no such file"):
        load_lifecycle_file(tmp_path / "absent.yaml")


def test_settings_from_env():
    assert LifecycleSettings.from_env({"FLEET_LIFECYCLE_FILE": "/x/lc.yaml", "HOME": "/h"}).file == Path("/x/lc.yaml")
    assert LifecycleSettings.from_env({"XDG_DATA_HOME": "/d", "HOME": "/h"}).file == Path("/d/fleet/lifecycle.yaml")
    assert LifecycleSettings.from_env({"HOME": "/h"}).file == Path("/h/.local/share/fleet/lifecycle.yaml")


def test_install_replaces_the_active_dataset_only_when_valid(tmp_path):
    settings = LifecycleSettings(tmp_path / "data" / "fleet" / "lifecycle.yaml")
    assert load_active(settings).source == "builtin"
    good = tmp_path / "good.yaml"
    good.write_text(LIFECYCLE, encoding="utf-8")
    installed = install_lifecycle(good, settings)
    assert installed.as_of == date(2026, 8, 1)
    active = load_active(settings)
    assert active.source == str(settings.file) and active.as_of == date(2026, 8, 1)
    bad = tmp_path / "bad.yaml"
    bad.write_text(LIFECYCLE.replace('asOf: "2026-08-01"', 'asOf: "2027-13-01"'), encoding="utf-8")
    with pytest.raises(InputError):
        install_lifecycle(bad, settings)
    assert settings.file.read_text(encoding="utf-8") == LIFECYCLE  # untouched
    assert [p.name for p in settings.file.parent.iterdir()] == ["lifecycle.yaml"]  # no temp files left
