"""Maintenance windows: openings across time zones and DST, merging, exclusions, always-open schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.planning.windows import Interval, Schedule
from fleet.policy.models import Maintenance


def sched(spec: dict[str, Any]) -> Schedule:
    return Schedule.from_maintenance(Maintenance.model_validate(spec))


def u(text: str) -> datetime:
    """'2026-01-10T02:00' (optionally with seconds) as aware UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def win(days: list[str] | None = None, start: str = "02:00", duration: str = "4h",
        rrule: str | None = None) -> dict[str, Any]:
    w: dict[str, Any] = {"start": start, "duration": duration}
    if rrule is not None:
        w["rrule"] = rrule
    else:
        w["days"] = days
    return w


# 2026-01-05 is a Monday. 2026 DST: Berlin 03-29 / 10-25, New York 03-08 / 11-01.
SAT_UTC = {"windows": [win(["Sat"])]}                                     # Sat 02:00-06:00 UTC
FRI_NIGHT = {"windows": [win(["Fri"], "22:00", "4h")]}                     # Fri 22:00 - Sat 02:00 UTC
BERLIN_SAT = {"timezone": "Europe/Berlin", "windows": [win(["Sat"])]}
NY_TUE = {"timezone": "America/New_York", "windows": [win(["Tuesday"], "09:00", "8h")]}
BERLIN_GAP = {"timezone": "Europe/Berlin", "windows": [win(["Sun"], "02:30", "4h")]}
NY_GAP = {"timezone": "America/New_York", "windows": [win(["Sun"], "02:30", "2h")]}
BERLIN_FOLD = {"timezone": "Europe/Berlin", "windows": [win(["Sun"], "02:30", "1h")]}
NY_FOLD = {"timezone": "America/New_York", "windows": [win(["Sun"], "01:30", "1h")]}
FIRST_SAT = {"windows": [win(rrule="FREQ=MONTHLY;BYDAY=1SA")]}             # 2026: Jan 3, Feb 7, Mar 7
BIWEEKLY_TUE = {"windows": [win(rrule="RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",  # 2026: Jan 13, Jan 27
                                start="10:00", duration="2h")]}
SAT_DAY = {"windows": [win(["Sat"], "00:00", "8h")]}
CUT = {**SAT_DAY, "exclusions": [{"name": "deploy", "start": "2026-01-10T02:00:00Z",
                                  "end": "2026-01-10T04:00:00Z"}]}
CUT_MINOR = {**SAT_DAY, "exclusions": [{"start": "2026-01-10T02:00:00Z", "end": "2026-01-10T04:00:00Z",
                                        "scope": "no-minor-upgrades"}]}
BERLIN_NAIVE_EXCL = {"timezone": "Europe/Berlin", "windows": [win(["Sat"], "00:00", "8h")],
                     "exclusions": [{"start": "2026-01-10T02:00:00", "end": "2026-01-10T03:00:00"}]}
WHOLE_SAT = {**SAT_UTC, "exclusions": [{"start": "2026-01-10T00:00:00Z", "end": "2026-01-11T00:00:00Z"}]}
FROZEN = {**SAT_UTC, "exclusions": [{"start": "2026-01-01T00:00:00Z", "end": "2028-01-01T00:00:00Z"}]}
OVERLAP = {"windows": [win(["Sat"], "02:00", "4h"), win(["Sat"], "04:00", "4h")]}
TOUCH = {"windows": [win(["Sat"], "02:00", "2h"), win(["Sat"], "04:00", "2h")]}
ALWAYS: dict[str, Any] = {}
ALWAYS_EXCL = {"exclusions": [{"start": "2026-01-10T00:00:00Z", "end": "2026-01-12T00:00:00Z"},
                              {"start": "2026-02-01T00:00:00Z", "end": "2026-02-02T00:00:00Z",
                               "scope": "no-minor-upgrades"}]}
ALWAYS_TOUCHING = {"exclusions": [{"start": "2026-01-10T00:00:00Z", "end": "2026-01-10T01:00:00Z"},
                                  {"start": "2026-01-10T01:00:00Z", "end": "2026-01-10T02:00:00Z",
                                   "scope": "no-minor-upgrades"}]}
