"""The queue maths the demo and the live feed draw waits and abandons from (Erlang A).

`data_access` may not import the simulator, so the little queueing theory the demo needs lives
here. Each 15-minute interval of a pool is taken as a stationary M/M/c+M queue (Erlang A):
Poisson arrivals at rate λ, c places each serving at rate μ = 1 / mean handle time, and
customers who give up after an exponential patience (rate θ). The documented approximations:

- stationary per interval (the queue is not carried over from one interval to the next);
- exponential service in the state probabilities, though the demo's handle times are
  lognormal (the simulator keeps them lognormal);
- one pool-wide abandonment rate θ̄ (the arrivals' mean) in the state probabilities, while each
  contact abandons after its own channel's patience;
- an arriving contact's offered wait (the wait it would have with infinite patience) is the
  time for the q contacts ahead of it to leave, Σ_{i=0..q} Exp(cμ + iθ̄), drawn as a gamma with
  that sum's mean and variance (exact when θ̄ = 0).

An arrival sees the stationary state (PASTA): with n < c busy it is answered at once; else it
waits its offered wait V unless its patience T runs out first: abandoned after T when T < V,
answered after V otherwise. So P(abandon) = θ · E[time in queue], the law the simulator's
patience estimate (abandons ÷ seconds waited) inverts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Queue lengths beyond this many standard deviations past the fluid queue are not tracked.
_TAIL_SD = 8.0


def state_width(arrival_rate: np.ndarray, service_rate: np.ndarray, abandon_rate: np.ndarray,
                places: np.ndarray) -> int:
    """Enough states (busy places + queue) that the cut tail's probability is negligible."""
    fluid = np.maximum(arrival_rate - places * service_rate, 0) / abandon_rate
    spread = np.sqrt(arrival_rate / abandon_rate)
    return int(np.max(places + fluid + _TAIL_SD * spread) + 30)


def state_probabilities(arrival_rate: np.ndarray, service_rate: np.ndarray,
                        abandon_rate: np.ndarray, places: np.ndarray) -> np.ndarray:
    """Stationary P(n in the system) per interval (rows) for n = 0 .. width - 1 (columns).

    A birth-death chain: births at λ, deaths at min(n, c)·μ + max(n − c, 0)·θ. Computed in
    logarithms, so long queues neither overflow nor underflow.
    """
    lam, mu, theta = (np.asarray(values, float)[:, None]
                      for values in (arrival_rate, service_rate, abandon_rate))
    c = np.asarray(places, float)[:, None]
    width = state_width(lam[:, 0], mu[:, 0], theta[:, 0], c[:, 0])
    n = np.arange(1, width, dtype=float)[None, :]
    deaths = np.minimum(n, c) * mu + np.maximum(n - c, 0) * theta
    with np.errstate(divide="ignore"):
        steps = np.log(lam) - np.log(deaths)
    log_p = np.concatenate([np.zeros((lam.shape[0], 1)), np.cumsum(steps, axis=1)], axis=1)
    log_p -= log_p.max(axis=1, keepdims=True)
    probabilities = np.exp(log_p)
    return probabilities / probabilities.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class QueueFigures:
    """Per interval: P(an arrival waits), P(it abandons), mean seconds in queue (all)."""

    waits: np.ndarray
    abandons: np.ndarray
    mean_queue_s: np.ndarray


def erlang_a(arrival_rate: np.ndarray, service_rate: np.ndarray, abandon_rate: np.ndarray,
             places: np.ndarray) -> QueueFigures:
    """Erlang A's figures per interval; rates per second. No arrivals: zeros."""
    lam = np.asarray(arrival_rate, float)
    probabilities = state_probabilities(np.maximum(lam, 1e-12), service_rate, abandon_rate,
                                        places)
    n = np.arange(probabilities.shape[1])[None, :]
    c = np.asarray(places)[:, None]
    waits = (probabilities * (n >= c)).sum(axis=1)
    queue = (probabilities * np.maximum(n - c, 0)).sum(axis=1)
    mean_queue_s = np.where(lam > 0, queue / np.maximum(lam, 1e-12), 0.0)
    abandons = np.asarray(abandon_rate, float) * mean_queue_s
    return QueueFigures(waits, np.minimum(abandons, 1.0), mean_queue_s)


def draw_offered_waits(probabilities: np.ndarray, service_rate: np.ndarray,
                       abandon_rate: np.ndarray, places: np.ndarray, interval: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
    """Offered waits (seconds) of arrivals in the given intervals (rows of `probabilities`).

    The state an arrival sees is drawn from its interval's row; q ahead of it means the sum of
    q + 1 exponential stages, drawn as a gamma of the same mean and variance.
    """
    rows, width = probabilities.shape
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative /= cumulative[:, -1:]
    # One increasing array: row j's cumulative probabilities shifted by j.
    flat = (cumulative + np.arange(rows)[:, None]).ravel()
    state = np.searchsorted(flat, interval + rng.random(interval.size) * (1 - 1e-12))
    state = np.minimum(state - interval * width, width - 1)
    c = np.asarray(places)
    ahead = state - c[interval]
    waiting = ahead >= 0
    # Per interval, the mean and variance of the stages' sum for each queue length ahead.
    rates = (c[:, None] * np.asarray(service_rate)[:, None]
             + np.arange(width)[None, :] * np.asarray(abandon_rate)[:, None])
    # A stage with no one to serve and no patience to lose never ends: its mean is infinite
    # (only reached by intervals with no agents, where every arrival abandons first).
    with np.errstate(divide="ignore"):
        means, variances = np.cumsum(1 / rates, axis=1), np.cumsum(1 / rates ** 2, axis=1)
    mean = means[interval[waiting], ahead[waiting]]
    variance = variances[interval[waiting], ahead[waiting]]
    offered = np.zeros(interval.size)
    offered[waiting] = rng.gamma(mean ** 2 / variance, variance / mean)
    return offered
