"""Pure DataFrame -> DataFrame transforms that turn SQL aggregates into KPIs."""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

Z_95 = 1.96


def nps_margin_of_error(promoters: int, detractors: int, responses: int) -> float:
    """95% margin of error of NPS in points: 1.96*100*sqrt((p + d - (p - d)^2) / n)."""
    if responses <= 0:
        return math.nan
    p, d = promoters / responses, detractors / responses
    return Z_95 * 100 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / responses)


def with_nps(frame: pl.DataFrame) -> pl.DataFrame:
    """Add answer rate, NPS and its margin of error to promoter/passive/detractor counts."""
    responses = pl.col("responses")
    p = pl.col("promoters") / responses
    d = pl.col("detractors") / responses
    has_responses = responses > 0
    return frame.with_columns(
        answer_rate=pl.when(pl.col("surveys_sent") > 0).then(
            pl.col("responses") / pl.col("surveys_sent")),
        nps=pl.when(has_responses).then(100 * (p - d)),
        nps_moe=pl.when(has_responses).then(
            Z_95 * 100 * ((p + d - (p - d) ** 2).clip(lower_bound=0) / responses).sqrt()),
    )


def with_online_share(frame: pl.DataFrame) -> pl.DataFrame:
    """Per-period online share next to each channel's count."""
    online = pl.when(pl.col("is_online")).then(pl.col("contacts")).otherwise(0)
    return frame.with_columns(
        period_contacts=pl.col("contacts").sum().over("period"),
        online_share=(online.sum().over("period") / pl.col("contacts").sum().over("period")),
        avg_wait_s=pl.when(pl.col("served_by_operator") > 0).then(
            pl.col("wait_sum_s") / pl.col("served_by_operator")),
    )


def with_backlog(received: pl.DataFrame, closed: pl.DataFrame, opening: pl.DataFrame,
                 keys: list[str], periods: list[dt.date]) -> pl.DataFrame:
    """Open backlog at each period's end: opening + cumulative received - cumulative closed.

    Every period of the range gets a row, also one in which no case arrived or closed: cases
    carried in are still open then, and the backlog at the range's end must say so.
    """
    periods = pl.DataFrame({"period": periods}, schema={"period": pl.Date})
    groups = pl.concat([received.select(keys), closed.select(keys), opening.select(keys)]).unique()
    grid = groups.join(periods, how="cross")
    return (
        grid.join(received, on=["period", *keys], how="left")
        .join(closed, on=["period", *keys], how="left")
        .join(opening, on=keys, how="left")
        .with_columns(pl.col("received", "closed", "opening").fill_null(0))
        .sort([*keys, "period"])
        .with_columns(
            open_backlog=pl.col("opening")
            + (pl.col("received") - pl.col("closed")).cum_sum().over(keys)
        )
        .drop("opening")
    )


def monthly_coverage(active: pl.DataFrame, rated: pl.DataFrame) -> pl.DataFrame:
    """Share of active front-line operators who received at least one rating each month."""
    return (
        active.join(rated, on="period", how="left")
        .with_columns(pl.col("rated_operators").fill_null(0))
        .with_columns(rated_share=pl.when(pl.col("active_operators") > 0).then(
            pl.col("rated_operators") / pl.col("active_operators")))
        .sort("period")
    )


def online_offline_totals(contacts: pl.DataFrame) -> pl.DataFrame:
    """Collapse channel rows of `contacts_by_period` into online and offline per period."""
    return (
        contacts.with_columns(
            mode=pl.when(pl.col("is_online")).then(pl.lit("online")).otherwise(pl.lit("offline"))
        )
        .group_by("period", "mode")
        .agg(pl.col("contacts").sum())
        .with_columns(share=pl.col("contacts") / pl.col("contacts").sum().over("period"))
        .sort("period", "mode")
    )


def open_at_end(cases: pl.DataFrame, kind: str) -> int | None:
    """Open cases of one kind at the end of the last period of `cases_by_period` output."""
    rows = cases.filter(pl.col("kind") == kind)
    if rows.is_empty():
        return None
    last = rows["period"].max()
    return int(rows.filter(pl.col("period") == last)["open_backlog"].sum())