# windows chained (overlapping) for longer than the look-back of one window: Sun 00:00 .. Sat 01:00
CHAIN_WEEK = {"windows": [win(["Sun", "Mon", "Tue", "Wed", "Thu", "Fri"], "00:00", "25h")]}
CHAIN_RRULE = {"windows": [win(rrule="FREQ=DAILY;COUNT=10", start="00:00", duration="25h")]}  # 2024-01-01..
ALWAYS_FROZEN = {"exclusions": [{"start": "2025-01-01T00:00:00Z", "end": "2028-01-01T00:00:00Z"}]}


@pytest.mark.parametrize(("spec", "now", "minor", "expected"), [
    # UTC, fenceposts: open exactly at the start, closed exactly at the end
    (SAT_UTC, "2026-01-10T02:00", False, True),
    (SAT_UTC, "2026-01-10T01:59:59", False, False),
    (SAT_UTC, "2026-01-10T05:59:59", True, True),
    (SAT_UTC, "2026-01-10T06:00", False, False),
    (SAT_UTC, "2026-01-11T03:00", False, False),
    # crossing midnight: Fri 22:00 + 4h is open early Saturday
    (FRI_NIGHT, "2026-01-09T22:00", False, True),
    (FRI_NIGHT, "2026-01-10T00:00", False, True),
    (FRI_NIGHT, "2026-01-10T01:00", False, True),
    (FRI_NIGHT, "2026-01-10T02:00", False, False),
    (FRI_NIGHT, "2026-01-09T21:59", False, False),
    (FRI_NIGHT, "2026-01-08T23:00", False, False),
    # Europe/Berlin: 02:00 CET = 01:00 UTC in winter, 02:00 CEST = 00:00 UTC in summer
    (BERLIN_SAT, "2026-01-10T01:00", False, True),
    (BERLIN_SAT, "2026-01-10T00:59", False, False),
    (BERLIN_SAT, "2026-01-10T05:00", False, False),
    (BERLIN_SAT, "2026-07-11T00:00", False, True),
    (BERLIN_SAT, "2026-07-11T04:00", False, False),
    # America/New_York: 09:00 EST = 14:00 UTC, 09:00 EDT = 13:00 UTC
    (NY_TUE, "2026-01-06T14:00", False, True),
    (NY_TUE, "2026-01-06T13:59", False, False),
    (NY_TUE, "2026-01-06T22:00", False, False),
    (NY_TUE, "2026-07-07T13:00", False, True),
    (NY_TUE, "2026-07-07T21:00", False, False),
    # spring forward: 02:30 does not exist, the window opens at the transition instant
    (BERLIN_GAP, "2026-03-29T00:59:59", False, False),
    (BERLIN_GAP, "2026-03-29T01:00", False, True),
    (BERLIN_GAP, "2026-03-29T04:59", False, True),
    (BERLIN_GAP, "2026-03-29T05:00", False, False),
    (NY_GAP, "2026-03-08T06:59", False, False),
    (NY_GAP, "2026-03-08T07:00", False, True),
    (NY_GAP, "2026-03-08T09:00", False, False),
    # fall back: an ambiguous start opens at its first occurrence
    (BERLIN_FOLD, "2026-10-25T00:29", False, False),
    (BERLIN_FOLD, "2026-10-25T00:30", False, True),
    (BERLIN_FOLD, "2026-10-25T01:30", False, False),  # 02:30 CET, the second occurrence
    (NY_FOLD, "2026-11-01T05:30", False, True),
    (NY_FOLD, "2026-11-01T06:30", False, False),       # 01:30 EST, the second occurrence
    # RRULE
    (FIRST_SAT, "2026-01-03T03:00", False, True),
    (FIRST_SAT, "2026-01-10T03:00", False, False),
    (FIRST_SAT, "2026-02-07T02:00", False, True),
    (BIWEEKLY_TUE, "2026-01-13T10:00", False, True),
    (BIWEEKLY_TUE, "2026-01-06T10:00", False, False),
    (BIWEEKLY_TUE, "2026-01-20T11:00", False, False),
    (BIWEEKLY_TUE, "2026-01-27T11:59", False, True),
    # exclusions: half-open, both scopes
    (CUT, "2026-01-10T01:59", True, True),
    (CUT, "2026-01-10T02:00", False, False),
    (CUT, "2026-01-10T03:59", False, False),
    (CUT, "2026-01-10T04:00", True, True),
    (CUT_MINOR, "2026-01-10T03:00", False, True),
    (CUT_MINOR, "2026-01-10T03:00", True, False),
    (CUT_MINOR, "2026-01-10T04:00", True, True),
    (BERLIN_NAIVE_EXCL, "2026-01-10T00:59", False, True),   # naive exclusion is Berlin time: 01:00-02:00 UTC
    (BERLIN_NAIVE_EXCL, "2026-01-10T01:00", False, False),
    (BERLIN_NAIVE_EXCL, "2026-01-10T02:00", False, True),
    # always open
    (ALWAYS, "2026-01-07T13:37", True, True),
    (ALWAYS_EXCL, "2026-01-09T23:59", False, True),
    (ALWAYS_EXCL, "2026-01-10T00:00", False, False),
    (ALWAYS_EXCL, "2026-01-12T00:00", True, True),
    (ALWAYS_EXCL, "2026-02-01T12:00", False, True),
    (ALWAYS_EXCL, "2026-02-01T12:00", True, False),
])
def test_allows(spec: dict[str, Any], now: str, minor: bool, expected: bool) -> None:
    assert sched(spec).allows(u(now), minor) is expected


