"""One contract suite, run against every provider through its emulator (see harness.py)."""

from __future__ import annotations

import pytest

from fleet.errors import PermanentProviderError, ProviderError, TemporaryProviderError, ThrottledError
from fleet.provider import Component, OperationState, Provider, Step
from fleet.versions import parse_version
from tests.providers.harness import HARNESS_TYPES, make_harness


@pytest.fixture(params=HARNESS_TYPES)
def h(request):
    harness = make_harness(request.param)
    harness.start()
    yield harness
    harness.stop()


def _find(p: Provider, cid: str):
    for c in p.discover():
        if c.id == cid:
            return c
    raise AssertionError(f"{cid} not discovered")


def _run_to_completion(h, p: Provider, cluster, op, limit: int = 50):
    for _ in range(limit):
        st = p.poll(cluster, op)
        if st.state is not OperationState.RUNNING:
            return st
        h.finish_operations()
    raise AssertionError("operation never finished")


def _cp_step(cluster, to: str) -> Step:
    return Step(Component.CONTROL_PLANE, to=to, from_=cluster.control_plane)


def _pool_step(cluster, pool: str, to: str) -> Step:
    return Step(Component.NODE_POOL, to=to, from_=cluster.pool(pool).version, pool=pool, max_surge=1,
                max_unavailable=0)


def test_satisfies_protocol(h):
    assert isinstance(h.provider(), Provider)


def test_discover_reports_versions_and_pools(h):
    cur, _, _ = h.versions()
    cid = h.seed("alpha", cur, {"poola": cur, "poolb": cur}, list(h.versions()))
    c = _find(h.provider(), cid)
    assert parse_version(c.control_plane) == parse_version(cur)
    assert {p.name for p in c.node_pools} >= {"poola", "poolb"}
    assert c.provider_type == h.type


def test_offers_lists_newer_versions(h):
    cur, nxt, minor = h.versions()
    cid = h.seed("offers", cur, {"poola": cur}, [cur, nxt, minor])
    p = h.provider()
    offers = p.offers(_find(p, cid))
    got = {parse_version(v).minor_key for v in offers.control_plane}
    assert parse_version(minor).minor_key in got


def test_control_plane_then_pool_step(h):
    cur, _, minor = h.versions()
    cid = h.seed("steps", cur, {"poola": cur}, list(h.versions()))
    p = h.provider()
    c = _find(p, cid)
    op = p.start(c, _cp_step(c, minor))
    assert op.id
    assert p.poll(c, op).state in (OperationState.RUNNING, OperationState.SUCCEEDED)
    assert _run_to_completion(h, p, c, op).state is OperationState.SUCCEEDED
    c = _find(p, cid)
    assert parse_version(c.control_plane).minor_key == parse_version(minor).minor_key
    pool_to = p.offers(c).for_pool("poola")
    to = max((v for v in pool_to if parse_version(v).minor_key == parse_version(minor).minor_key), key=parse_version)
    op2 = p.start(c, _pool_step(c, "poola", to))
    assert _run_to_completion(h, p, c, op2).state is OperationState.SUCCEEDED
    c = _find(p, cid)
    assert parse_version(c.pool("poola").version).minor_key == parse_version(minor).minor_key
    assert h.upgrade_calls(cid) == 2


def test_start_is_idempotent_after_a_crash(h):
    """A crash between 'called the cloud' and 'recorded the operation': a new adapter instance calls start
    again for the same step; no second upgrade is issued and the returned operation completes."""
    cur, _, minor = h.versions()
    cid = h.seed("crash", cur, {"poola": cur}, list(h.versions()))
    c = _find(h.provider(), cid)
    h.provider().start(c, _cp_step(c, minor))           # the reference is lost with the crashed process
    p2 = h.provider()
    c2 = _find(p2, cid)
    op = p2.start(c2, _cp_step(c, minor))
    assert h.upgrade_calls(cid) == 1
    assert _run_to_completion(h, p2, c2, op).state is OperationState.SUCCEEDED
    # and once done, start again returns a finished operation without a new call
    c3 = _find(p2, cid)
    op3 = p2.start(c3, _cp_step(c, minor))
    assert p2.poll(c3, op3).state is OperationState.SUCCEEDED
    assert h.upgrade_calls(cid) == 1


