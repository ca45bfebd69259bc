"""Predicted NPS: the wait→NPS relation learned from the database, applied to simulated waits.

This is a model estimate, not a measurement. NPS is linear in the mix of contacts (it is
P(promoter) − P(detractor)), so a scenario's NPS is the share-weighted NPS of its wait buckets.
Assumptions, stated where they are shown:
- answered contacts score like the observed contacts of their wait bucket;
- contacts the bot or self-service finishes score like observed bot/self-service contacts;
- abandoned and unserved contacts score like the longest-wait bucket (never answered).
The interval combines the replications' spread with the sampling error of the curve; buckets
that the smoothing merged share one estimate, so their errors add up as one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats
from scipy.optimize import isotonic_regression

from sim.model import PATH_BOT_CONTAINED, PATH_SELF_SERVICE

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
    """The closest non-increasing sequence in weighted least squares (SciPy's PAVA)."""
    return isotonic_regression(np.asarray(values, dtype=float),
                               weights=np.asarray(weights, dtype=float), increasing=False).x


def fit_curve(by_bucket: pl.DataFrame, buckets: Sequence[tuple[str, float, float | None]],
              bot: pl.DataFrame | None = None) -> WaitNpsCurve:
    """From NPS per wait bucket (and NPS of bot/self-service contacts) to a monotone curve.

    `buckets` are the wait buckets as (label, lower_s, upper_s), in order. Buckets without
    responses borrow their neighbour's value through the smoothing.
    """
    frame = pl.DataFrame({"wait_bucket": [label for label, _, _ in buckets],
                          "lower_s": [float(low) for _, low, _ in buckets]}).join(
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


@dataclass(frozen=True)
class NpsParts:
    """What predicted NPS is made of, kept per scenario so that changes can be paired.

    `per_replication`: predicted NPS of each simulated day; `block_shares` and
    `automated_share`: the mean share of contacts scored by each curve block and by the
    automated (bot, self-service) estimate; `curve_variance`: the curve's sampling variance of
    the estimate (points²).
    """

    per_replication: tuple[float, ...]
    block_shares: tuple[float, ...]
    automated_share: float
    curve_variance: float


def nps_parts(records: pl.DataFrame, curve: WaitNpsCurve) -> NpsParts:
    """Score every simulated contact on the curve, one day (replication) at a time."""
    blocks = np.asarray(curve.blocks or range(len(curve.nps)))
    per_replication, shares, automated, variance_terms = [], [], [], []
    for _, group in records.sort("replication").group_by("replication", maintain_order=True):
        finished_alone = group["path"].is_in([PATH_BOT_CONTAINED, PATH_SELF_SERVICE]).to_numpy()
        buckets = curve.bucket_of(group["wait_s"].fill_null(0.0).to_numpy())
        # Abandoned and unserved contacts were never answered: the longest-wait bucket.
        never_answered = ~group["answered"].to_numpy() & ~finished_alone
        buckets[never_answered] = len(curve.nps) - 1
        scores = np.asarray(curve.nps)[buckets]
        scores[finished_alone] = curve.bot_nps
        per_replication.append(float(scores.mean()))
        bucket_shares = (np.bincount(buckets[~finished_alone], minlength=len(curve.nps))
                         / group.height)
        block_shares = np.bincount(blocks, weights=bucket_shares)  # merged buckets err together
        shares.append(block_shares)
        automated.append(float(finished_alone.mean()))
        variance_terms.append(float(np.sum((block_shares * _block_se(curve, blocks)) ** 2)
                                    + (finished_alone.mean() * curve.bot_se) ** 2))
    return NpsParts(tuple(per_replication), tuple(float(v) for v in np.mean(shares, axis=0)),
                    float(np.mean(automated)), float(np.mean(variance_terms)))


def _block_se(curve: WaitNpsCurve, blocks: np.ndarray) -> np.ndarray:
    block_se = np.zeros(int(blocks.max()) + 1)
    block_se[blocks] = curve.se
    return block_se


def _t95(count: int) -> float:
    return float(stats.t.ppf(0.975, count - 1)) if count > 1 else math.nan


def estimate(parts: NpsParts) -> dict[str, float]:
    """Predicted NPS with its 95% interval: the days' spread plus the curve's error."""
    values = np.asarray(parts.per_replication)
    mean = float(values.mean())
    replication_var = float(values.var(ddof=1)) / values.size if values.size > 1 else 0.0
    half = Z_95 * math.sqrt(replication_var + parts.curve_variance)
    return {"predicted_nps": mean, "predicted_nps_ci_low": mean - half,
            "predicted_nps_ci_high": mean + half}


def predict(records: pl.DataFrame, curve: WaitNpsCurve) -> dict[str, float]:
    """Predicted NPS of a simulated scenario with its 95% interval (points)."""
    return estimate(nps_parts(records, curve))


def paired_change(baseline: NpsParts, scenario: NpsParts, curve: WaitNpsCurve
                  ) -> dict[str, float]:
    """Change of predicted NPS with a paired 95% CI, like every other metric's change.

    Both scenarios simulate the same days, so the days' part comes from per-day differences.
    The curve's error is shared: only the shift of contacts between its blocks (and to the
    automated estimate) carries it into the change.
    """
    days = np.asarray(scenario.per_replication) - np.asarray(baseline.per_replication)
    mean = float(days.mean())
    day_half = (_t95(days.size) * float(days.std(ddof=1)) / math.sqrt(days.size)
                if days.size > 1 else 0.0)
    shift = np.asarray(scenario.block_shares) - np.asarray(baseline.block_shares)
    blocks = np.asarray(curve.blocks or range(len(curve.nps)))
    curve_var = (float(np.sum((shift * _block_se(curve, blocks)) ** 2))
                 + ((scenario.automated_share - baseline.automated_share) * curve.bot_se) ** 2)
    half = math.sqrt(day_half ** 2 + (Z_95 ** 2) * curve_var)
    return {"predicted_nps_delta": mean, "predicted_nps_delta_ci_low": mean - half,
            "predicted_nps_delta_ci_high": mean + half}