def iv(start: str, end: str | None) -> Interval:
    return Interval(u(start), u(end) if end else None)


NOW = "2026-01-05T00:00"


@pytest.mark.parametrize(("spec", "now", "minor", "expected"), [
    (SAT_UTC, NOW, False, iv("2026-01-10T02:00", "2026-01-10T06:00")),
    (SAT_UTC, "2026-01-10T03:00", False, iv("2026-01-10T02:00", "2026-01-10T06:00")),  # open now
    (SAT_UTC, "2026-01-10T06:00", False, iv("2026-01-17T02:00", "2026-01-17T06:00")),
    (FRI_NIGHT, "2026-01-10T01:00", False, iv("2026-01-09T22:00", "2026-01-10T02:00")),
    (BERLIN_SAT, "2026-07-06T00:00", False, iv("2026-07-11T00:00", "2026-07-11T04:00")),
    (NY_TUE, NOW, False, iv("2026-01-06T14:00", "2026-01-06T22:00")),
    (BERLIN_GAP, "2026-03-28T12:00", False, iv("2026-03-29T01:00", "2026-03-29T05:00")),
    (NY_GAP, "2026-03-02T00:00", False, iv("2026-03-08T07:00", "2026-03-08T09:00")),
    (BERLIN_FOLD, "2026-10-20T00:00", False, iv("2026-10-25T00:30", "2026-10-25T01:30")),
    (NY_FOLD, "2026-10-27T00:00", False, iv("2026-11-01T05:30", "2026-11-01T06:30")),
    (FIRST_SAT, "2026-01-04T00:00", False, iv("2026-02-07T02:00", "2026-02-07T06:00")),
    (BIWEEKLY_TUE, "2026-01-14T00:00", False, iv("2026-01-27T10:00", "2026-01-27T12:00")),
    # overlapping and touching windows merge
    (OVERLAP, NOW, False, iv("2026-01-10T02:00", "2026-01-10T08:00")),
    (TOUCH, "2026-01-10T04:30", False, iv("2026-01-10T02:00", "2026-01-10T06:00")),
    # an exclusion cuts the window in two
    (CUT, NOW, False, iv("2026-01-10T00:00", "2026-01-10T02:00")),
    (CUT, "2026-01-10T02:30", False, iv("2026-01-10T04:00", "2026-01-10T08:00")),
    (CUT_MINOR, "2026-01-10T02:30", False, iv("2026-01-10T00:00", "2026-01-10T08:00")),
    (CUT_MINOR, "2026-01-10T02:30", True, iv("2026-01-10T04:00", "2026-01-10T08:00")),
    # an exclusion covering the whole window skips to the next week
    (WHOLE_SAT, NOW, False, iv("2026-01-17T02:00", "2026-01-17T06:00")),
    # always open
    (ALWAYS, NOW, True, iv(NOW, None)),
    (ALWAYS_EXCL, NOW, False, iv(NOW, "2026-01-10T00:00")),
    (ALWAYS_EXCL, "2026-01-11T00:00", False, iv("2026-01-12T00:00", None)),
    (ALWAYS_EXCL, "2026-01-11T00:00", True, iv("2026-01-12T00:00", "2026-02-01T00:00")),
    (ALWAYS_TOUCHING, "2026-01-10T00:30", False, iv("2026-01-10T01:00", None)),
    (ALWAYS_TOUCHING, "2026-01-10T00:30", True, iv("2026-01-10T02:00", None)),   # touching ones merge
    (CHAIN_WEEK, "2026-01-09T12:00", False, iv("2026-01-04T00:00", "2026-01-10T01:00")),
    (CHAIN_WEEK, "2026-01-10T01:00", False, iv("2026-01-11T00:00", "2026-01-17T01:00")),
    # nothing within the horizon
    (FROZEN, NOW, False, None),
    (ALWAYS_FROZEN, NOW, True, None),
])
def test_next_allowed(spec: dict[str, Any], now: str, minor: bool, expected: Interval | None) -> None:
    assert sched(spec).next_allowed(u(now), minor) == expected


