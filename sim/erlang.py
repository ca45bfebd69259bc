"""Analytic queueing models for call and chat staffing: Erlang B, Erlang C and Erlang A.

The discrete-event simulator is slow and noisy; these closed forms give the instant baseline a
planner compares it with, the starting agent counts for its searches and a check on its output.

Units: arrival rates are per hour (`arrivals_per_hour`), durations are seconds (`aht_s` = mean
handling time, `patience_s` = mean patience before abandoning, `target_s` = service-level
threshold). Offered load A = arrivals_per_hour · aht_s / 3600 is in Erlangs.

Models:

* Erlang B (M/M/c/c): blocked calls are lost.
* Erlang C (M/M/c): everyone waits as long as it takes; only defined for A < agents.
* Erlang A (M/M/c+M): waiting customers abandon after an exponential patience. Computed exactly
  from its birth–death chain (see `erlang_a_metrics`), so it is defined at any load.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

SECONDS_PER_HOUR = 3600.0

# Erlang A chain truncation: keep the states whose probability is within e^-40 (≈ 4e-18) of the
# most likely state's and whose omitted geometric tail is below the same bound.
_LOG_NEGLIGIBLE = 40.0
_MAX_CHAIN_STATES = 5_000_000
_MAX_QUEUE_MODE = 1e12  # beyond this, float state indices lose integer precision
_FIRST_CHUNK = 256
_DIRECT_SUM_LIMIT = 1_000_000


# --------------------------------------------------------------------------- validation


def _number(name: str, value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if math.isnan(number):
        raise ValueError(f"{name} must be a number, got nan")
    if math.isinf(number):
        raise ValueError(f"{name} must be finite, got {value}")
    return number


def _at_least_zero(name: str, value: object) -> float:
    number = _number(name, value)
    if number < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return number


def _positive(name: str, value: object) -> float:
    number = _number(name, value)
    if number <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return number


def _count(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    try:
        count = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        number = _number(name, value)
        if not number.is_integer():
            raise ValueError(f"{name} must be a non-negative integer, got {value}") from None
        count = int(number)
    if count < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return count


def _share(name: str, value: object, *, low_open: bool, high_open: bool) -> float:
    number = _number(name, value)
    too_low = number <= 0 if low_open else number < 0
    too_high = number >= 1 if high_open else number > 1
    if too_low or too_high:
        interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return number


def offered_load_erlangs(arrivals_per_hour: float, aht_s: float) -> float:
    """Offered load in Erlangs: the number of agents the work would keep busy with no slack."""
    arrivals = _at_least_zero("arrivals_per_hour", arrivals_per_hour)
    aht = _positive("aht_s", aht_s)
    return arrivals * aht / SECONDS_PER_HOUR


# --------------------------------------------------------------------------- Erlang B and C


def erlang_b(servers: int, offered_load: float) -> float:
    """Blocking probability of M/M/c/c, the building block of Erlang C.

    Uses B(k) = A·B(k−1) / (k + A·B(k−1)): every intermediate value is a probability, so there
    is no overflow or cancellation even for thousands of servers.
    """
    count = _count("servers", servers)
    load = _at_least_zero("offered_load", offered_load)
    blocking = 1.0
    for k in range(1, count + 1):
        carried = load * blocking
        blocking = carried / (k + carried)
        if blocking == 0.0:  # underflow: stays 0 for every larger k
            break
    return blocking


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival waits in M/M/c (1.0 when load >= servers: the queue grows)."""
    count = _count("servers", servers)
    load = _at_least_zero("offered_load", offered_load)
    if load >= count:
        return 1.0
    blocking = erlang_b(count, load)
    return count * blocking / (count - load * (1.0 - blocking))


@dataclass(frozen=True, slots=True)
class ErlangCResult:
    """M/M/c steady state; for unstable input (load >= agents) the queue grows without bound.

    offered_load: Erlangs. occupancy: load / agents, capped at 1. p_wait: share of arrivals that
    wait. asa_s: mean wait of all arrivals (those answered at once count 0 s). service_level:
    share answered within target_s. stable: load < agents.
    """

    offered_load: float
    occupancy: float
    p_wait: float
    asa_s: float
    service_level: float
    stable: bool


