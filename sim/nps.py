"""Predicted NPS: the wait→NPS relation learned from the database, applied to simulated waits.

This is a model estimate, not a measurement. NPS is linear in the mix of contacts (it is
P(promoter) − P(detractor)), so a scenario's NPS is the share-weighted NPS of its wait buckets.
Assumptions, stated where they are shown:
- answered contacts score like the observed contacts of their wait bucket;
- contacts the bot finishes score like observed bot/self-service contacts;
- abandoned contacts score like the longest-wait bucket (they were never answered).
The interval combines the replications' spread with the sampling error of the curve; buckets
that the smoothing merged share one estimate, so their errors add up as one.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import polars as pl
from sqlalchemy import Connection

from sim.model import PATH_BOT_CONTAINED

Z_95 = 1.96


@dataclass(frozen=True)
class WaitNpsCurve:
    """Monotone (non-increasing) NPS per wait bucket, with standard errors in points."""

    lower_s: tuple[float, ...]  # bucket lower bounds, seconds; the last bucket is open
    labels: tuple[str, ...]
    nps: tuple[float, ...]
    se: tuple[float, ...]  # of the smoothed value: one shared error per merged block
    responses: tuple[int, ...]
    bot_nps: float
    bot_se: float
    blocks: tuple[int, ...] = ()  # buckets the smoothing merged share a block number

    def bucket_of(self, waits: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.asarray(self.lower_s[1:]), waits, side="right")


def isotonic_decreasing(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pool-adjacent-violators: the closest non-increasing sequence, weighted least squares."""
    blocks: list[list[float]] = []  # [weighted mean, weight, count]
    for value, weight in zip(values, weights, strict=True):
        blocks.append([float(value), float(weight), 1])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            last = blocks.pop()
            merged_weight = blocks[-1][1] + last[1]
            blocks[-1][0] = (blocks[-1][0] * blocks[-1][1] + last[0] * last[1]) / merged_weight
            blocks[-1][1] = merged_weight
            blocks[-1][2] += last[2]
    return np.concatenate([np.full(count, mean) for mean, _, count in blocks])


def fit_curve(by_bucket: pl.DataFrame, bot: pl.DataFrame | None = None) -> WaitNpsCurve:
    """From `nps_by_wait_bucket` (and NPS of bot/self-service contacts) to a monotone curve.

    Buckets without responses borrow their neighbour's value through the smoothing.
    """
    from data_access.queries import WAIT_BUCKETS

    frame = pl.DataFrame({"wait_bucket": [label for label, _, _ in WAIT_BUCKETS],
                          "lower_s": [float(low) for _, low, _ in WAIT_BUCKETS]}).join(
        by_bucket.select("wait_bucket", "nps", "nps_moe", "responses"), on="wait_bucket",
        how="left").with_columns(pl.col("responses").fill_null(0))
    weights = frame["responses"].to_numpy().astype(float)
    raw = frame["nps"].fill_null(strategy="forward").fill_null(strategy="backward").fill_null(
        0.0).to_numpy()
    smooth = isotonic_decreasing(raw, np.maximum(weights, 1e-9))
    raw_se = (frame["nps_moe"].fill_null(100.0) / Z_95).to_numpy()
    # A merged block is one response-weighted mean: its error pools its buckets' errors,
    # and every bucket in it carries that same (fully correlated) error.
    blocks = np.concatenate([[0], np.cumsum(np.abs(np.diff(smooth)) > 1e-9)])
    se = np.empty_like(raw_se)
    for block in np.unique(blocks):
        members = blocks == block
        weight = np.maximum(weights[members], 1e-9)
        se[members] = math.sqrt(np.sum((weight * raw_se[members]) ** 2)) / weight.sum()
    bot_nps, bot_se = smooth[0], se[0]
    if bot is not None and bot.height and bot["responses"].sum() > 0:
        row = bot.row(0, named=True)
        bot_nps, bot_se = float(row["nps"]), float(row["nps_moe"]) / Z_95
    return WaitNpsCurve(tuple(frame["lower_s"]), tuple(frame["wait_bucket"]),
                        tuple(float(v) for v in smooth), tuple(float(v) for v in se),
                        tuple(int(v) for v in weights), float(bot_nps), float(bot_se),
                        tuple(int(b) for b in blocks))


def curve_from_database(connection: Connection, days: int = 90
                        ) -> tuple[WaitNpsCurve | None, str]:
    """The curve from the last `days` of surveys in the database, or why there is none."""
    from data_access.metrics import with_nps
    from data_access.queries import (
        Filters,
        automated_nps_counts,
        latest_contact_date,
        nps_by_wait_bucket,
    )

    latest = latest_contact_date(connection)
    if latest is None:
        return None, "the database holds no contacts"
    filters = Filters(latest - dt.timedelta(days=days - 1), latest)
    buckets = nps_by_wait_bucket(connection, filters)
    if buckets.is_empty() or buckets["responses"].sum() == 0:
        return None, f"no answered surveys from {filters.start} to {filters.end}"
    automated = automated_nps_counts(connection, filters)
    return fit_curve(buckets, with_nps(automated)), (
        f"wait→NPS curve fitted on surveys from {filters.start} to {filters.end}")


def predict(records: pl.DataFrame, curve: WaitNpsCurve) -> dict[str, float]:
    """Predicted NPS of a simulated scenario with its 95% interval (points)."""
    per_replication = []
    variance_terms = []
    for _, group in records.group_by("replication"):
        contained = (group["path"] == PATH_BOT_CONTAINED).to_numpy()
        abandoned = group["abandoned"].to_numpy()
        waits = group["wait_s"].fill_null(0.0).to_numpy()
        buckets = curve.bucket_of(waits)
        buckets[abandoned] = len(curve.nps) - 1
        scores = np.asarray(curve.nps)[buckets]
        scores[contained] = curve.bot_nps
        per_replication.append(float(scores.mean()))
        shares = np.bincount(buckets[~contained], minlength=len(curve.nps)) / group.height
        blocks = np.asarray(curve.blocks or range(len(curve.nps)))
        block_shares = np.bincount(blocks, weights=shares)  # merged buckets err together
        block_se = np.zeros(block_shares.size)
        block_se[blocks] = curve.se
        variance_terms.append(float(np.sum((block_shares * block_se) ** 2)
                                    + (contained.mean() * curve.bot_se) ** 2))
    estimate = float(np.mean(per_replication))
    replication_var = (float(np.var(per_replication, ddof=1)) / len(per_replication)
                       if len(per_replication) > 1 else 0.0)
    half = Z_95 * math.sqrt(replication_var + float(np.mean(variance_terms)))
    return {"predicted_nps": estimate, "predicted_nps_ci_low": estimate - half,
            "predicted_nps_ci_high": estimate + half}
