import pytest

from fleet.planning.budgets import resolve_fenceposts


@pytest.mark.parametrize("surge,unavail,nodes,expected", [
    (1, 0, 3, (1, 0)),
    (0, 1, 3, (0, 1)),
    ("25%", 0, 10, (3, 0)),          # surge rounds up: 2.5 -> 3
    (0, "25%", 10, (0, 2)),          # unavailable rounds down: 2.5 -> 2
    ("10%", "10%", 5, (1, 0)),       # 0.5 -> 1 and 0.5 -> 0
    ("0%", "10%", 5, (0, 1)),        # both 0 after rounding -> unavailable 1
    ("0%", "0%", 0, (0, 1)),
    ("100%", "100%", 7, (7, 7)),
    (3, "50%", 0, (3, 0)),
    ("33%", "33%", 3, (1, 0)),       # 0.99 -> 1, 0.99 -> 0
])
def test_resolve_fenceposts(surge, unavail, nodes, expected):
    assert resolve_fenceposts(surge, unavail, nodes) == expected