def erlang_c_metrics(
    arrivals_per_hour: float, aht_s: float, agents: int, target_s: float = 20.0
) -> ErlangCResult:
    """Classic Erlang C staffing figures; overload is reported (stable=False), never raised."""
    load = offered_load_erlangs(arrivals_per_hour, aht_s)
    aht = float(aht_s)
    count = _count("agents", agents)
    target = _at_least_zero("target_s", target_s)
    if load == 0.0:
        return ErlangCResult(0.0, 0.0, 0.0, 0.0, 1.0, True)
    occupancy = min(load / count, 1.0) if count else 1.0
    if load >= count:
        return ErlangCResult(load, occupancy, 1.0, math.inf, 0.0, False)
    p_wait = erlang_c(count, load)
    slack = count - load
    asa = p_wait * aht / slack
    service_level = 1.0 - p_wait * math.exp(-slack * target / aht)
    return ErlangCResult(load, occupancy, p_wait, asa, min(max(service_level, 0.0), 1.0), True)


# --------------------------------------------------------------------------- Erlang A


@dataclass(frozen=True, slots=True)
class ErlangAResult:
    """M/M/c+M steady state (always exists: abandonment keeps the queue finite).

    offered_load: Erlangs. occupancy: mean busy agents / agents (0 with no agents).
    p_wait: share of arrivals finding every agent busy (PASTA).
    p_abandon: share of arrivals who hang up before being answered.
    asa_s: mean time in queue of ALL arrivals — answered, abandoned, and those answered at once
      (0 s) — i.e. E[queue length] / arrival rate by Little's law.
    asa_answered_s: mean wait of the answered arrivals only (0 s for those answered at once);
      nan when nobody is answered (no agents).
    service_level: share of ALL arrivals answered within target_s; abandoned arrivals count as
      missing the target, arrivals finding a free agent as answered at 0 s.
    """

    offered_load: float
    occupancy: float
    p_wait: float
    p_abandon: float
    asa_s: float
    asa_answered_s: float
    service_level: float


def _death_rates(states: np.ndarray, agents: int, mu: float, theta: float) -> np.ndarray:
    return np.minimum(states, agents) * mu + np.maximum(states - agents, 0.0) * theta


def _chain_window(
    lam: float, mu: float, theta: float, agents: int
) -> tuple[np.ndarray, np.ndarray]:
    """States n (ascending) and their log-probabilities up to a constant, over the window that
    holds all but ~1e-17 of the mass.

    The chain has π(n+1)/π(n) = λ / d(n+1) with d increasing, so π is unimodal: walk out from the
    mode in growing chunks (cumulative sums of log ratios, no factorials) and stop on each side
    once the state is e^-40 below the mode and the omitted tail, bounded by a geometric series
    with the last ratio, is too. The window never needs to start at 0 or end at a fixed N, so
    its size follows the spread of the distribution (~√load), not the agent count.
    """
    load = lam / mu
    if load < agents:
        mode = math.floor(load)
    else:
        queue_mode = math.floor((lam - agents * mu) / theta)
        if queue_mode > _MAX_QUEUE_MODE:
            raise ValueError(
                f"patience_s must be shorter for this overload: about {queue_mode:.3g} callers "
                f"would queue (offered load {load:.6g} >= agents {agents})"
            )
        mode = agents + queue_mode
    log_lam = math.log(lam)
    limit = -_LOG_NEGLIGIBLE

    with np.errstate(divide="ignore"):
        # Upwards: log π(n) − log π(mode) for n > mode.
        upper: list[np.ndarray] = []
        last, start, size, total = 0.0, mode + 1, _FIRST_CHUNK, 0
        while True:
            states = np.arange(start, start + size, dtype=float)
            cumulative = last + np.cumsum(log_lam - np.log(_death_rates(states, agents, mu, theta)))
            ratio = lam / _death_rates(states + 1.0, agents, mu, theta)  # π(n+1) / π(n)
            tail = _log_geometric_tail(cumulative, ratio)
            done = np.flatnonzero((cumulative < limit) & (tail < limit))
            if done.size:
                upper.append(cumulative[: done[0] + 1])
                break
            upper.append(cumulative)
            last, start, total, size = cumulative[-1], start + size, total + size, size * 2
            if total > _MAX_CHAIN_STATES:
                raise ValueError(_too_many_states(load, agents))

        # Downwards: log π(n − 1) − log π(mode) for n = mode, mode − 1, ..., 1.
        lower: list[np.ndarray] = []
        last, top, size, total = 0.0, mode, _FIRST_CHUNK, 0
        while top > 0:
            states = np.arange(top, max(top - size, 0), -1, dtype=float)
            cumulative = last + np.cumsum(np.log(_death_rates(states, agents, mu, theta)) - log_lam)
            ratio = _death_rates(states - 1.0, agents, mu, theta) / lam  # π(n−2) / π(n−1)
            tail = _log_geometric_tail(cumulative, ratio)
            done = np.flatnonzero((cumulative < limit) & (tail < limit))
            if done.size:
                lower.append(cumulative[: done[0] + 1])
                break
            lower.append(cumulative)
            last, top, size = cumulative[-1], top - states.size, size * 2
            total += states.size
            if total > _MAX_CHAIN_STATES:
                raise ValueError(_too_many_states(load, agents))

    below = np.concatenate(lower)[::-1] if lower else np.empty(0)
    log_weights = np.concatenate([below, [0.0], np.concatenate(upper)])
    first = mode - below.size
    states = np.arange(first, first + log_weights.size, dtype=float)
    return states, log_weights


