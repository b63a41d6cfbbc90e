"""The simulated cloud's errors, mapped at the one boundary (providers/sim/errors.py)."""

from __future__ import annotations

import pytest

from fleet.errors import PermanentProviderError, TemporaryProviderError, ThrottledError
from providers.sim.errors import translate
from providers.sim.world import SimApiError


@pytest.mark.parametrize("status,retry_after,kind", [
    (403, None, PermanentProviderError),
    (429, 7.0, ThrottledError),           # the simulated request quota: the kit pauses and retries it
    (500, None, TemporaryProviderError),
    (503, 5.0, TemporaryProviderError),   # a 5xx with Retry-After: temporary, not a throttle
])
def test_statuses(status, retry_after, kind):
    err = translate(SimApiError(status, "boom", retry_after=retry_after), provider="sim", operation="start")
    assert type(err) is kind
    assert err.code == str(status) and err.provider == "sim"
    assert getattr(err, "retry_after", None) == retry_after


def test_fleet_errors_pass_and_foreign_ones_are_not_ours():
    already = TemporaryProviderError("x", provider="sim", code="1")
    assert translate(already, provider="sim") is already
    assert translate(KeyError("k"), provider="sim") is None
