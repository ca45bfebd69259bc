"""Kazakhstan's public holidays and days off, from the table kept in the repo.

Demand on a day off looks like a Sunday's, not like the weekday it falls on, so the forecast
takes these dates as an input and the demo lowers demand on them. The dates live in
holidays_kz.csv beside this module (source named in its header) rather than being computed at
run time: the Government moves days off by decree each year, and a table a reviewer can read
and correct beats a rule nobody can see. Nothing is downloaded at run time.

To regenerate the table (once a year, when the next year's decree is out)::

    pip install holidays==0.108   # generation only; not in requirements.txt
    python -c "import holidays; h = holidays.country_holidays('KZ', years=range(2019, 2031)); \
print('\\n'.join(f'{d},{n}' for d, n in sorted(h.items())))"

and paste the rows under the header of holidays_kz.csv.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

import polars as pl

HOLIDAYS_CSV = Path(__file__).with_name("holidays_kz.csv")
FIRST_YEAR, LAST_YEAR = 2019, 2030


@lru_cache(maxsize=1)
def holidays_frame() -> pl.DataFrame:
    """Every holiday and day off in the table: date (pl.Date), name (str), sorted by date.

    A date can appear once per name (e.g. a holiday and a transfer never share a day, but two
    names could); callers wanting one row per day use holiday_dates().
    """
    return (pl.read_csv(HOLIDAYS_CSV, comment_prefix="#", schema={"date": pl.Utf8,
                                                                 "name": pl.Utf8})
            .with_columns(pl.col("date").str.to_date("%Y-%m-%d"))
            .sort("date"))


def holiday_dates(start: dt.date | None = None, end: dt.date | None = None) -> frozenset[dt.date]:
    """The days off between start and end inclusive (all years in the table when omitted).

    Outside 2019–2030 the table knows nothing; a caller asking there gets an empty set, not a
    guess, so it should warn rather than assume no holidays.
    """
    frame = holidays_frame()
    if start is not None:
        frame = frame.filter(pl.col("date") >= start)
    if end is not None:
        frame = frame.filter(pl.col("date") <= end)
    return frozenset(frame.get_column("date").to_list())
