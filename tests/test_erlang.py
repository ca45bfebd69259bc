"""Erlang B, C and A against published values, hand-derived formulas and independent methods.

The independent references here (Poisson-ratio Erlang B, a naively normalised full chain,
matrix exponentials of the tagged caller's absorbing chain) share no code with sim.erlang.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from scipy import linalg, special, stats

from sim.erlang import (
    ErlangAResult,
    ErlangCResult,
    erlang_a_metrics,
    erlang_b,
    erlang_c,
    erlang_c_metrics,
    min_agents_erlang_a,
    min_agents_erlang_c,
    square_root_staffing,
)

# λ = 100/h with a 6-minute AHT: 10 Erlangs.
ARRIVALS_PER_HOUR = 100.0
AHT_S = 360.0
PATIENCE_S = 180.0


def _arrivals_for_load(load: float, aht_s: float = AHT_S) -> float:
    return load * 3600.0 / aht_s


# --------------------------------------------------------------------------- independent models


def _naive_chain(arrivals_per_hour, aht_s, agents, patience_s, states):
    """Erlang A stationary distribution over n = 0..states−1, normalised in one go."""
    lam, mu, theta = arrivals_per_hour / 3600.0, 1.0 / aht_s, 1.0 / patience_s
    n = np.arange(1, states)
    deaths = np.minimum(n, agents) * mu + np.maximum(n - agents, 0) * theta
    log_weights = np.concatenate([[0.0], np.cumsum(np.log(lam / deaths))])
    assert log_weights[-1] - log_weights.max() < -45, "reference chain truncated too early"
    return np.exp(log_weights - special.logsumexp(log_weights))


def _tagged_caller_by_matrix(agents, mu, theta, target_s, positions):
    """For queue positions 1..positions: P(answered within target_s), P(answered at all) and
    E[wait · 1{answered}], from the tagged caller's absorbing chain (expm and a linear solve)."""
    size = positions + 2  # 0 = answered, 1..positions = queue position, last = abandoned
    generator = np.zeros((size, size))
    for position in range(1, positions + 1):
        forward = agents * mu + (position - 1) * theta
        generator[position, position - 1] = forward
        generator[position, size - 1] = theta
        generator[position, position] = -(forward + theta)
    within = linalg.expm(generator * target_s)[1:-1, 0]
    transient = generator[1:-1, 1:-1]
    exit_to_answered = np.zeros(positions)
    exit_to_answered[0] = agents * mu
    time_in_state = linalg.inv(-transient)
    answered = time_in_state @ exit_to_answered
    answered_wait = time_in_state @ answered
    return within, answered, answered_wait


# --------------------------------------------------------------------------- reference values


@pytest.mark.parametrize(("agents", "p_abandon"), [(10, 0.1460), (11, 0.1016), (12, 0.0676)])
def test_erlang_a_reference_abandonment(agents, p_abandon):
    result = erlang_a_metrics(ARRIVALS_PER_HOUR, AHT_S, agents, PATIENCE_S)
    assert isinstance(result, ErlangAResult)
    assert result.offered_load == pytest.approx(10.0)
    assert round(result.p_abandon, 4) == p_abandon


def test_erlang_c_reference_values():
    result = erlang_c_metrics(ARRIVALS_PER_HOUR, AHT_S, 12, target_s=20.0)
    assert isinstance(result, ErlangCResult)
    assert result.stable
    assert result.offered_load == pytest.approx(10.0)
    assert result.occupancy == pytest.approx(10 / 12)
    assert round(result.p_wait, 4) == 0.4494
    assert round(result.asa_s, 1) == 80.9
    assert round(result.service_level, 4) == 0.5979


# --------------------------------------------------------------------------- Erlang B and C


def test_erlang_b_published_values():
    assert erlang_b(10, 5.0) == pytest.approx(0.018385, abs=5e-7)
    assert erlang_b(1, 1.0) == pytest.approx(0.5, abs=1e-15)
    assert erlang_b(2, 1.0) == pytest.approx(0.2, abs=1e-15)  # (1/2) / (1 + 1 + 1/2)
    assert erlang_b(0, 3.0) == 1.0
    assert erlang_b(5, 0.0) == 0.0


@pytest.mark.parametrize(("servers", "load"), [(1, 0.3), (7, 4.2), (50, 45.0), (300, 330.0)])
def test_erlang_b_matches_poisson_ratio(servers, load):
    """B(c, A) = P(N = c) / P(N <= c) for N ~ Poisson(A)."""
    expected = stats.poisson.pmf(servers, load) / stats.poisson.cdf(servers, load)
    assert erlang_b(servers, load) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("load", [0.1, 0.5, 0.9])