@pytest.mark.parametrize("fault,error", [
    ("throttle", ThrottledError),                 # 429 + Retry-After
    ("server-error", TemporaryProviderError),     # 503 + Retry-After: temporary, but not a throttle
    ("forbidden", PermanentProviderError),
])
def test_errors_are_mapped(h, fault, error):
    cur, _, _ = h.versions()
    cid = h.seed("errs", cur, {"poola": cur}, list(h.versions()))
    p = h.provider()
    c = _find(p, cid)
    # a provider on the rate-limit kit (fleet.ratelimit) retries a throttle itself: the fault must outlast its
    # retries to reach the caller; any other error reaches the caller at once (one fault, not retried)
    limiter = getattr(p, "limiter", None)
    for _ in range(1 + (limiter.retries if limiter is not None and fault == "throttle" else 0)):
        h.inject(fault)
    with pytest.raises(error) as info:
        p.offers(c)
    assert isinstance(info.value, ProviderError)
    assert isinstance(info.value, ThrottledError) is (fault == "throttle")
    if fault == "throttle":
        assert info.value.retry_after is not None and info.value.retry_after > 0
    # the next call succeeds: the fault was one-shot
    assert p.offers(c).control_plane


def test_invalid_version_is_permanent(h):
    cur, _, _ = h.versions()
    cid = h.seed("badver", cur, {"poola": cur}, list(h.versions()))
    p = h.provider()
    c = _find(p, cid)
    with pytest.raises(PermanentProviderError):
        op = p.start(c, _cp_step(c, "1.99.0"))
        # some clouds accept the request and fail the operation; that also counts as final
        st = _run_to_completion(h, p, c, op)
        if st.state is OperationState.FAILED:
            raise PermanentProviderError(st.message)
    assert h.upgrade_calls(cid) <= 1


def test_failed_operation_reports_failed(h):
    cur, _, minor = h.versions()
    cid = h.seed("fails", cur, {"poola": cur}, list(h.versions()))
    p = h.provider()
    c = _find(p, cid)
    h.inject("fail-operation")
    op = p.start(c, _cp_step(c, minor))
    st = _run_to_completion(h, p, c, op)
    assert st.state is OperationState.FAILED
    assert st.message


def test_second_upgrade_while_one_runs_is_temporary(h):
    cur, nxt, minor = h.versions()
    cid = h.seed("busy", cur, {"poola": cur}, list(h.versions()))
    p = h.provider()
    c = _find(p, cid)
    p.start(c, _cp_step(c, minor))
    with pytest.raises(TemporaryProviderError):
        p.start(c, _cp_step(c, nxt))  # a different upgrade while one runs: the cloud refuses, try later


# ---- safety gates (fleet.provider: BuiltinCheck, CheckOutcome; docs/gates-providers.md) -----------------------
GATE_PARAMS = {"maxAgeSeconds": 86400, "annotation": "backup.example.com/etcd-last-success"}


def _gate_methods(p):
    return [getattr(p, m, None) for m in ("supported_checks", "run_check")]


def test_declared_checks_return_outcomes(h):
    """Every check a provider declares returns a CheckOutcome with JSON-serialisable evidence; a name it does
    not declare is an ERROR outcome, never an exception or a pass."""
    import json

    from fleet.provider import BuiltinCheck, CheckOutcome, CheckResult, RollbackSupport

    cur, _, minor = h.versions()
    cid = h.seed("gates", cur, {"poola": cur}, list(h.versions()))
    p = h.provider()
    supported, run = _gate_methods(p)
    if supported is None:
        assert run is None, "run_check without supported_checks"
        return
    c = _find(p, cid)
    declared = supported(c)
    assert declared and declared <= {str(b) for b in BuiltinCheck}
    for check in sorted(declared):
        out = run(c, check, _cp_step(c, minor), GATE_PARAMS, h.clock.now())
        assert isinstance(out, CheckOutcome) and out.result in CheckResult, (check, out)
        json.dumps(dict(out.evidence))
    for check in sorted({str(b) for b in BuiltinCheck} - declared):
        assert run(c, check, _cp_step(c, minor), GATE_PARAMS, h.clock.now()).result is CheckResult.ERROR
    for step in (_cp_step(c, minor), _pool_step(c, "poola", minor)):
        support = type(p).rollback_support(c, step) if hasattr(type(p), "rollback_support") else None
        assert support is None or isinstance(support, RollbackSupport)


@pytest.mark.parametrize("fault", ["server-error", "forbidden"])
def test_cloud_errors_in_checks_are_error_outcomes(h, fault):
    from fleet.provider import CheckResult

    cur, _, minor = h.versions()
    cid = h.seed("gateerr", cur, {"poola": cur}, list(h.versions()))
    p = h.provider()
    supported, run = _gate_methods(p)
    if supported is None:
        return
    c = _find(p, cid)
    for check in sorted(supported(c)):
        h.inject(fault)
        out = run(c, check, _cp_step(c, minor), GATE_PARAMS, h.clock.now())
        assert out.result is CheckResult.ERROR, (check, out)
        assert out.reason
