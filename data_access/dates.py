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


def period_of(day: dt.date, granularity: str) -> dt.date:
    """The first day of the day/week (Monday)/month that `day` falls in, as SQL groups it."""
    if granularity == "week":
        return day - dt.timedelta(days=day.weekday())
    if granularity == "month":
        return first_of_month(day)
    return day


def period_starts(start: dt.date, end: dt.date, granularity: str) -> list[dt.date]:
    """Every period overlapping start..end, also those without a single row."""
    if granularity == "month":
        return month_starts(start, end)
    step = dt.timedelta(days=7 if granularity == "week" else 1)
    periods, current = [], period_of(start, granularity)
    while current <= end:
        periods.append(current)
        current += step
    return periods