@pytest.mark.parametrize(("spec", "now", "horizon", "expected"), [
    (SAT_UTC, NOW, timedelta(days=5), None),                                         # opens Sat 02:00
    (SAT_UTC, NOW, timedelta(days=5, hours=2), None),                                # end exclusive
    (SAT_UTC, NOW, timedelta(days=5, hours=3), iv("2026-01-10T02:00", "2026-01-10T06:00")),
    (FROZEN, NOW, timedelta(days=800), iv("2028-01-01T02:00", "2028-01-01T06:00")),  # a Saturday
    (ALWAYS_EXCL, "2026-01-10T00:00", timedelta(days=1), None),
    (CUT, "2026-01-10T02:30", timedelta(hours=1), None),          # window open, but excluded to the horizon
    (CUT, "2026-01-10T02:30", timedelta(hours=2), iv("2026-01-10T04:00", "2026-01-10T08:00")),
])
def test_next_allowed_horizon(spec: dict[str, Any], now: str, horizon: timedelta,
                              expected: Interval | None) -> None:
    assert sched(spec).next_allowed(u(now), False, horizon) == expected


@pytest.mark.parametrize(("spec", "now", "expected"), [
    (SAT_UTC, "2026-01-10T02:00", iv("2026-01-10T02:00", "2026-01-10T06:00")),
    (SAT_UTC, "2026-01-10T06:00", None),
    (FRI_NIGHT, "2026-01-10T00:30", iv("2026-01-09T22:00", "2026-01-10T02:00")),
    (OVERLAP, "2026-01-10T07:00", iv("2026-01-10T02:00", "2026-01-10T08:00")),
    (CUT, "2026-01-10T03:00", iv("2026-01-10T00:00", "2026-01-10T08:00")),  # exclusions are ignored
    (BERLIN_GAP, "2026-03-29T01:00", iv("2026-03-29T01:00", "2026-03-29T05:00")),
    (ALWAYS, "2026-01-07T13:37", iv("2026-01-07T13:37", None)),
    (CHAIN_WEEK, "2026-01-09T12:00", iv("2026-01-04T00:00", "2026-01-10T01:00")),  # found 5 days back
    (CHAIN_RRULE, "2024-01-09T12:00", iv("2024-01-01T00:00", "2024-01-11T01:00")),
    (CHAIN_RRULE, "2024-01-11T01:00", None),
])
def test_window_at(spec: dict[str, Any], now: str, expected: Interval | None) -> None:
    assert sched(spec).window_at(u(now)) == expected


