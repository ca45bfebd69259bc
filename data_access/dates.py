"""Calendar helpers shared by the generator and the queries."""

from __future__ import annotations

import datetime as dt


def first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_end(day: dt.date) -> dt.date:
    """The last day of `day`'s month."""
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of every month that overlaps start..end."""
    months, current = [], first_of_month(start)
    while current <= end:
        months.append(current)
        current = month_end(current) + dt.timedelta(days=1)
    return months