def test_erlang_c_single_server_waits_with_probability_rho(load):
    assert erlang_c(1, load) == pytest.approx(load, rel=1e-12)


@pytest.mark.parametrize("load", [0.2, 1.0, 1.7, 1.99])
def test_erlang_c_two_servers_closed_form(load):
    rho = load / 2
    assert erlang_c(2, load) == pytest.approx(2 * rho**2 / (1 + rho), rel=1e-12)


def test_erlang_c_is_one_at_or_above_capacity():
    assert erlang_c(5, 5.0) == 1.0
    assert erlang_c(5, 7.5) == 1.0
    assert erlang_c(5, 4.999) < 1.0


def test_erlang_c_unstable_metrics_are_reported_not_raised():
    result = erlang_c_metrics(ARRIVALS_PER_HOUR, AHT_S, 10)
    assert result == ErlangCResult(10.0, 1.0, 1.0, math.inf, 0.0, False)
    overloaded = erlang_c_metrics(ARRIVALS_PER_HOUR, AHT_S, 3)
    assert not overloaded.stable and overloaded.occupancy == 1.0
    assert erlang_c_metrics(ARRIVALS_PER_HOUR, AHT_S, 11).stable


def test_zero_arrivals_meet_every_target():
    for result in (
        erlang_c_metrics(0.0, AHT_S, 0),
        erlang_a_metrics(0.0, AHT_S, 0, PATIENCE_S),
        erlang_a_metrics(0.0, AHT_S, 3, PATIENCE_S),
    ):
        assert result.service_level == 1.0
        assert result.p_wait == 0.0
        assert result.asa_s == 0.0
    assert min_agents_erlang_c(0.0, AHT_S, 0.8, 20.0) == 0
    assert min_agents_erlang_a(0.0, AHT_S, PATIENCE_S, 0.8, 20.0, 0.05) == 0
    assert square_root_staffing(0.0, AHT_S, 2.0) == 0


@pytest.mark.parametrize("servers", [1000, 2000])
def test_large_systems_are_stable_without_warnings(servers):
    load = 0.95 * servers
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        blocking = erlang_b(servers, load)
        waiting = erlang_c(servers, load)
        metrics_c = erlang_c_metrics(_arrivals_for_load(load), AHT_S, servers)
        metrics_a = erlang_a_metrics(_arrivals_for_load(load), AHT_S, servers, PATIENCE_S)
        overloaded_a = erlang_a_metrics(_arrivals_for_load(1.1 * servers), AHT_S, servers, 60.0)
    log_pmf = stats.poisson.logpmf(servers, load)
    log_cdf = stats.poisson.logcdf(servers, load)
    assert blocking == pytest.approx(math.exp(log_pmf - log_cdf), rel=1e-9)
    assert 0.0 < blocking < waiting < 1.0
    assert waiting == pytest.approx(servers * blocking / (servers - load * (1 - blocking)))
    assert metrics_c.stable and 0.0 < metrics_c.service_level < 1.0
    for value in (metrics_a.p_wait, metrics_a.p_abandon, metrics_a.service_level,
                  overloaded_a.p_wait, overloaded_a.p_abandon, overloaded_a.service_level):
        assert math.isfinite(value) and 0.0 <= value <= 1.0
    assert metrics_a.p_wait < metrics_c.p_wait  # abandonment shortens the queue
    # Overload: agents are nearly always busy, so at least the excess load abandons.
    assert 1 - 1 / 1.1 < overloaded_a.p_abandon < 1.02 * (1 - 1 / 1.1)
    assert overloaded_a.p_abandon == pytest.approx(1 - overloaded_a.occupancy / 1.1, rel=1e-9)


def test_erlang_b_handles_load_far_above_servers():
    assert erlang_b(2000, 2000.0) == pytest.approx(
        math.exp(stats.poisson.logpmf(2000, 2000.0) - stats.poisson.logcdf(2000, 2000.0)),
        rel=1e-9)
    assert erlang_b(10, 1e6) == pytest.approx(1 - 10 / 1e6, rel=1e-4)


# --------------------------------------------------------------------------- Erlang A exactness


