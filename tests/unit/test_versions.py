import pytest

from fleet.versions import InvalidVersion, Version, max_kubelet_skew, parse_version


@pytest.mark.parametrize("text,key,display", [
    ("v1.29.4", (1, 29, 4, ()), "v1.29.4"),
    ("1.29.4-gke.1043002", (1, 29, 4, (1043002,)), "1.29.4-gke.1043002"),
    ("1.29", (1, 29, -1, ()), "1.29"),
    ("1.29.0-20240202", (1, 29, 0, (20240202,)), "1.29.0-20240202"),
    ("v1.24.9-eks-49d8fe8", (1, 24, 9, ()), "v1.24.9-eks-49d8fe8"),
    (" 1.30.1 ", (1, 30, 1, ()), "1.30.1"),
])
def test_parse(text, key, display):
    v = parse_version(text)
    assert v.key == key
    assert str(v) == display


@pytest.mark.parametrize("bad", ["", "latest", "1", "1.x", "v", "1.29.a", "abc.def"])
def test_parse_rejects(bad):
    with pytest.raises(InvalidVersion):
        parse_version(bad)


@pytest.mark.parametrize("lo,hi", [
    ("1.29.4", "1.29.10"),
    ("1.29.10", "1.30.0"),
    ("1.29.4-gke.100", "1.29.4-gke.1043002"),
    ("1.29.0-20240202", "1.29.0-20240301"),
    ("1.29", "1.29.0"),
    ("v1.9.9", "v1.10.0"),
])
def test_order_by_numbers(lo, hi):
    assert parse_version(lo) < parse_version(hi)
    assert sorted([parse_version(hi), parse_version(lo)]) == [parse_version(lo), parse_version(hi)]


def test_spelling_does_not_change_equality():
    assert parse_version("v1.29.4") == parse_version("1.29.4")
    assert len({parse_version("v1.29.4"), parse_version("1.29.4")}) == 1


@pytest.mark.parametrize("node,cp,ok", [
    ("1.29.4", "1.29.4", True),
    ("1.29.5", "1.29.4", False),
    ("1.28.9", "1.29.0", True),
    ("1.30.0", "1.29.9", False),
    ("1.29.15-20250610", "1.29", True),   # EKS: control plane without a patch admits any patch of its minor
    ("1.30.1-20250610", "1.29", False),
])
def test_not_newer_than(node, cp, ok):
    assert parse_version(node).not_newer_than(parse_version(cp)) is ok


@pytest.mark.parametrize("cp,limit", [("1.27.9", 2), ("1.28.0", 3), ("1.31", 3)])
def test_skew(cp, limit):
    assert max_kubelet_skew(parse_version(cp)) == limit


def test_minors_from():
    assert parse_version("1.31.0").minors_from(parse_version("1.28.5")) == 3
    assert isinstance(parse_version("1.1"), Version)
