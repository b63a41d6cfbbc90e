"""FleetConfig checks each provider's ``settings`` against the settings model of its type (found through the
``fleet.providers`` entry points): every problem is ``file:line: spec.providers[i].settings.<path>: message``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fleet.errors import InputError
from fleet.policy.loader import load_config

REPO = Path(__file__).resolve().parents[2]

# lines 1-13; the third provider's settings start on line 14
CONFIG = """\
apiVersion: fleet.dev/v1alpha1
kind: FleetConfig
metadata:
  name: test
spec:
  policies: policies
  providers:
    - name: lab
      type: sim
    - name: prod-eks
      type: eks
      settings: {regions: [us-east-1]}
    - name: prod-aks
      type: aks
      settings:
        subscriptions: ["00000000-0000-0000-0000-000000000000"]
"""


def problems(tmp_path: Path, text: str) -> list[tuple[int | None, str, str]]:
    f = tmp_path / "fleet.yaml"
    f.write_text(text)
    with pytest.raises(InputError) as exc:
        load_config(f)
    assert all(p.file == str(f) for p in exc.value.problems)
    return [(p.line, p.field, p.message) for p in exc.value.problems]


def test_valid_settings_load_and_stay_a_plain_mapping(tmp_path):
    f = tmp_path / "fleet.yaml"
    f.write_text(CONFIG)
    cfg = load_config(f)
    assert cfg.spec.providers[2].settings == {"subscriptions": ["00000000-0000-0000-0000-000000000000"]}


def test_unknown_field(tmp_path):
    assert problems(tmp_path, CONFIG + "        regoins: [westeurope]\n") == [
        (17, "spec.providers[2].settings.regoins", "unknown field")]


def test_wrong_type(tmp_path):
    assert problems(tmp_path, CONFIG + "        timeoutSeconds: soon\n") == [
        (17, "spec.providers[2].settings.timeoutSeconds", "Input should be a valid number, unable to parse "
                                                          "string as a number")]


def test_missing_required_setting(tmp_path):
    text = CONFIG.replace("settings: {regions: [us-east-1]}", "settings: {regoins: [us-east-1]}")
    found = problems(tmp_path, text)
    assert (12, "spec.providers[1].settings.regoins", "unknown field") in found


def test_unknown_provider_type_lists_the_known_ones(tmp_path):
    [(line, field, message)] = problems(tmp_path, CONFIG.replace("type: eks", "type: ekss"))
    assert (line, field) == (11, "spec.providers[1].type")
    assert message.startswith("unknown provider type 'ekss'; known types: ")
    for known in ("aks", "capi", "eks", "gke", "kops", "oke", "sim"):
        assert known in message


@pytest.mark.parametrize("faults,line,field,message", [
    ("faults: oops", 10, "spec.providers[0].settings.faults", "Input should be a valid dictionary or instance of SimFaults"),
    ("faults: {apiErrorRate: high}", 10, "spec.providers[0].settings.faults.apiErrorRate",
     "Input should be a valid number, unable to parse string as a number"),
    ("faults: {failSteps: 3}", 10, "spec.providers[0].settings.faults.failSteps", "Input should be a valid list"),
    ("faults: {stepFailureRate: 0.5, sede: 1}", 10, "spec.providers[0].settings.faults.sede", "unknown field"),
])
def test_malformed_sim_faults(tmp_path, faults, line, field, message):
    text = CONFIG.replace("      type: sim\n", "      type: sim\n      settings: {" + faults + "}\n")
    assert problems(tmp_path, text) == [(line, field, message)]


def test_malformed_sim_faults_is_exit_2_with_file_and_line_not_a_traceback(tmp_path):
    (tmp_path / "policies").mkdir()
    f = tmp_path / "fleet.yaml"
    f.write_text(CONFIG.replace("      type: sim\n", "      type: sim\n      settings: {faults: oops}\n"))
    for argv in (["plan", "--config", str(f)], ["apply", "--config", str(f), "--once"]):
        r = subprocess.run([sys.executable, "-m", "fleet.cli", *argv], capture_output=True, text=True,
                           cwd=tmp_path, timeout=120, check=False)
        assert r.returncode == 2, (argv, r.stdout, r.stderr)
        assert f"{f}:10: spec.providers[0].settings.faults:" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
