"""The simulated window: ``days`` days ending on the end date, for ``customers`` customers.

Simulated times are seconds since the window's first day (negative before it); file days are
days since the first day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

#: Seconds per day.
DAY = 86400
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Window:
    customers: int
    days: int
    start_date: date

    @property
    def start_day(self) -> int:
        """Days from the epoch to the first day."""
        return (self.start_date - EPOCH).days

    @property
    def start_s(self) -> int:
        """Seconds from the epoch to the first day."""
        return self.start_day * DAY

    @property
    def horizon_s(self) -> int:
        """Seconds from the start to the end of the last day."""
        return self.days * DAY

    @property
    def customer_id_width(self) -> int:
        return max(7, len(str(self.customers)))

    def iso_day(self, day) -> str:
        """A day since the start as YYYY-MM-DD."""
        return (self.start_date + timedelta(days=int(day))).isoformat()