@pytest.mark.parametrize(
    ("arrivals_per_hour", "aht_s", "agents", "patience_s", "target_s"),
    [
        (100.0, 360.0, 10, 180.0, 20.0),
        (100.0, 360.0, 8, 180.0, 60.0),  # overloaded: only abandonment keeps it finite
        (240.0, 300.0, 18, 600.0, 30.0),
        (60.0, 600.0, 1, 90.0, 10.0),
        (100.0, 360.0, 12, 5.0, 20.0),  # impatient: theta >> c·mu
    ],
)
def test_erlang_a_matches_independent_chain_and_matrix_exponential(
    arrivals_per_hour, aht_s, agents, patience_s, target_s
):
    states = agents + 120
    pi = _naive_chain(arrivals_per_hour, aht_s, agents, patience_s, states)
    lam, mu, theta = arrivals_per_hour / 3600, 1 / aht_s, 1 / patience_s
    within, answered, answered_wait = _tagged_caller_by_matrix(
        agents, mu, theta, target_s, states - agents)
    n = np.arange(states)
    free, queued = pi[:agents], pi[agents:]

    result = erlang_a_metrics(arrivals_per_hour, aht_s, agents, patience_s, target_s)
    queue_length = float(np.dot(pi, np.maximum(n - agents, 0)))
    answered_share = free.sum() + queued @ answered
    assert result.p_wait == pytest.approx(queued.sum(), rel=1e-9)
    assert result.p_abandon == pytest.approx(theta * queue_length / lam, rel=1e-9)
    assert result.p_abandon == pytest.approx(1 - answered_share, rel=1e-8)
    assert result.asa_s == pytest.approx(queue_length / lam, rel=1e-9)
    assert result.occupancy == pytest.approx(np.dot(pi, np.minimum(n, agents)) / agents)
    assert result.service_level == pytest.approx(free.sum() + queued @ within, rel=1e-8)
    assert result.asa_answered_s == pytest.approx(queued @ answered_wait / answered_share,
                                                  rel=1e-8)


def test_erlang_a_large_system_matches_full_chain():
    """The windowed chain (c = 2,000) agrees with one normalised over every state from 0."""
    load, agents = 1950.0, 2000
    arrivals = _arrivals_for_load(load)
    pi = _naive_chain(arrivals, AHT_S, agents, 120.0, agents + 1500)
    n = np.arange(pi.size)
    result = erlang_a_metrics(arrivals, AHT_S, agents, 120.0)
    queue_length = float(np.dot(pi, np.maximum(n - agents, 0)))
    assert result.p_wait == pytest.approx(pi[agents:].sum(), rel=1e-9)
    assert result.asa_s == pytest.approx(queue_length / (arrivals / 3600), rel=1e-9)


@pytest.mark.parametrize(
    ("agents", "patience_s"), [(5, 180.0), (10, 180.0), (15, 30.0), (9, 1e6), (0, 180.0)]
)
def test_erlang_a_flow_balance(agents, patience_s):
    """Answered work = busy agents: λ·(1 − P(abandon))·AHT = occupancy·c."""
    result = erlang_a_metrics(ARRIVALS_PER_HOUR, AHT_S, agents, patience_s)
    assert result.offered_load * (1 - result.p_abandon) == pytest.approx(
        result.occupancy * agents, abs=1e-9)


def test_erlang_a_without_agents_loses_everyone():
    result = erlang_a_metrics(ARRIVALS_PER_HOUR, AHT_S, 0, PATIENCE_S)
    assert result.p_wait == 1.0
    assert result.p_abandon == pytest.approx(1.0)
    assert result.service_level == 0.0
    assert result.asa_s == pytest.approx(PATIENCE_S)
    assert math.isnan(result.asa_answered_s)


# --------------------------------------------------------------------------- Erlang A limits


@pytest.mark.parametrize("agents", [11, 12, 15])
def test_erlang_a_with_endless_patience_is_erlang_c(agents):
    a = erlang_a_metrics(ARRIVALS_PER_HOUR, AHT_S, agents, 1e9)
    c = erlang_c_metrics(ARRIVALS_PER_HOUR, AHT_S, agents)
    assert a.p_wait == pytest.approx(c.p_wait, rel=1e-5)
    assert a.asa_s == pytest.approx(c.asa_s, rel=1e-5)
    assert a.asa_answered_s == pytest.approx(c.asa_s, rel=1e-5)
    assert a.service_level == pytest.approx(c.service_level, abs=1e-6)
    assert a.occupancy == pytest.approx(c.occupancy, rel=1e-5)
    assert a.p_abandon < 1e-6


def test_erlang_a_abandonment_vanishes_with_many_agents():
    abandon = [erlang_a_metrics(ARRIVALS_PER_HOUR, AHT_S, c, PATIENCE_S).p_abandon
               for c in (12, 20, 30, 40)]
    assert abandon[0] > 0.05
    assert abandon[1] < 1e-3 and abandon[2] < 1e-7 and abandon[3] < 1e-12


