"""Which clusters their pre-flight gates block now, from the latest evaluations in the store. Pure."""

from __future__ import annotations

from collections.abc import Mapping

from fleet.state.gates import GateEvaluation

PASSING = ("pass", "overridden")


def blocked_clusters(latest: Mapping[tuple[str, str], GateEvaluation]) -> dict[str, str]:
    """Cluster id -> why it is blocked: its latest round of pre-flight evaluations (those at the newest
    instant) has a gate that did not pass."""
    rounds: dict[str, list[GateEvaluation]] = {}
    for (cid, _gate), e in latest.items():
        if e.phase != "preflight":
            continue
        have = rounds.get(cid)
        if have is None or e.at > have[0].at:
            rounds[cid] = [e]
        elif e.at == have[0].at:
            have.append(e)
    out = {}
    for cid, evals in rounds.items():
        bad = sorted((e for e in evals if e.result not in PASSING), key=lambda e: e.gate)
        if bad:
            out[cid] = "; ".join(f"gate {e.gate} {e.result}: {e.reason}" for e in bad)
    return out