def contact_totals(contacts: pl.DataFrame) -> dict[str, float | int | None]:
    """Online and offline contacts, the online share and the mean operator wait of a
    `contacts_by_period` frame, whatever its periods: the `kpis` contact figures."""
    online = int(contacts.filter(pl.col("is_online"))["contacts"].sum())
    offline = int(contacts.filter(~pl.col("is_online"))["contacts"].sum())
    served = int(contacts["served_by_operator"].sum())
    return {
        "contacts_online": online,
        "contacts_offline": offline,
        "online_share": round(online / (online + offline), 4) if online + offline else None,
        "avg_wait_s": round(int(contacts["wait_sum_s"].sum()) / served, 1) if served else None,
    }


def automated_share(contacts: pl.DataFrame) -> float | None:
    """Share of `contacts_by_period` contacts served by a bot or self-service, not an operator."""
    total = int(contacts["contacts"].sum()) if contacts.height else 0
    if not total:
        return None
    return 1 - int(contacts["served_by_operator"].sum()) / total


def rating_summary(distribution: pl.DataFrame) -> tuple[int, float | None]:
    """(ratings, mean score) from a `rating_distribution` frame (score, ratings, ...)."""
    count = int(distribution["ratings"].sum()) if distribution.height else 0
    if not count:
        return 0, None
    return count, float((distribution["score"] * distribution["ratings"]).sum()) / count


def period_has_data(kpis: dict) -> bool:
    """Whether a `kpis` range holds any contact, survey or case at all.

    A previous period that lies before the data starts has none: a delta against its zeros
    (+578 complaints) would describe the data's history, not a change.
    """
    return any(kpis.get(name) for name in ("contacts_online", "contacts_offline",
                                            "surveys_sent", "complaints", "appeals"))


def with_bucket_percentiles(frame: pl.DataFrame, columns: Sequence[str],
                            edges: Sequence[float], percents: Mapping[str, int]
                            ) -> pl.DataFrame:
    """`frame` with a nearest-rank percentile column per `percents` entry (name: percent) of
    the histogram each row holds in `columns` (one count per bucket).

    Bucket i spans [edges[i], edges[i+1]); the last is open, and a rank there reads as its
    lower edge. Inside its bucket the rank is placed linearly, so the value is exact to the
    bucket's width. Null where a row's histogram is empty. Worked out in numpy: as a Polars
    expression every bucket re-adds the ones before it, which costs milliseconds a call.
    """
    if not columns:
        raise ValueError("a histogram needs at least one bucket column")
    counts = frame.select(columns).to_numpy().astype(np.float64).reshape(frame.height,
                                                                         len(columns))
    running = counts.cumsum(axis=1)
    total = running[:, -1]
    rows = np.arange(frame.height)
    lows = np.asarray(edges, dtype=np.float64)[:len(columns)]
    highs = np.append(np.asarray(edges, dtype=np.float64)[1:len(columns)], np.nan)
    found = {}
    for name, percent in percents.items():
        rank = (total.astype(np.int64) * percent + 99) // 100
        bucket = (running >= rank[:, None]).argmax(axis=1)
        before = running[rows, bucket] - counts[rows, bucket]
        inside = (rank - before) / np.maximum(counts[rows, bucket], 1)
        value = np.where(np.isnan(highs[bucket]), lows[bucket],
                         lows[bucket] + (highs[bucket] - lows[bucket]) * inside)
        found[name] = pl.Series(name, np.where(total > 0, value, np.nan),
                                dtype=pl.Float64).fill_nan(None)
    return frame.with_columns(**found)


def life_table(answered: Sequence[float], censored: Sequence[float]) -> list[float]:
    """Survival S at each bucket edge (S[0] = 1) from per-bucket answered and censored counts.

    The actuarial life table: per bucket with n at risk at its start, d answered and c
    censored inside, q = d / (n - c/2) and S falls by (1 - q).
    """
    at_risk = float(sum(answered) + sum(censored))
    survival = [1.0]
    for done, still_open in zip(answered, censored, strict=True):
        effective = at_risk - still_open / 2
        survival.append(survival[-1] * (1 - done / effective) if effective > 0
                        else survival[-1])
        at_risk -= done + still_open
    return survival