def _log_geometric_tail(log_weight: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """log of w·r/(1 − r), the bound on the mass beyond a state when ratios only shrink further
    out; +inf where the ratio is not yet below 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = log_weight + np.log(ratio) - np.log1p(-ratio)
    return np.where(ratio < 1.0, bound, np.inf)


def _too_many_states(load: float, agents: int) -> str:
    return (
        f"patience_s is too long for offered load {load:.6g} with {agents} agents: the queue "
        f"distribution spans more than {_MAX_CHAIN_STATES} states"
    )


def _wait_sums(first_position: int, positions: np.ndarray, agents: int, mu: float,
               theta: float) -> np.ndarray:
    """Σ_{i=1..j} 1 / (c·μ + i·θ) for each queue position j (contiguous, from first_position)."""
    rate_all = agents * mu
    if first_position - 1 <= _DIRECT_SUM_LIMIT:
        before = np.arange(1, first_position, dtype=float)
        offset = float(np.sum(1.0 / (rate_all + before * theta)))
    else:
        alpha = rate_all / theta
        offset = float(special.digamma(alpha + first_position) - special.digamma(alpha + 1.0))
        offset /= theta
    return offset + np.cumsum(1.0 / (rate_all + positions * theta))


def erlang_a_metrics(
    arrivals_per_hour: float,
    aht_s: float,
    agents: int,
    patience_s: float,
    target_s: float = 20.0,
) -> ErlangAResult:
    """Erlang A staffing figures, exact to double precision, at any load.

    Stationary distribution: birth–death chain on n = callers in system, birth rate λ, death rate
    min(n, c)·μ + max(n − c, 0)·θ (μ = 1/aht_s, θ = 1/patience_s), normalised in log space over
    the window holding all but ~1e-17 of the mass (see `_chain_window`).

    Service level: an arrival that finds n >= c callers stands at queue position j = n − c + 1.
    Until it reaches an agent, each step forward happens at rate c·μ + (i − 1)·θ when i − 1 callers
    are ahead (a service completion or an abandonment ahead), so its time-to-front S is a sum of
    independent exponentials with rates θ(α + i − 1), i = 1..j, α = c·μ/θ. Its own patience
    P ~ Exp(θ) is independent of S, hence

        P(answered within T) = E[e^(−θS); S ≤ T] = α/(α + j) · P(S' ≤ T),

    where S' (the e^(−θs)-tilted S) has rates θ(α + i), i = 1..j. A sum of exponentials with
    rates θ(α + i) is −log(U)/θ with U ~ Beta(α + 1, j) (compare Laplace transforms), so
    P(S' ≤ T) = 1 − I_x(α + 1, j) with x = e^(−θT): the regularised incomplete beta function,
    evaluated stably by scipy.special.betaincc. No truncated matrix exponential or
    uniformisation series is needed. Likewise the answered wait from position j has mean
    E[S·1{S < P}] / P(S < P) = Σ_{i=1..j} 1/(c·μ + i·θ).
    """
    load = offered_load_erlangs(arrivals_per_hour, aht_s)
    count = _count("agents", agents)
    patience = _positive("patience_s", patience_s)
    target = _at_least_zero("target_s", target_s)
    if load == 0.0:
        return ErlangAResult(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)

    lam = float(arrivals_per_hour) / SECONDS_PER_HOUR
    mu = 1.0 / float(aht_s)
    theta = 1.0 / patience
    states, log_weights = _chain_window(lam, mu, theta, count)
    probabilities = np.exp(log_weights - log_weights.max())
    probabilities /= probabilities.sum()

    busy = np.minimum(states, count)
    queued = states >= count
    queue_length = float(np.dot(probabilities, np.maximum(states - count, 0.0)))
    p_wait = float(probabilities[queued].sum())
    occupancy = float(np.dot(probabilities, busy)) / count if count else 0.0

    queue_probabilities = probabilities[queued]
    answered_now = float(probabilities[~queued].sum())
    if queue_probabilities.size:
        positions = states[queued] - count + 1.0
        alpha = count * mu / theta
        reach = alpha / (alpha + positions)  # P(answered eventually | position j)
        within = special.betaincc(alpha + 1.0, positions, math.exp(-theta * target))
        service_level = answered_now + float(np.dot(queue_probabilities, reach * within))
        wait_sums = _wait_sums(int(positions[0]), positions, count, mu, theta)
        answered = answered_now + float(np.dot(queue_probabilities, reach))
        answered_wait = float(np.dot(queue_probabilities, reach * wait_sums))
    else:
        service_level, answered, answered_wait = answered_now, answered_now, 0.0
    asa_answered = answered_wait / answered if answered > 0.0 else math.nan

    return ErlangAResult(
        offered_load=load,
        occupancy=min(occupancy, 1.0),
        p_wait=p_wait,
        p_abandon=min(theta * queue_length / lam, 1.0),
        asa_s=queue_length / lam,
        asa_answered_s=asa_answered,
        service_level=min(max(service_level, 0.0), 1.0),
    )


# --------------------------------------------------------------------------- staffing


def square_root_staffing(arrivals_per_hour: float, aht_s: float, beta: float) -> int:
    """Halfin–Whitt rule of thumb ⌈A + β·√A⌉ (never below 0); β sets the quality of service.

    Float noise below 1e-9 above an integer is ignored, so A = 10, β = 0 gives 10, not 11.
    """
    load = offered_load_erlangs(arrivals_per_hour, aht_s)
    quality = _number("beta", beta)
    agents = load + quality * math.sqrt(load)
    return max(0, math.ceil(agents - 1e-9 * max(1.0, abs(agents))))


def _smallest_meeting(meets: Callable[[int], bool], start: int) -> int:
    """Smallest count >= start for which `meets` holds, assuming it stays true once true.

    Gallops upwards (1, 2, 4, ... past the last failure) and then bisects, so it needs
    O(log(answer − start)) model evaluations.
    """
    if meets(start):
        return start
    failing, step = start, 1
    candidate = start + 1
    while not meets(candidate):
        failing, step = candidate, step * 2
        candidate = failing + step
        if step > 2**40:  # unreachable for valid targets; guards against a broken model
            raise RuntimeError("agent search did not converge")
    while candidate - failing > 1:
        middle = (failing + candidate) // 2
        if meets(middle):
            candidate = middle
        else:
            failing = middle
    return candidate


def min_agents_erlang_c(
    arrivals_per_hour: float, aht_s: float, target_sl: float, target_s: float
) -> int:
    """Fewest agents for which Erlang C is stable and answers target_sl within target_s.

    target_sl must be < 1: with any arrivals some callers always wait a positive time.
    """
    load = offered_load_erlangs(arrivals_per_hour, aht_s)
    sl_target = _share("target_sl", target_sl, low_open=False, high_open=True)
    _at_least_zero("target_s", target_s)
    if load == 0.0:
        return 0

    def meets(agents: int) -> bool:
        result = erlang_c_metrics(arrivals_per_hour, aht_s, agents, target_s)
        return result.stable and result.service_level >= sl_target

    return _smallest_meeting(meets, math.floor(load) + 1)


def min_agents_erlang_a(
    arrivals_per_hour: float,
    aht_s: float,
    patience_s: float,
    target_sl: float,
    target_s: float,
    max_abandon: float,
) -> int:
    """Fewest agents for which Erlang A meets both the service level and the abandonment cap.

    The search starts at a proven lower bound: answered work A·(1 − P(abandon)) must fit in
    fewer than c busy agents, and the service level cannot exceed 1 − P(abandon), so
    c > A·max(1 − max_abandon, target_sl). target_sl must be < 1 and max_abandon > 0: with any
    arrivals some callers always wait and some always abandon.
    """
    load = offered_load_erlangs(arrivals_per_hour, aht_s)
    _positive("patience_s", patience_s)
    sl_target = _share("target_sl", target_sl, low_open=False, high_open=True)
    _at_least_zero("target_s", target_s)
    abandon_cap = _share("max_abandon", max_abandon, low_open=True, high_open=False)
    if load == 0.0:
        return 0

    def meets(agents: int) -> bool:
        result = erlang_a_metrics(arrivals_per_hour, aht_s, agents, patience_s, target_s)
        return result.service_level >= sl_target and result.p_abandon <= abandon_cap

    needed_share = max(1.0 - abandon_cap, sl_target)
    start = max(0, math.floor(load * needed_share * (1.0 - 1e-9)))
    return _smallest_meeting(meets, start)
