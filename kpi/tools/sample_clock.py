"""The sample's clock: a sample built "as of" a day lives in that day's school year.

A school year runs from September to August; its HK1 round opens on 1 September (deadline 10/01 of
the end year), its CN round the day after HK1's deadline (deadline 20/05). A sample built as of a
day holds the periods that have opened before it, and every moment it writes (a file received, an
entry saved, submitted or decided, an assessment, a lock, an audit row) lies before the start of
that day: what could have happened by then, nothing later.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np

from kpi.workflows.record import VN

OPEN_SPREAD_DAYS = 25.0  # in an open period most schools send close to the deadline, a few weeks early
_DAY = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$")


def parse_as_of(text: str, today: dt.date | None = None) -> dt.date:
    """'today' (the machine's date) or DD/MM/YYYY; ValueError with a Vietnamese message otherwise."""
    if text.strip().lower() in ("today", "hom-nay", "hôm nay"):
        return today or dt.date.today()
    m = _DAY.match(text)
    try:
        if m is None:
            raise ValueError
        return dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        raise ValueError(f"--as-of: '{text}' không phải một ngày; ghi dạng DD/MM/YYYY (ví dụ 06/12/2026) "
                         "hoặc today (hôm nay).") from None


def school_year_start(day: dt.date) -> int:
    """The first calendar year of the school year `day` falls in (September to August)."""
    return day.year if day.month >= 9 else day.year - 1


def deadline(year: str, rnd: str) -> dt.datetime:
    """A period's deadline moment (17:00 on the deadline day), as the sample's submissions use it."""
    end = int(year[5:])
    return dt.datetime(end, 1, 10, 17) if rnd == "HK1" else dt.datetime(end, 5, 20, 17)


def opens(year: str, rnd: str) -> dt.datetime:
    """When a period opens for entries: HK1 on 1 September, CN the day after HK1's deadline."""
    return dt.datetime(int(year[:4]), 9, 1) if rnd == "HK1" else dt.datetime(int(year[5:]), 1, 11)


@dataclass(frozen=True)
class Clock:
    """The day a sample is built as of; `cutoff` (its first moment, local time) bounds every time written."""

    as_of: dt.date

    @property
    def cutoff(self) -> dt.datetime:
        return dt.datetime.combine(self.as_of, dt.time())

    @property
    def now(self) -> dt.datetime:
        """The sample import's own time: the evening before, after every file it holds arrived."""
        return self.cutoff - dt.timedelta(hours=1)

    @property
    def last_start(self) -> int:
        return school_year_start(self.as_of)

    def started(self, year: str, rnd: str) -> bool:
        """Whether the period has opened by the as-of day (HK1 opens with the school year: always)."""
        return opens(year, rnd) <= self.cutoff

    def is_open(self, year: str, rnd: str) -> bool:
        """Whether the period's deadline is still ahead on the as-of day."""
        return self.started(year, rnd) and deadline(year, rnd) >= self.cutoff

    def arrivals(self, n: int, year: str, rnd: str, rng: np.random.Generator) -> np.ndarray:
        """When each school's file would arrive: around the deadline for a closed period (12 % late),
        spread over the weeks before it for an open one. Compare with `before` to keep what has."""
        end = deadline(year, rnd)
        late = rng.random(n) < 0.12
        early = rng.uniform(0.2, 20, n)
        if self.is_open(year, rnd):
            late[:] = False
            span = (end - opens(year, rnd)).total_seconds() / 86400 - 1
            early = np.minimum(0.2 + rng.exponential(OPEN_SPREAD_DAYS, n), span)
        days = np.where(late, rng.uniform(1, 25, n), -early)
        return np.array([end + dt.timedelta(days=float(d)) for d in days], dtype=object)

    @property
    def before(self) -> dt.datetime:
        """The last moment a file may have arrived: before the sample's import (`now`)."""
        return self.now - dt.timedelta(hours=1)

    def work_ref(self, end: dt.datetime, days: float) -> dt.datetime:
        """The moment the sample's workflow times are counted back from: the deadline, or when it is not
        `days` before the as-of day, 17:00 that many days before it (so that the latest decision is past)."""
        return min(end, self.cutoff - dt.timedelta(days=days) + dt.timedelta(hours=17))

    def lock_time(self, year: str, rnd: str) -> dt.datetime:
        """When the Phòng locked a closed period: three weeks after its deadline, or by the day before."""
        end = deadline(year, rnd)
        usual = dt.datetime(end.year, 2, 1, 9) if rnd == "HK1" else dt.datetime(end.year, 6, 11, 9)
        return min(usual, self.cutoff - dt.timedelta(hours=15))

    def squeeze(self, since: dt.datetime, *parts: tuple[list, tuple[int, ...]]) -> list[list]:
        """Rows whose moments (epoch seconds at the given positions) are fitted into [since, the sample's
        import): unchanged when they lie there already; moved later when they begin before `since` (a round
        opened only days ago), and pressed into the span, their order kept, when it is shorter than theirs."""
        times = [r[i] for rows, at in parts for r in rows for i in at if r[i] is not None]
        if not times:
            return [rows for rows, _ in parts]
        a, b = min(times), max(times)
        first, last = since.replace(tzinfo=VN).timestamp(), self.now.replace(tzinfo=VN).timestamp()
        if a >= first and b <= last:
            return [rows for rows, _ in parts]
        if last - first >= b - a:
            lo = min(max(a, first), last - (b - a))
            hi = lo + (b - a)
        else:  # opened on the as-of day itself: the hour before the import
            lo, hi = min(first, last - 3600), last

        def fit(t):
            return hi if b == a else lo + (t - a) * (hi - lo) / (b - a)
        return [[tuple(fit(v) if i in at and v is not None else v for i, v in enumerate(r)) for r in rows]
                for rows, at in parts]
