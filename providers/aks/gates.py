"""AKS safety-gate checks: pure evaluations of what ARM answered (docs/gates-providers.md).

- ``upgrade-blockers``: AKS blocks a control-plane minor upgrade to 1.26 or later while an API removed in the
  target version was used in the 12 hours before it (learn.microsoft.com/azure/aks/stop-cluster-upgrade-api-
  breaking-changes; 400 ``ValidationError``, subcode ``UpgradeBlockedOnDeprecatedAPIUsage``). The ARM API
  (2026-08-01, azure-mgmt-containerservice 41.8.0) has no read of that usage: the block is enforced by the
  upgrade PUT itself. The check says so: it passes with ``preflight: false`` evidence for a step the block can
  apply to (and plainly for one it cannot), and the PUT's refusal fails the step with a permanent error naming
  the override (an operator override of this gate sends ``upgradeSettings.overrideSettings {forceUpgrade: true,
  until}``).
- ``cluster-health``: the managed cluster's and every agent pool's ``provisioningState`` Succeeded and
  ``powerState.code`` Running.
- ``nodes-ready``: ARM reports agent pools, not nodes: the step's pool at ``currentOrchestratorVersion`` ==
  target, Succeeded and Running; a control-plane step: ``currentKubernetesVersion`` == target, Succeeded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fleet.provider import CheckOutcome, CheckResult, Component, Step
from fleet.versions import parse_version
from providers.checks_base import outcome

BLOCK_MINIMUM = (1, 26)       # "The Kubernetes version you're upgrading to is 1.26 or later."
BLOCK_SUBCODE = "UpgradeBlockedOnDeprecatedAPIUsage"


def _text(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def _power(obj: Any) -> str | None:
    return _text(getattr(getattr(obj, "power_state", None), "code", None))


def blockers(step: Step, current: str, override: Any) -> CheckOutcome:
    """``current``: the control plane's version now; ``override``: the cluster's overrideSettings, if any."""
    applies = (step.component is Component.CONTROL_PLANE
               and parse_version(step.to).minor_key > parse_version(current).minor_key
               and parse_version(step.to).minor_key >= BLOCK_MINIMUM)
    evidence: dict[str, Any] = {"preflight": False, "enforcedAt": "managedClusters PUT", "blockApplies": applies,
                                "overrideSettings": None if override is None else {
                                    "forceUpgrade": getattr(override, "force_upgrade", None),
                                    "until": str(getattr(override, "until", None) or "") or None}}
    if not applies:
        return CheckOutcome(CheckResult.PASS, "AKS's deprecated-API upgrade block applies only to a control-plane "
                            "minor upgrade to 1.26 or later", evidence)
    return CheckOutcome(CheckResult.PASS, "AKS offers no read of deprecated-API usage before an upgrade: the "
                        f"block ({BLOCK_SUBCODE}) is enforced when the upgrade is sent, and fails the step naming "
                        "the override", evidence)


def cluster_health(mc: Any, pools: list[Any]) -> CheckOutcome:
    p = mc.properties
    failures: list[str] = []
    state, power = _text(p.provisioning_state), _power(p)
    if state != "Succeeded":
        failures.append(f"cluster provisioningState {state}")
    if power not in (None, "Running"):
        failures.append(f"cluster powerState {power}")
    seen: dict[str, Any] = {}
    for ap in pools:
        ps, pw = _text(ap.properties.provisioning_state), _power(ap.properties)
        if ps != "Succeeded":
            failures.append(f"agent pool {ap.name} provisioningState {ps}")
        if pw not in (None, "Running"):
            failures.append(f"agent pool {ap.name} powerState {pw}")
        seen[str(ap.name)] = {"provisioningState": ps, "powerState": pw,
                              "currentOrchestratorVersion": ap.properties.current_orchestrator_version}
    evidence = {"cluster": {"provisioningState": state, "powerState": power}, "agentPools": seen}
    return outcome(failures, f"cluster and {len(seen)} agent pool(s) Succeeded and Running", evidence)


def pool_ready(ap: Any, target: str, same: Callable[[str | None, str], bool]) -> CheckOutcome:
    p = ap.properties
    state, power, current = _text(p.provisioning_state), _power(p), p.current_orchestrator_version
    failures: list[str] = []
    if not same(current, target):
        failures.append(f"agent pool {ap.name} at {current}, not {target}")
    if state != "Succeeded":
        failures.append(f"agent pool {ap.name} provisioningState {state}")
    if power not in (None, "Running"):
        failures.append(f"agent pool {ap.name} powerState {power}")
    evidence = {"agentPool": ap.name, "currentOrchestratorVersion": current, "provisioningState": state,
                "powerState": power, "note": "ARM reports agent pools, not per-node Ready"}
    return outcome(failures, f"agent pool {ap.name} Succeeded at {target}", evidence)


def control_plane_ready(mc: Any, target: str, same: Callable[[str | None, str], bool]) -> CheckOutcome:
    p = mc.properties
    state, current = _text(p.provisioning_state), p.current_kubernetes_version
    failures: list[str] = []
    if not same(current, target):
        failures.append(f"control plane at {current}, not {target}")
    if state != "Succeeded":
        failures.append(f"cluster provisioningState {state}")
    evidence = {"currentKubernetesVersion": current, "provisioningState": state}
    return outcome(failures, f"control plane Succeeded at {target}", evidence)
