"""Safety gates (docs/gates.md): the checks around every step that a policy's ``spec.gates`` names.

* ``fleet.gates.checks``: evaluate one gate (provider-backed through a callable the engine hands over, or
  Prometheus / webhook over HTTP) into a fleet.provider.CheckOutcome; never raises, never passes on an error;
* ``fleet.gates.http``: the Prometheus and webhook gates (httpx, with timeouts; errors become ERROR outcomes);
* ``fleet.gates.settle``: pure: has a post-step gate passed for its settle period, or failed at its timeout;
* ``fleet.gates.overrides``: operators' expiring overrides (create, list, revoke; the active one for a gate);
* ``fleet.gates.journal``: the one writer of gate evaluations.

Used by fleet.execution (the engine decides when gates run and what a result does); imports nothing of it.
Not to be confused with fleet.execution.gates, the wave/window dispatch rules.
"""
