"""What the recorded queue tells the simulator: patience and handle time (pure, no database).

Patience (the censored exponential estimate). Every contact that joined the queue was watched
for as long as it waited: an abandoned one until it gave up (an observed patience), an answered
one until an operator took it (its patience was longer: censored). With exponential patience
of rate θ the likelihood of the queue's record is θ^A · exp(−θ · T), where A is the number of
abandons and T the seconds waited by everyone who joined the queue (answered and abandoned
waits together), so the maximum-likelihood rate is θ̂ = A ÷ T and the mean patience 1 ÷ θ̂.
Given T, A is Poisson with mean θT, so the exact (Garwood) chi-square interval on the count
gives the 95% interval of θ, and inverting it the interval of the mean patience. A queue nobody
abandoned gives no finite estimate: only a lower bound (2T ÷ χ²₀.₉₇₅(2)).

Exposure is the queue wait only: time in the bot before the queue is left out of T, and so
must be any abandon in the bot. Exponential patience is memoryless, so the queue part alone
estimates the same rate.

Handle time per channel and hour: the mean handle seconds of answered contacts in each hour,
falling back to the channel's mean where an hour holds too few contacts to say.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl
from scipy import stats

CONFIDENCE = 0.95
# An hour with fewer answered contacts than this takes the channel's mean handle time.
MIN_HOUR_CONTACTS = 30


@dataclass(frozen=True)
class Patience:
    """Mean patience with its 95% interval, and the counts it rests on.

    `mean_s` is None when nobody abandoned (patience longer than anything seen); `high_s`
    is None when the upper bound is unbounded (no abandons) and `low_s` is None without any
    exposure (nobody waited).
    """

    abandoned: int
    exposure_s: float
    mean_s: float | None
    low_s: float | None
    high_s: float | None

    @property
    def rate_per_s(self) -> float | None:
        return self.abandoned / self.exposure_s if self.exposure_s > 0 else None


def patience_estimate(abandoned: int, exposure_s: float, confidence: float = CONFIDENCE
                      ) -> Patience:
    """Mean patience = T ÷ A with the exact Poisson (chi-square) interval on A.

    `abandoned` is A, the contacts that gave up in the queue; `exposure_s` is T, the seconds
    waited in the queue by every contact that joined it (answered plus abandoned waits).
    """
    if abandoned < 0 or not math.isfinite(exposure_s) or exposure_s < 0:
        raise ValueError(f"abandoned must be >= 0 and exposure_s a finite number >= 0, got "
                         f"abandoned={abandoned!r}, exposure_s={exposure_s!r}")
    if exposure_s == 0:
        return Patience(abandoned, 0.0, None, None, None)
    tail = (1 - confidence) / 2
    # θ bounds: χ²(tail; 2A) / 2T and χ²(1 − tail; 2A + 2) / 2T; patience is their inverse.
    rate_high = stats.chi2.ppf(1 - tail, 2 * abandoned + 2) / (2 * exposure_s)
    low_s = 1 / rate_high
    if abandoned == 0:
        return Patience(0, float(exposure_s), None, float(low_s), None)
    rate_low = stats.chi2.ppf(tail, 2 * abandoned) / (2 * exposure_s)
    return Patience(int(abandoned), float(exposure_s), float(exposure_s / abandoned),
                    float(low_s), float(1 / rate_low))


PATIENCE_SCHEMA = {"channel": pl.String, "abandoned": pl.Int64, "exposure_s": pl.Float64,
                   "patience_s": pl.Float64, "patience_low_s": pl.Float64,
                   "patience_high_s": pl.Float64}


def patience_by_channel(sums: pl.DataFrame) -> pl.DataFrame:
    """Per channel: the estimate from `abandoned`, `answered_wait_s` and `abandoned_wait_s`.

    `sums` holds one row per channel (or several: they are added up first).
    """
    totals = (sums.group_by("channel")
              .agg(pl.col("abandoned").sum(),
                   (pl.col("answered_wait_s") + pl.col("abandoned_wait_s")).sum()
                   .alias("exposure_s"))
              .sort("channel"))
    rows = []
    for channel, abandoned, exposure in totals.iter_rows():
        estimate = patience_estimate(int(abandoned or 0), float(exposure or 0.0))
        rows.append((channel, estimate.abandoned, estimate.exposure_s, estimate.mean_s,
                     estimate.low_s, estimate.high_s))
    return pl.DataFrame(rows, schema=PATIENCE_SCHEMA, orient="row")


def handle_by_hour(sums: pl.DataFrame, min_contacts: int = MIN_HOUR_CONTACTS) -> pl.DataFrame:
    """Mean handle seconds per channel and hour of answered contacts.

    `sums`: channel, hour, answered, answered_handle_s (several rows per key are added up).
    Columns out: channel, hour, answered, aht_s (the hour's mean, or the channel's where the
    hour has fewer than `min_contacts`), from_channel_mean (which of the two it is).
    """
    hours = (sums.group_by("channel", "hour")
             .agg(pl.col("answered").sum(), pl.col("answered_handle_s").sum()))
    channel_mean = (pl.col("answered_handle_s").sum().over("channel")
                    / pl.col("answered").sum().over("channel"))
    thin = pl.col("answered") < min_contacts
    return (hours.with_columns(
        aht_s=pl.when(thin).then(channel_mean)
        .otherwise(pl.col("answered_handle_s") / pl.col("answered")).cast(pl.Float64),
        from_channel_mean=thin)
        .select("channel", pl.col("hour").cast(pl.Int32), pl.col("answered").cast(pl.Int64),
                "aht_s", "from_channel_mean")
        .sort("channel", "hour"))