def survival_percentile(survival: Sequence[float], edges: Sequence[float], share: float
                        ) -> float | None:
    """Hours by which `share` of the cases are answered: where S reaches 1 - share, placed
    linearly inside its bucket (the open last bucket reads as its lower edge); None when S
    has not fallen that far."""
    for j in range(len(edges)):
        if survival[j + 1] <= 1 - share + 1e-12:
            if j + 1 == len(edges):
                return float(edges[j])
            drop = survival[j] - survival[j + 1]
            return float(edges[j] + (edges[j + 1] - edges[j]) * (survival[j] - (1 - share))
                         / drop)
    return None


def answered_within(survival: Sequence[float], edges: Sequence[float], hours: float) -> float:
    """1 - S(hours), S placed linearly inside the bucket holding `hours`."""
    j = bisect.bisect_right(list(edges), hours) - 1
    if j + 1 == len(edges):
        return 1 - survival[j + 1]
    inside = (hours - edges[j]) / (edges[j + 1] - edges[j])
    return 1 - (survival[j] + (survival[j + 1] - survival[j]) * inside)


def censored_resolution(daily: pl.DataFrame, periods: pl.DataFrame, as_of: dt.datetime,
                        bucket_columns: Sequence[str], edges: Sequence[float],
                        target_hours: Mapping[str, float]) -> pl.DataFrame:
    """Resolution time of each received cohort with the open cases counted (life table).

    `daily`: one row per received day and kind with received, answered, withdrawn and the
    answered cases' resolution-time histogram (`bucket_columns` over `edges`, hours).
    `periods`: day -> period. A case still open at `as_of` is censored at its age, measured
    from its receipt day's midpoint (the rollups keep the day, not the time). Withdrawn cases
    are left out: they were neither answered nor are they waiting. See `life_table`,
    `survival_percentile`: median_h and p90_h are null while too many cases are still open to
    tell. `within_target` is 1 - S at the kind's target (`target_hours`), the estimated share
    answered within it; null while the cohort's oldest case is younger than the target.

    Columns: period, kind, received, answered, open, median_h, p90_h, within_target.
    """
    rows = []
    frame = daily.join(periods, on="day", how="left")
    for (period, kind), group in frame.group_by(["period", "kind"], maintain_order=True):
        answered = group.select(bucket_columns).sum().row(0)
        censored = [0] * len(edges)
        open_total, oldest = 0, 0.0
        for day, received, done, withdrawn in group.select(
                "day", "received", "answered", "withdrawn").iter_rows():
            age_h = max((as_of - dt.datetime.combine(day, dt.time(12))).total_seconds()
                        / 3600, 0.0)
            oldest = max(oldest, age_h)
            still_open = int(received) - int(done) - int(withdrawn)
            if still_open > 0:
                censored[bisect.bisect_right(list(edges), age_h) - 1] += still_open
                open_total += still_open
        has_cases = sum(answered) + open_total > 0
        survival = life_table(answered, censored)
        target = target_hours[kind]
        rows.append({
            "period": period, "kind": kind, "received": int(group["received"].sum()),
            "answered": int(group["answered"].sum()), "open": open_total,
            "median_h": survival_percentile(survival, edges, 0.5) if has_cases else None,
            "p90_h": survival_percentile(survival, edges, 0.9) if has_cases else None,
            "within_target": (answered_within(survival, edges, target)
                              if has_cases and oldest >= target else None)})
    return pl.DataFrame(rows, schema={
        "period": pl.Date, "kind": pl.String, "received": pl.Int64, "answered": pl.Int64,
        "open": pl.Int64, "median_h": pl.Float64, "p90_h": pl.Float64,
        "within_target": pl.Float64}).sort("period", "kind")