def test_erlang_a_abandonment_rises_as_agents_fall():
    abandon = [erlang_a_metrics(ARRIVALS_PER_HOUR, AHT_S, c, PATIENCE_S).p_abandon
               for c in range(25, -1, -1)]
    assert all(a < b for a, b in itertools.pairwise(abandon))
    assert abandon[-1] == pytest.approx(1.0)


def test_erlang_a_patience_beyond_target_does_not_change_quick_answers():
    """Shorter patience helps those behind (SL rises) but loses callers (abandon rises)."""
    patient = erlang_a_metrics(ARRIVALS_PER_HOUR, AHT_S, 10, 600.0)
    impatient = erlang_a_metrics(ARRIVALS_PER_HOUR, AHT_S, 10, 60.0)
    assert impatient.p_abandon > patient.p_abandon
    assert impatient.asa_s < patient.asa_s
    assert impatient.p_wait < patient.p_wait


def test_erlang_a_long_target_approaches_answer_rate():
    result = erlang_a_metrics(ARRIVALS_PER_HOUR, AHT_S, 10, PATIENCE_S, target_s=1e5)
    assert result.service_level == pytest.approx(1 - result.p_abandon, rel=1e-9)


# --------------------------------------------------------------------------- service level


def test_erlang_c_service_level_monotone_in_agents_and_target():
    by_agents = [erlang_c_metrics(ARRIVALS_PER_HOUR, AHT_S, c).service_level
                 for c in range(8, 30)]
    assert by_agents[:3] == [0.0, 0.0, 0.0]  # 8, 9, 10 agents: unstable
    assert all(a < b for a, b in itertools.pairwise(by_agents[2:]))
    by_target = [erlang_c_metrics(ARRIVALS_PER_HOUR, AHT_S, 12, t).service_level
                 for t in (0, 5, 20, 60, 300)]
    assert by_target[0] == pytest.approx(1 - 0.4494, abs=1e-4)
    assert all(a < b for a, b in itertools.pairwise(by_target))


@pytest.mark.parametrize("patience_s", [10.0, 180.0, 3600.0])
def test_erlang_a_service_level_bounded_and_monotone(patience_s):
    by_agents = [erlang_a_metrics(ARRIVALS_PER_HOUR, AHT_S, c, patience_s).service_level
                 for c in range(0, 30)]
    assert all(0.0 <= sl <= 1.0 for sl in by_agents)
    assert all(a < b for a, b in itertools.pairwise(by_agents[:21]))
    assert all(a <= b for a, b in itertools.pairwise(by_agents))
    by_target = [erlang_a_metrics(ARRIVALS_PER_HOUR, AHT_S, 10, patience_s, t).service_level
                 for t in (0, 5, 20, 60, 300)]
    assert all(0.0 <= sl <= 1.0 for sl in by_target)
    assert all(a < b for a, b in itertools.pairwise(by_target))
    assert by_target[0] == pytest.approx(
        1 - erlang_a_metrics(ARRIVALS_PER_HOUR, AHT_S, 10, patience_s).p_wait)


# --------------------------------------------------------------------------- staffing


def test_square_root_staffing():
    assert square_root_staffing(ARRIVALS_PER_HOUR, AHT_S, 0.0) == 10
    assert square_root_staffing(ARRIVALS_PER_HOUR, AHT_S, 1.0) == 14  # 10 + 3.16
    assert square_root_staffing(ARRIVALS_PER_HOUR, AHT_S, 0.5) == 12  # 10 + 1.58
    assert square_root_staffing(_arrivals_for_load(400.0), AHT_S, 2.0) == 440
    assert square_root_staffing(ARRIVALS_PER_HOUR, AHT_S, -10.0) == 0


@pytest.mark.parametrize(
    ("arrivals_per_hour", "aht_s", "target_sl", "target_s"),
    [
        (100.0, 360.0, 0.8, 20.0),
        (100.0, 360.0, 0.0, 20.0),
        (1.0, 300.0, 0.9, 0.0),
        (900.0, 240.0, 0.9, 15.0),
        (_arrivals_for_load(1800.0), 360.0, 0.95, 10.0),
    ],
)
def test_min_agents_erlang_c_is_the_smallest_meeting_target(
    arrivals_per_hour, aht_s, target_sl, target_s
):
    agents = min_agents_erlang_c(arrivals_per_hour, aht_s, target_sl, target_s)
    best = erlang_c_metrics(arrivals_per_hour, aht_s, agents, target_s)
    short = erlang_c_metrics(arrivals_per_hour, aht_s, agents - 1, target_s)
    assert best.stable and best.service_level >= target_sl
    assert not (short.stable and short.service_level >= target_sl)


