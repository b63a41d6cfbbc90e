import pytest

from fleet.errors import PlanningError
from fleet.planning.paths import NoPath, check_path, minor_by_minor, patch_first_then_minor
from fleet.versions import parse_version as V

OFFERED = [V(x) for x in ["1.28.3", "1.28.9", "1.29.2", "1.29.8", "1.30.1", "1.30.4", "1.31.0"]]


@pytest.mark.parametrize("fn,current,target,expected", [
    (patch_first_then_minor, "1.28.3", "1.30.4", ["1.28.9", "1.29.8", "1.30.4"]),
    (patch_first_then_minor, "1.28.9", "1.30.4", ["1.29.8", "1.30.4"]),
    (patch_first_then_minor, "1.28.3", "1.28.9", ["1.28.9"]),
    (patch_first_then_minor, "1.28.3", "1.30.1", ["1.28.9", "1.29.8", "1.30.1"]),
    (patch_first_then_minor, "1.30.4", "1.30.4", []),
    (patch_first_then_minor, "1.31.0", "1.30.4", []),
    (minor_by_minor, "1.28.3", "1.30.4", ["1.29.8", "1.30.4"]),
    (minor_by_minor, "1.28.3", "1.28.9", ["1.28.9"]),
])
def test_paths(fn, current, target, expected):
    path = fn(V(current), V(target), OFFERED)
    assert [str(v) for v in path] == expected
    check_path(V(current), path, V(target))


def test_missing_minor_blocks():
    with pytest.raises(NoPath, match="1.29"):
        patch_first_then_minor(V("1.28.3"), V("1.30.4"), [V("1.28.9"), V("1.30.4")])


@pytest.mark.parametrize("path", [["1.30.4"], ["1.29.8", "1.29.2"], ["1.29.8"]])
def test_check_path_rejects_unsafe(path):
    with pytest.raises(PlanningError):
        check_path(V("1.28.3"), [V(p) for p in path], V("1.30.4"))
