"""The one boundary where the simulated cloud's errors become fleet errors.

    SimApiError (providers/sim/world.py, an HTTP status)
      403                  -> PermanentProviderError   (mark failed, stop)
      429                  -> ThrottledError           (the simulated request quota: retry after retry_after)
      anything else        -> TemporaryProviderError   (retry later, with the world's retry_after)
    FleetError             -> unchanged
"""

from __future__ import annotations

from fleet.errors import PermanentProviderError, ProviderError, TemporaryProviderError, ThrottledError
from providers.sim.world import SimApiError


def translate(exc: BaseException, *, provider: str, operation: str = "") -> ProviderError | None:
    """The fleet error for ``exc`` raised by the simulated cloud while doing ``operation``; None when ``exc``
    is not the simulated cloud's."""
    if isinstance(exc, ProviderError):
        return exc
    if not isinstance(exc, SimApiError):
        return None
    if exc.status == 403:
        return PermanentProviderError(str(exc), provider=provider, code=str(exc.status))
    kind = ThrottledError if exc.status == 429 else TemporaryProviderError
    return kind(str(exc), provider=provider, code=str(exc.status), retry_after=exc.retry_after)