def test_min_agents_erlang_c_known_answer():
    # 12 agents give 0.598 (reference), 13 and 14 are checked directly.
    assert erlang_c_metrics(ARRIVALS_PER_HOUR, AHT_S, 13).service_level < 0.8
    assert erlang_c_metrics(ARRIVALS_PER_HOUR, AHT_S, 14).service_level >= 0.8
    assert min_agents_erlang_c(ARRIVALS_PER_HOUR, AHT_S, 0.8, 20.0) == 14


@pytest.mark.parametrize(
    ("arrivals_per_hour", "aht_s", "patience_s", "target_sl", "target_s", "max_abandon"),
    [
        (100.0, 360.0, 180.0, 0.8, 20.0, 0.05),
        (100.0, 360.0, 180.0, 0.0, 20.0, 0.15),  # only the abandonment cap binds
        (100.0, 360.0, 180.0, 0.95, 20.0, 1.0),  # only the service level binds
        (100.0, 360.0, 20.0, 0.0, 20.0, 0.5),  # very impatient: fewer agents than Erlangs
        (3000.0, 240.0, 120.0, 0.9, 30.0, 0.02),
        (_arrivals_for_load(1900.0), 360.0, 300.0, 0.8, 20.0, 0.03),
    ],
)
def test_min_agents_erlang_a_is_the_smallest_meeting_targets(
    arrivals_per_hour, aht_s, patience_s, target_sl, target_s, max_abandon
):
    def meets(agents):
        result = erlang_a_metrics(arrivals_per_hour, aht_s, agents, patience_s, target_s)
        return result.service_level >= target_sl and result.p_abandon <= max_abandon

    agents = min_agents_erlang_a(
        arrivals_per_hour, aht_s, patience_s, target_sl, target_s, max_abandon)
    assert meets(agents)
    assert agents == 0 or not meets(agents - 1)


def test_min_agents_erlang_a_below_offered_load_when_callers_give_up():
    agents = min_agents_erlang_a(ARRIVALS_PER_HOUR, AHT_S, 20.0, 0.0, 20.0, 0.5)
    assert agents < 10


def test_min_agents_erlang_a_with_endless_patience_agrees_with_erlang_c():
    assert min_agents_erlang_a(ARRIVALS_PER_HOUR, AHT_S, 1e9, 0.8, 20.0, 0.05) == 14


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: erlang_b(-1, 2.0), "servers must be >= 0, got -1"),
        (lambda: erlang_b(3, -2.0), "offered_load must be >= 0, got -2.0"),
        (lambda: erlang_b(2.5, 2.0), "servers must be a non-negative integer, got 2.5"),
        (lambda: erlang_c(3, float("nan")), "offered_load must be a number, got nan"),
        (lambda: erlang_c_metrics(100, -3, 12), "aht_s must be > 0, got -3"),
        (lambda: erlang_c_metrics(-5, 360, 12), "arrivals_per_hour must be >= 0, got -5"),
        (lambda: erlang_c_metrics(float("nan"), 360, 12), "arrivals_per_hour must be a number"),
        (lambda: erlang_c_metrics(100, 360, -2), "agents must be >= 0, got -2"),
        (lambda: erlang_c_metrics(100, 360, 12, -1), "target_s must be >= 0, got -1"),
        (lambda: erlang_a_metrics(100, 360, 12, 0), "patience_s must be > 0, got 0"),
        (lambda: erlang_a_metrics(100, 360, 12, float("nan")), "patience_s must be a number"),
        (lambda: erlang_a_metrics(100, 0, 12, 180), "aht_s must be > 0, got 0"),
        (lambda: erlang_a_metrics(100, 360, True, 180), "agents must be a non-negative integer"),
        (lambda: square_root_staffing(100, 360, float("nan")), "beta must be a number"),
        (lambda: min_agents_erlang_c(100, 360, 1.0, 20), r"target_sl must be in \[0, 1\)"),
        (lambda: min_agents_erlang_c(100, 360, 0.8, -20), "target_s must be >= 0, got -20"),
        (lambda: min_agents_erlang_a(100, 360, 180, 0.8, 20, 0), r"max_abandon must be in \(0"),
        (lambda: min_agents_erlang_a(100, 360, -1, 0.8, 20, 0.05), "patience_s must be > 0"),
        (lambda: min_agents_erlang_a(100, 360, 180, -0.1, 20, 0.05), "target_sl must be in"),
    ],
)
def test_bad_inputs_name_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_integral_floats_and_numpy_integers_are_accepted_as_counts():
    assert erlang_b(np.int64(10), 5.0) == erlang_b(10.0, 5.0) == erlang_b(10, 5.0)
