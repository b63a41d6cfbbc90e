"""Evaluate one gate into a CheckOutcome. Never raises for a gate that cannot be evaluated and never passes
one: an unsupported type, a provider error or an HTTP failure is an ERROR outcome with its reason.

Provider-backed gates (upgrade-blockers, cluster-health, etcd-backup, nodes-ready) go through
:class:`ProviderChecks`, which the engine builds for one cluster and step (only the engine calls providers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fleet.errors import PermanentProviderError, ProviderError
from fleet.gates.http import evaluate_prometheus, evaluate_webhook
from fleet.policy.gates import Gate
from fleet.provider import BuiltinCheck, CheckOutcome, CheckResult


@dataclass(frozen=True, slots=True)
class ProviderChecks:
    """The built-in checks of one cluster's provider: which it evaluates, and the call that evaluates one
    (``run(check, params)``, bound by the engine to the provider, cluster, step and time)."""
    provider: str                                   # the provider type, for messages
    supported: frozenset[str]
    run: Callable[[BuiltinCheck, Mapping[str, Any]], CheckOutcome]


NO_PROVIDER_CHECKS = ProviderChecks("none", frozenset(), lambda _c, _p: CheckOutcome(CheckResult.ERROR))


def gate_params(gate: Gate) -> dict[str, Any]:
    """What a built-in check is given (fleet.provider.BuiltinCheck documents the keys)."""
    if gate.type == "etcd-backup" and gate.max_age is not None:
        return {"maxAgeSeconds": int(gate.max_age.total_seconds())}
    return {}


def _provider_gate(gate: Gate, checks: ProviderChecks) -> CheckOutcome:
    if gate.type not in checks.supported:
        return CheckOutcome(CheckResult.ERROR, f"provider {checks.provider} does not evaluate {gate.type}",
                            {"supported": sorted(checks.supported)})
    try:
        out = checks.run(BuiltinCheck(gate.type), gate_params(gate))
    except ProviderError as exc:
        kind = "permanent" if isinstance(exc, PermanentProviderError) else "temporary"
        return CheckOutcome(CheckResult.ERROR, f"provider {checks.provider}: {exc}",
                            {"error": kind, "code": getattr(exc, "code", "")})
    if not isinstance(out, CheckOutcome):
        return CheckOutcome(CheckResult.ERROR, f"provider {checks.provider} answered {type(out).__name__}, "
                                               "not a CheckOutcome")
    return out


def evaluate(gate: Gate, checks: ProviderChecks, context: Mapping[str, Any]) -> CheckOutcome:
    """One evaluation of ``gate``; ``context`` (cluster, step, phase) is the webhook's JSON body."""
    if gate.provider_check:
        return _provider_gate(gate, checks)
    timeout = gate.request_timeout.total_seconds()
    if gate.type == "prometheus":
        assert gate.url is not None and gate.query is not None, "the policy model requires them"
        return evaluate_prometheus(gate.url, gate.query, timeout)
    assert gate.url is not None, "the policy model requires it"
    return evaluate_webhook(gate.url, gate.method or "GET", timeout, gate.headers_file, context)
