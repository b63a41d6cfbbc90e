"""Maintenance windows and exclusions compiled into a queryable ``Schedule``.

Pure: nothing here reads the clock; every query takes ``now`` (aware; returned instants are aware UTC).

Semantics (decisions recorded here so callers can rely on them):

* A window opens on a *local date* of the policy's IANA ``timezone``: ``days`` name local weekdays; an
  ``rrule`` is expanded with ``dtstart = 2024-01-01 <start>`` (naive local), so it has no occurrences before
  2024-01-01 and ``INTERVAL`` counts from that anchor. Only the dates of occurrences are used.
* The opening instant is ``<date> <start>`` in the zone. A start inside a DST gap (spring forward) opens at
  the transition instant (Berlin 2026-03-29 02:30 -> 03:00 CEST = 01:00 UTC); an ambiguous start (fall
  back) opens at its first occurrence (``fold=0``).
* ``duration`` is absolute (elapsed) time counted from the *effective* opening: ``end = opening + duration``.
  A 4h window in the gap above is therefore open 01:00-05:00 UTC, and windows spanning a DST change last
  exactly ``duration``.
* Windows may cross midnight; windows that opened on earlier local dates (up to ``duration + 1 day`` back)
  are found. Overlapping or touching windows merge into one interval. A chain of merged windows longer than
  the scan (400 days, or the horizon) is cut at the scan edge.
* Every interval is half-open ``[start, end)``: open exactly at the start, closed exactly at the end.
* ``timezone: cluster``: a schedule is compiled per cluster zone (fleet.planning.zones): the same windows and
  naive exclusions, read in each cluster's local time.
* Exclusions: naive ``start``/``end`` are local times of the policy zone (same gap/fold rule as openings),
  aware ones are taken as given. ``no-upgrades`` blocks every step; ``no-minor-upgrades`` blocks only minor
  steps (``minor=True``). Touching or overlapping blocking exclusions merge.
* No windows means always open (``always_open``): only exclusions restrict it; ``window_at`` then returns
  ``Interval(now, None)`` and ``openings`` returns nothing.
* ``openings`` returns the starts of *merged* windows (instants where the schedule goes from closed to
  open), ignoring exclusions.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from fleet import budget
from fleet.policy.models import CLUSTER_TIMEZONE, WEEKDAYS, Maintenance, Window

__all__ = ["Interval", "Schedule"]

_DAY = timedelta(days=1)
_SCAN = timedelta(days=400)  # how far window_at follows a chain of merged windows either way
_RRULE_ANCHOR = date(2024, 1, 1)
_Span = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime
    end: datetime | None  # None = unbounded

    def contains(self, t: datetime) -> bool:
        return self.start <= t and (self.end is None or t < self.end)


def _as_utc(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {t.isoformat()}")
    return t.astimezone(UTC)


@lru_cache(maxsize=8192)
def _local_to_utc(naive: datetime, tz: ZoneInfo) -> datetime:
    """Local wall time -> UTC: ambiguous -> first occurrence; in a gap -> the transition instant."""
    after = naive.replace(tzinfo=tz).astimezone(UTC)  # fold=0: offset before any transition
    if after.astimezone(tz).replace(tzinfo=None) == naive:
        return after
    # In a gap: fold=1 reads the time with the offset after the transition, giving an instant before it.
    lo = int(naive.replace(tzinfo=tz, fold=1).timestamp())
    hi, off = int(after.timestamp()), after.astimezone(tz).utcoffset()
    while hi - lo > 1:  # first second carrying the new offset
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(tz).utcoffset() == off:
            hi = mid
        else:
            lo = mid
    after = datetime.fromtimestamp(hi, UTC)
    return after


class _Compiled:
    """One window: which local dates it opens on, at what local time, for how long."""

    __slots__ = ("_dates", "_iter", "_known", "_lock", "at", "back", "duration", "weekdays")

    def __init__(self, w: Window):
        hh, mm = (int(x) for x in w.start.split(":"))
        self.at = time(hh, mm)
        self.duration = w.duration
        self.back = w.duration.days + 1  # earlier local dates whose window may still be open
        self.weekdays: frozenset[int] | None = None
        if w.days is not None:
            self.weekdays = frozenset(WEEKDAYS.index(d) for d in w.days)
        else:
            rule = rrulestr(w.rrule or "", dtstart=datetime.combine(_RRULE_ANCHOR, self.at))
            self._iter = iter(rule)
            self._dates: set[date] = set()
            self._known = _RRULE_ANCHOR - _DAY  # every occurrence up to this date is in _dates
            self._lock = threading.Lock()

    def occurs(self, d: date) -> bool:
        if self.weekdays is not None:
            return d.weekday() in self.weekdays
        if d > self._known:
            with self._lock:  # extend the occurrence set lazily, once, in order
                while d > self._known:
                    nxt = next(self._iter, None)
                    if nxt is None:
                        self._known = date.max
                        break
                    self._dates.add(nxt.date())
                    self._known = nxt.date()
        return d in self._dates


def _merge(spans: list[_Span]) -> list[_Span]:
    out: list[_Span] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _subtract(s: datetime, e: datetime, starts: list[datetime], ends: list[datetime]) -> Iterator[_Span]:
    """``[s, e)`` minus the sorted, disjoint ``[starts[i], ends[i])``."""
    i = bisect_right(ends, s)
    cur = s
    while i < len(starts) and starts[i] < e:
        if starts[i] > cur:
            yield cur, starts[i]
        cur = max(cur, ends[i])
        if cur >= e:
            return
        i += 1
    yield cur, e


class Schedule:
    """A compiled ``Maintenance``: cheap to query many times."""

    def __init__(self, tz: ZoneInfo, windows: list[_Compiled], blocks: dict[bool, list[_Span]]):
        self.tz = tz
        self._windows = windows
        self.always_open = not windows
        self._max_duration = max((w.duration for w in windows), default=timedelta(0))
        self._lookback = max((w.back for w in windows), default=0) + 1
        self._starts = {k: [s for s, _ in v] for k, v in blocks.items()}
        self._ends = {k: [e for _, e in v] for k, v in blocks.items()}

    @classmethod
    def from_maintenance(cls, m: Maintenance, zone: str | None = None) -> Schedule:
        """Compile ``m`` in its zone, or in ``zone`` (a cluster's own, for ``timezone: cluster``; UTC when
        that is not given)."""
        tz = ZoneInfo(zone or (m.timezone if m.timezone != CLUSTER_TIMEZONE else "UTC"))

        def conv(t: datetime) -> datetime:
            return _local_to_utc(t, tz) if t.tzinfo is None else t.astimezone(UTC)

        spans = [(ex.scope, conv(ex.start), conv(ex.end)) for ex in m.exclusions]
        spans = [(scope, s, e) for scope, s, e in spans if e > s]
        blocks = {
            False: _merge([(s, e) for scope, s, e in spans if scope == "no-upgrades"]),
            True: _merge([(s, e) for _, s, e in spans]),
        }
        return cls(tz, [_Compiled(w) for w in m.windows], blocks)

    # ---- internals ---------------------------------------------------------------------------------

    def _midnight(self, d: date) -> datetime:
        return _local_to_utc(datetime.combine(d, time()), self.tz)

    def _raw(self, d: date) -> list[_Span]:
        out = []
        for w in self._windows:
            if w.occurs(d):
                o = _local_to_utc(datetime.combine(d, w.at), self.tz)
                out.append((o, o + w.duration))
        return out

    def _scan(self, first: date, limit: datetime) -> Iterator[_Span]:
        """Merged windows opening on local dates >= ``first``, up to those opening at ``limit``."""
        cur: _Span | None = None
        d = first
        while True:
            if d.day == 16:                     # once a month: cheap enough for the hottest loop
                budget.check("searching maintenance windows")
            bound = self._midnight(d)  # nothing opening on ``d`` or later opens before this
            if cur is not None and cur[1] < bound:
                yield cur
                cur = None
            if bound > limit:
                break
            for s, e in sorted(self._raw(d)):
                if cur is None:
                    cur = (s, e)
                elif s <= cur[1]:
                    cur = (cur[0], max(cur[1], e))
                else:
                    yield cur
                    cur = (s, e)
            d += _DAY
        if cur is not None:
            yield cur

    def _merged(self, t: datetime, limit: datetime) -> Iterator[_Span]:
        """Merged windows with end > ``t``, in order, up to the one opening at ``limit``."""
        back = self._lookback
        while True:
            first = t.astimezone(self.tz).date() - timedelta(days=back)
            floor = self._midnight(first) + self._max_duration
            gen = self._scan(first, limit)
            for s, e in gen:
                if e <= t:
                    continue
                if s <= floor and back < _SCAN.days:
                    break  # may be chained to windows before ``first``: look further back
                yield s, e
                yield from gen
                return
            else:
                return
            back = min(back * 4, _SCAN.days)

    def _blocked(self, t: datetime, minor: bool) -> bool:
        i = bisect_right(self._starts[minor], t) - 1
        return i >= 0 and t < self._ends[minor][i]

    # ---- queries -----------------------------------------------------------------------------------

    def window_at(self, now: datetime) -> Interval | None:
        """The (merged) window containing ``now``, ignoring exclusions."""
        now = _as_utc(now)
        if self.always_open:
            return Interval(now, None)
        for s, e in self._merged(now, now + _SCAN):
            return Interval(s, e) if s <= now else None
        return None

    def allows(self, now: datetime, minor: bool) -> bool:
        """Inside a window and not inside a blocking exclusion. O(windows), no lists generated."""
        now = _as_utc(now)
        if self._blocked(now, minor):
            return False
        if self.always_open:
            return True
        today = now.astimezone(self.tz).date()
        for w in self._windows:
            for k in range(w.back + 1):
                d = today - timedelta(days=k)
                if w.occurs(d):
                    o = _local_to_utc(datetime.combine(d, w.at), self.tz)
                    if o <= now < o + w.duration:
                        return True
        return False

    def next_allowed(self, now: datetime, minor: bool,
                     horizon: timedelta = timedelta(days=400)) -> Interval | None:
        """First allowed interval (windows minus blocking exclusions) ending after ``now``.

        Its start is before ``now`` when open now. None when nothing is allowed in ``[now, now + horizon)``.
        """
        now = _as_utc(now)
        limit = now + horizon
        starts, ends = self._starts[minor], self._ends[minor]
        if self.always_open:
            t = now
            i = bisect_right(starts, t) - 1
            if i >= 0 and t < ends[i]:
                t = ends[i]
            if t >= limit:
                return None
            j = bisect_right(starts, t)
            return Interval(t, starts[j] if j < len(starts) else None)
        for s, e in self._merged(now, limit):
            if s >= limit:
                return None
            for ps, pe in _subtract(s, e, starts, ends):
                if pe <= now:
                    continue
                return Interval(ps, pe) if ps < limit else None
        return None

    def openings(self, start: datetime, end: datetime) -> list[datetime]:
        """Instants in ``[start, end)`` where a (merged) window opens; exclusions are ignored."""
        start, end = _as_utc(start), _as_utc(end)
        if self.always_open or end <= start:
            return []
        return [s for s, _ in self._merged(start, end) if start <= s < end]
