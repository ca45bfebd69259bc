"""Patience and handle-time estimates against theory (seeded)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import stats

from sim.config import Channel, Pool, Scenario
from sim.estimates import handle_by_hour, patience_by_channel, patience_estimate
from sim.model import simulate_day


def censored_queue(rng: np.random.Generator, size: int, patience_s: float, mean_wait_s: float
                   ) -> tuple[int, float]:
    """Each contact would be answered after an Exp(mean_wait) wait unless it gives up first."""
    patience = rng.exponential(patience_s, size)
    answer_after = rng.exponential(mean_wait_s, size)
    waited = np.minimum(patience, answer_after)
    return int((patience < answer_after).sum()), float(waited.sum())


def test_estimate_is_exposure_over_abandons_and_interval_is_garwood():
    estimate = patience_estimate(40, 12_000.0)
    assert estimate.mean_s == pytest.approx(300.0)
    assert estimate.rate_per_s == pytest.approx(40 / 12_000)
    # Garwood: θ in [χ²(.025; 80)/2T, χ²(.975; 82)/2T].
    assert estimate.high_s == pytest.approx(2 * 12_000 / stats.chi2.ppf(0.025, 80))
    assert estimate.low_s == pytest.approx(2 * 12_000 / stats.chi2.ppf(0.975, 82))
    assert estimate.low_s < 300 < estimate.high_s


def test_no_abandon_gives_only_a_lower_bound_and_no_wait_gives_nothing():
    none_left = patience_estimate(0, 3_690.0)
    assert none_left.mean_s is None and none_left.high_s is None
    assert none_left.low_s == pytest.approx(2 * 3_690 / stats.chi2.ppf(0.975, 2))
    nobody_waited = patience_estimate(0, 0.0)
    assert nobody_waited.low_s is None and nobody_waited.rate_per_s is None


@pytest.mark.parametrize("bad", [(-1, 10.0), (1, -5.0), (1, math.nan), (1, math.inf)])
def test_bad_input_names_the_values(bad):
    with pytest.raises(ValueError, match="abandoned"):
        patience_estimate(*bad)


def test_estimate_recovers_the_true_patience_under_heavy_censoring():
    rng = np.random.default_rng(np.random.SeedSequence(16))
    abandoned, exposure = censored_queue(rng, 200_000, 420.0, 60.0)  # ~12% abandon
    estimate = patience_estimate(abandoned, exposure)
    # Relative standard error is 1/sqrt(A): allow 4 of them.
    assert abs(estimate.mean_s / 420.0 - 1) < 4 / math.sqrt(abandoned)
    assert estimate.low_s < 420.0 < estimate.high_s


def test_interval_covers_the_truth_95_percent_of_the_time():
    root = np.random.SeedSequence(1600)
    trials = 600
    covered = 0
    for child in root.spawn(trials):
        abandoned, exposure = censored_queue(np.random.default_rng(child), 300, 600.0, 90.0)
        estimate = patience_estimate(abandoned, exposure)
        covered += (estimate.low_s <= 600.0 <= (estimate.high_s or math.inf))
    # Binomial(600, 0.95): standard deviation 0.0089; allow 3 of them either way.
    assert abs(covered / trials - 0.95) < 3 * math.sqrt(0.95 * 0.05 / trials)


def test_the_simulator_own_queue_gives_back_its_patience():
    """Records of the project's simulator, read as the database would record them."""
    arrivals = (40.0,) * 24
    scenario = Scenario(
        name="busy", interval_minutes=60,
        channels=(Channel("whatsapp", "digital", arrivals, aht_s=600, patience_s=300.0),),
        pools=(Pool("digital", operators=(6,) * 24),),
    )
    records = pl.concat([simulate_day(scenario, replication, seed=3) for replication in
                         range(3)])
    queued = records.filter(pl.col("queue_join_s").is_not_null())
    sums = queued.group_by("channel").agg(
        abandoned=pl.col("abandoned").sum().cast(pl.Int64),
        answered_wait_s=pl.col("wait_s").filter(pl.col("answered")).sum(),
        abandoned_wait_s=pl.col("wait_s").filter(pl.col("abandoned")).sum())
    row = patience_by_channel(sums).row(0, named=True)
    assert row["abandoned"] > 500
    assert row["patience_low_s"] < 300.0 < row["patience_high_s"]


def test_handle_by_hour_uses_the_channel_mean_for_thin_hours():
    sums = pl.DataFrame({"channel": ["office"] * 3 + ["whatsapp"],
                         "hour": [9, 9, 10, 3],
                         "answered": [50, 50, 5, 100],
                         "answered_handle_s": [30_000, 40_000, 500, 20_000]})
    table = handle_by_hour(sums)
    office = {row["hour"]: row for row in table.filter(pl.col("channel") == "office")
              .iter_rows(named=True)}
    assert office[9]["aht_s"] == pytest.approx(700.0) and not office[9]["from_channel_mean"]
    assert office[10]["aht_s"] == pytest.approx(70_500 / 105) and office[10]["from_channel_mean"]
    whatsapp = table.filter(pl.col("channel") == "whatsapp").row(0, named=True)
    assert whatsapp["aht_s"] == pytest.approx(200.0)