@pytest.mark.parametrize(("spec", "start", "end", "expected"), [
    ({"windows": [win(["Mon", "Thu"], "01:00", "2h")]}, "2026-01-05T00:00", "2026-01-19T00:00",
     ["2026-01-05T01:00", "2026-01-08T01:00", "2026-01-12T01:00", "2026-01-15T01:00"]),
    ({"windows": [win(["Mon", "Thu"], "01:00", "2h")]}, "2026-01-05T01:00", "2026-01-12T01:00",
     ["2026-01-05T01:00", "2026-01-08T01:00"]),                                    # [start, end)
    (SAT_UTC, "2026-01-10T03:00", "2026-01-17T02:00", []),                         # open at start: no opening
    (OVERLAP, "2026-01-05T00:00", "2026-01-12T00:00", ["2026-01-10T02:00"]),       # merged: one opening
    (BERLIN_SAT, "2026-03-21T00:00", "2026-04-05T00:00", ["2026-03-21T01:00", "2026-03-28T01:00",
                                                          "2026-04-04T00:00"]),
    (BERLIN_GAP, "2026-03-28T00:00", "2026-03-30T00:00", ["2026-03-29T01:00"]),
    (FIRST_SAT, "2026-01-01T00:00", "2026-04-01T00:00", ["2026-01-03T02:00", "2026-02-07T02:00",
                                                         "2026-03-07T02:00"]),
    (WHOLE_SAT, "2026-01-05T00:00", "2026-01-12T00:00", ["2026-01-10T02:00"]),    # exclusions ignored
    (ALWAYS_EXCL, "2026-01-05T00:00", "2026-03-01T00:00", []),
])
def test_openings(spec: dict[str, Any], start: str, end: str, expected: list[str]) -> None:
    assert sched(spec).openings(u(start), u(end)) == [u(x) for x in expected]


def test_always_open_flag_and_results_are_utc() -> None:
    assert sched(ALWAYS).always_open and not sched(SAT_UTC).always_open
    nxt = sched(BERLIN_SAT).next_allowed(datetime(2026, 1, 5, 9, tzinfo=UTC).astimezone(), False)
    assert nxt is not None and nxt.start.utcoffset() == timedelta(0) and nxt.start.tzinfo is UTC


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sched(SAT_UTC).allows(datetime(2026, 1, 10, 3), False)


def test_interval_contains() -> None:
    i = iv("2026-01-10T02:00", "2026-01-10T06:00")
    assert i.contains(u("2026-01-10T02:00")) and not i.contains(u("2026-01-10T06:00"))
    assert iv("2026-01-10T02:00", None).contains(u("2099-01-01T00:00"))


LEAP_DAY = {"windows": [win(rrule="FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29")]}  # next one is beyond 400 days


@pytest.mark.parametrize("spec", [FROZEN, ALWAYS_FROZEN, LEAP_DAY])
def test_next_allowed_finds_nothing_within_400_days(spec: dict[str, Any]) -> None:
    # speed is measured in bench/plan.py, not here; this checks the long search answers None
    s = sched(spec)
    assert s.next_allowed(u(NOW), True) is None
    assert s.next_allowed(u("2026-01-05T07:00"), True) is None


PROPERTY_SPECS = [SAT_UTC, FRI_NIGHT, BERLIN_GAP, NY_FOLD, FIRST_SAT, BIWEEKLY_TUE, CUT, CUT_MINOR, WHOLE_SAT,
                  OVERLAP, TOUCH, ALWAYS_EXCL, ALWAYS_TOUCHING, CHAIN_WEEK,
                  {"timezone": "Europe/Berlin", "windows": [win(["Mon", "Wed", "Fri"], "23:30", "3h"),
                                                            win(["Sun"], "02:30", "26h")],
                   "exclusions": [{"start": "2026-03-25T00:00:00", "end": "2026-04-02T00:00:00",
                                   "scope": "no-minor-upgrades"}]}]
SCHEDULES = [sched(s) for s in PROPERTY_SPECS]


@settings(max_examples=300, deadline=None)
@given(which=st.integers(0, len(SCHEDULES) - 1),
       now=st.datetimes(datetime(2025, 12, 1), datetime(2026, 12, 31), timezones=st.just(UTC)),
       minor=st.booleans(), frac=st.floats(0.0, 1.0, exclude_min=True, exclude_max=True))
def test_next_allowed_agrees_with_allows(which: int, now: datetime, minor: bool, frac: float) -> None:
    s = SCHEDULES[which]
    i = s.next_allowed(now, minor)
    assert i is not None
    assert s.allows(max(i.start, now), minor)
    assert s.allows(now, minor) is (i.start <= now)
    if i.start > now:
        between = now + (i.start - now) * frac
        if now < between < i.start:
            assert not s.allows(between, minor)
    if i.end is not None:
        assert s.allows(i.end - timedelta(microseconds=1), minor)
        assert not s.allows(i.end, minor)
