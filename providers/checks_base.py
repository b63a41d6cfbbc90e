"""What every adapter's safety-gate checks share (fleet.provider: BuiltinCheck, CheckOutcome; docs/gates-providers.md).

``guarded`` runs one check so that a cloud error, a timeout or an unreachable endpoint becomes a CheckOutcome
with result ERROR (never an exception, never a pass); ``force_active`` says whether an operator override of the
``upgrade-blockers`` gate (``Step.force_until``) is in force at ``now``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from fleet.errors import ProviderError, TemporaryProviderError
from fleet.provider import BuiltinCheck, CheckOutcome, CheckResult, Cluster, Step
from fleet.versions import InvalidVersion


def unsupported(check: str, provider: str) -> CheckOutcome:
    return CheckOutcome(CheckResult.ERROR, f"check {check!r} is not supported by provider {provider}",
                        {"unsupported": True})


def guarded(check: str, provider: str, supported: frozenset[str], fn: Callable[[], CheckOutcome]) -> CheckOutcome:
    """``fn()`` for a supported check; fleet's typed provider errors (the adapters translate SDK errors at
    their boundary) become ERROR outcomes naming the code and whether retrying may help."""
    if check not in supported:
        return unsupported(check, provider)
    try:
        return fn()
    except ProviderError as exc:
        evidence: dict[str, Any] = {"code": exc.code or type(exc).__name__,
                                    "temporary": isinstance(exc, TemporaryProviderError)}
        return CheckOutcome(CheckResult.ERROR, f"{check}: {exc}", evidence)
    except InvalidVersion as exc:
        return CheckOutcome(CheckResult.ERROR, f"{check}: {exc}", {"code": "InvalidVersion", "temporary": False})


def parse_instant(value: str | None) -> datetime | None:
    """An ISO-8601 instant (``Z`` accepted), UTC when it names no offset; None when absent or unreadable."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def force_active(step: Step, now: datetime) -> bool:
    """True while an operator override of the upgrade-blockers gate is active for this step."""
    until = parse_instant(step.force_until)
    return until is not None and until > (now if now.tzinfo else now.replace(tzinfo=UTC))


def outcome(failures: list[str], ok: str, evidence: Mapping[str, Any]) -> CheckOutcome:
    """PASS with ``ok`` when nothing failed, else FAIL naming every failure."""
    if failures:
        return CheckOutcome(CheckResult.FAIL, "; ".join(failures), dict(evidence))
    return CheckOutcome(CheckResult.PASS, ok, dict(evidence))


def max_age_seconds(params: Mapping[str, Any]) -> int | None:
    raw = params.get("maxAgeSeconds")
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0 else None


ALL_CHECKS = frozenset(c.value for c in BuiltinCheck)


class BuiltinChecks:
    """``supported_checks`` and ``run_check`` of the provider contract for an adapter that declares
    ``SUPPORTED_CHECKS`` and returns its runners from ``check_runners``: every check runs ``guarded``."""

    SUPPORTED_CHECKS: ClassVar[frozenset[BuiltinCheck]] = frozenset()
    name: str

    def supported_checks(self, cluster: Cluster) -> frozenset[str]:
        return frozenset(str(c) for c in self.SUPPORTED_CHECKS)

    def check_runners(self, cluster: Cluster, step: Step, params: Mapping[str, Any],
                      now: datetime) -> Mapping[str, Callable[[], CheckOutcome]]:
        raise NotImplementedError

    def run_check(self, cluster: Cluster, check: str, step: Step, params: Mapping[str, Any],
                  now: datetime) -> CheckOutcome:
        runners = self.check_runners(cluster, step, params, now)
        return guarded(str(check), self.name, self.supported_checks(cluster), lambda: runners[str(check)]())
