"""SimPy model of one operating day of customer service.

Scenario: contacts arrive on each channel as a Poisson process whose rate changes every interval.
A share finishes alone in self-service (web cabinet, app). A share is answered by a bot first;
the bot finishes some of them, and the rest join the human queue carrying the time already
spent, so their remaining patience is shorter.
Operators in a pool take contacts first come, first served, up to `concurrency` at a time; the
number on duty changes at interval boundaries (shifts, shrinkage). A waiting contact gives up
when its patience runs out: `yield request | env.timeout(patience)`. The day starts after a
warm-up at the overnight rate. When a pool closes, its last crew serves the queue already
waiting (`duty_places`); after midnight the same rule drains the day, so contacts still
waiting are served, or abandon, or stay unserved when nobody is on duty, and are counted.

Two engines run this model. `simulate_pool` is the reference, written like SimPy's own
examples: one process per contact. `simulate_pool_fast` keeps the same rules with two events
per contact (arrival and service end), about 3.5 times faster; tests check that both give the
same record for every contact.

Randomness: one `numpy.random.Generator` per purpose (arrivals, routing, bot times, handle
times, patience), spawned from `SeedSequence(seed)` by replication and channel. Scenarios that
share a seed therefore see the same customers (common random numbers): the same arrival times,
the same handle-time draws, the same patience, which makes differences between scenarios sharp.

Units: seconds; time 0 is midnight at the start of the day.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import polars as pl
import simpy

from sim.config import DAY_S, Channel, Pool, Scenario

# New purposes go at the end: each purpose's stream depends on its position.
PURPOSES = ("arrivals", "routing", "bot", "handle", "patience", "self_service")
PATH_AGENT, PATH_BOT_CONTAINED, PATH_ESCALATED = "agent", "bot_contained", "escalated"
PATH_SELF_SERVICE = "self_service"
# Blockers (operators off duty) take freed places before any waiting contact.
OFF_DUTY_PRIORITY, CONTACT_PRIORITY = 0, 1


@dataclass(frozen=True)
class ChannelDraws:
    """Everything random about one channel's customers in one replication."""

    arrival_s: np.ndarray
    to_bot_u: np.ndarray
    contain_u: np.ndarray
    bot_unit: np.ndarray  # Exp(1) draws, scaled by the bot's mean time
    handle_unit: np.ndarray  # Exp(1) or N(0,1) draws, shaped by the channel's distribution
    patience_unit: np.ndarray  # Exp(1) draws, scaled by the channel's mean patience
    self_service_u: np.ndarray


def _rng(seed: int, replication: int, channel_index: int, purpose: str) -> np.random.Generator:
    sequence = np.random.SeedSequence(
        entropy=seed, spawn_key=(replication, channel_index, PURPOSES.index(purpose)))
    return np.random.default_rng(sequence)


def draw_channel(scenario: Scenario, channel: Channel, channel_index: int, replication: int,
                 seed: int) -> ChannelDraws:
    """Arrival times for the day plus the warm-up, and each customer's random draws."""
    rng = _rng(seed, replication, channel_index, "arrivals")
    offered = np.asarray(scenario.offered(channel))
    width = scenario.interval_s
    counts = rng.poisson(offered)
    starts = np.repeat(np.arange(offered.size) * width, counts)
    times = starts + rng.random(starts.size) * width
    if scenario.warmup_s > 0:
        # The night before: the rate of the day's last interval, for warm-up seconds before 0.
        rate = offered[-1] / width
        warm = rng.poisson(rate * scenario.warmup_s)
        times = np.concatenate([-scenario.warmup_s + rng.random(warm) * scenario.warmup_s,
                                times])
    times.sort()
    size = times.size
    routing = _rng(seed, replication, channel_index, "routing")
    handle = _rng(seed, replication, channel_index, "handle")
    handle_unit = (handle.standard_normal(size) if channel.handle_distribution == "lognormal"
                   else handle.exponential(1.0, size))
    return ChannelDraws(
        arrival_s=times,
        to_bot_u=routing.random(size),
        contain_u=routing.random(size),
        bot_unit=_rng(seed, replication, channel_index, "bot").exponential(1.0, size),
        handle_unit=handle_unit,
        patience_unit=_rng(seed, replication, channel_index, "patience").exponential(1.0, size),
        self_service_u=_rng(seed, replication, channel_index, "self_service").random(size),
    )


def handle_times(channel: Channel, pool: Pool, unit: np.ndarray,
                 arrival_s: np.ndarray | None = None, interval_s: float = 0.0) -> np.ndarray:
    """Handle seconds per contact; concurrency makes each contact slower by a set factor.

    With per-interval means, each contact's mean is its arrival interval's (warm-up arrivals,
    before 0, follow the last interval as the warm-up's arrival rate does)."""
    slowdown = 1 + pool.concurrency_slowdown * (pool.concurrency - 1)
    if channel.aht_by_interval_s and arrival_s is not None:
        count = len(channel.aht_by_interval_s)
        index = np.floor(arrival_s / interval_s).astype(np.int64)
        index = np.where(index < 0, count - 1, np.minimum(index, count - 1))
        mean = np.asarray(channel.aht_by_interval_s)[index] * slowdown
    else:
        mean = channel.aht_s * slowdown
    if channel.handle_distribution == "lognormal":
        sigma2 = math.log1p(channel.handle_cv ** 2)
        log_mean = np.log(mean) if isinstance(mean, np.ndarray) else math.log(mean)
        return np.exp(log_mean - sigma2 / 2 + math.sqrt(sigma2) * unit)
    return mean * unit


@dataclass
class _Queue:
    """Per-pool arrays that the SimPy processes fill in."""

    join_s: np.ndarray
    handle_s: np.ndarray
    patience_s: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    abandoned: np.ndarray


def contact(env: simpy.Environment, operators: simpy.PriorityResource, queue: _Queue,
            index: int):
    """One contact in the human queue: wait for an operator or give up, then be served."""
    with operators.request(priority=CONTACT_PRIORITY) as request:
        patience = queue.patience_s[index]
        if math.isinf(patience):
            yield request
        else:
            outcome = yield request | env.timeout(patience)
            if request not in outcome:
                queue.abandoned[index] = True
                queue.end_s[index] = env.now
                return
        queue.start_s[index] = env.now
        yield env.timeout(queue.handle_s[index])
        queue.end_s[index] = env.now


def arrivals(env: simpy.Environment, operators: simpy.PriorityResource, queue: _Queue):
    """Releases contacts into the queue at their (pre-drawn, sorted) join times."""
    for index, join in enumerate(queue.join_s):
        if join > env.now:
            yield env.timeout(join - env.now)
        env.process(contact(env, operators, queue, index))


def roster(env: simpy.Environment, operators: simpy.PriorityResource, places: list[int],
           interval_s: float, warmup_s: float, drain_places: int):
    """Changes the places on duty at each interval boundary by holding off-duty 'blockers'.

    An operator going off duty finishes the current contact first: the blocker waits for the
    place to free up, ahead of waiting contacts.
    """
    blockers: list[simpy.resources.resource.PriorityRequest] = []

    def set_on_duty(on_duty: int) -> None:
        wanted = operators.capacity - on_duty
        while len(blockers) > wanted:
            blocker = blockers.pop()
            if blocker.triggered:
                operators.release(blocker)
            else:
                blocker.cancel()
        while len(blockers) < wanted:
            blockers.append(operators.request(priority=OFF_DUTY_PRIORITY))

    set_on_duty(places[-1])  # warm-up: the night before
    if warmup_s > 0:
        yield env.timeout(warmup_s)
    for on_duty in places:
        set_on_duty(on_duty)
        yield env.timeout(interval_s)
    set_on_duty(drain_places)


def simulate_pool(scenario: Scenario, pool: Pool, join_s: np.ndarray, handle_s: np.ndarray,
                  patience_s: np.ndarray) -> _Queue:
    """Run one pool's queue for the day; inputs are sorted by join time (seconds from 0)."""
    places, drain, capacity = duty_places(scenario, pool)
    env = simpy.Environment(initial_time=-scenario.warmup_s)
    operators = simpy.PriorityResource(env, capacity=capacity)
    size = join_s.size
    queue = _Queue(join_s, handle_s, patience_s, np.full(size, np.nan), np.full(size, np.nan),
                   np.zeros(size, dtype=bool))
    env.process(roster(env, operators, places, scenario.interval_s, scenario.warmup_s, drain))
    env.process(arrivals(env, operators, queue))
    env.run()
    return queue


def simulate_pool_fast(scenario: Scenario, pool: Pool, join_s: np.ndarray,
                       handle_s: np.ndarray, patience_s: np.ndarray) -> _Queue:
    """The same queue as `simulate_pool`, with two SimPy events per contact instead of ~8.

    Same rules, same results (the tests compare both engines record by record): first come,
    first served; off-duty operators take freed places before waiting contacts; a waiting
    contact whose patience ran out is skipped when its turn comes and recorded as abandoned at
    its deadline, which is when the process model's `request | timeout(patience)` fires.
    """
    places, drain, capacity = duty_places(scenario, pool)
    env = simpy.Environment(initial_time=-scenario.warmup_s)
    size = join_s.size
    queue = _Queue(join_s, handle_s, patience_s, np.full(size, np.nan), np.full(size, np.nan),
                   np.zeros(size, dtype=bool))
    joins, handles = join_s.tolist(), handle_s.tolist()
    deadlines = (join_s + patience_s).tolist()
    waiting: deque[int] = deque()
    free, off_duty, off_duty_pending = capacity, 0, 0

    def serve(index: int) -> None:
        queue.start_s[index] = env.now
        queue.end_s[index] = env.now + handles[index]
        env.timeout(handles[index]).callbacks.append(place_freed)

    def place_freed(_event=None) -> None:
        nonlocal free, off_duty, off_duty_pending
        if off_duty_pending:
            off_duty_pending -= 1
            off_duty += 1
            return
        while waiting:
            index = waiting.popleft()
            if deadlines[index] > env.now:
                serve(index)
                return
            queue.abandoned[index] = True
            queue.end_s[index] = deadlines[index]
        free += 1

    def set_on_duty(on_duty: int) -> None:
        nonlocal free, off_duty, off_duty_pending
        wanted = capacity - on_duty
        while off_duty + off_duty_pending > wanted:
            if off_duty_pending:
                off_duty_pending -= 1
            else:
                off_duty -= 1
                place_freed()
        while off_duty + off_duty_pending < wanted:
            if free:
                free -= 1
                off_duty += 1
            else:
                off_duty_pending += 1

    def shifts():
        set_on_duty(places[-1])
        if scenario.warmup_s > 0:
            yield env.timeout(scenario.warmup_s)
        for on_duty in places:
            set_on_duty(on_duty)
            yield env.timeout(scenario.interval_s)
        set_on_duty(drain)

    def arrivals_fast():
        nonlocal free
        for index, join in enumerate(joins):
            if join > env.now:
                yield env.timeout(join - env.now)
            if free and not waiting:
                free -= 1
                serve(index)
            else:
                waiting.append(index)

    env.process(shifts())
    env.process(arrivals_fast())
    env.run()
    for index in waiting:  # nobody left on duty: they give up at their patience, or stay
        if math.isfinite(deadlines[index]):  # unserved (infinite patience), as in the
            queue.abandoned[index] = True  # process model, where the request never fires
            queue.end_s[index] = deadlines[index]
    return queue


def duty_places(scenario: Scenario, pool: Pool) -> tuple[list[int], int, int]:
    """Places on duty per interval, the drain after midnight, and the resource's capacity.

    Closing rule (the common office rule): when a pool closes (its opening hours end), the
    operators of its last open interval stay until the queue already waiting is served. No
    new contact arrives while it is closed, so keeping that crew on duty for the closed
    intervals gives exactly that: they serve who is left, then idle, unpaid (the cost counts
    scheduled operators). The day's end is the same rule: the last open interval's crew
    drains the queue after midnight. A crew of 0 serves nobody: contacts left then abandon
    at their patience or stay unserved, and both are counted.
    """
    places = [n * pool.concurrency for n in scenario.available(pool)]
    is_open = [pool.open_h <= i * scenario.interval_minutes / 60 < pool.close_h
               for i in range(len(places))]
    open_places = [p for p, opened in zip(places, is_open, strict=True) if opened]
    closing_crew = open_places[-1] if open_places else 0  # the night before, for the first
    effective = []
    for on_duty, opened in zip(places, is_open, strict=True):
        if opened:
            closing_crew = on_duty
            effective.append(on_duty)
        else:
            effective.append(max(on_duty, closing_crew))
    drain = open_places[-1] if open_places else 0
    return effective, drain, max(max(effective, default=0), drain, 1)


ENGINES = {"process": simulate_pool, "fast": simulate_pool_fast}


RECORD_SCHEMA = {
    "replication": pl.Int32, "channel": pl.String, "pool": pl.String, "arrival_s": pl.Float64,
    "interval": pl.Int32, "path": pl.String, "bot_s": pl.Float64, "queue_join_s": pl.Float64,
    "wait_s": pl.Float64, "service_start_s": pl.Float64, "service_end_s": pl.Float64,
    "handle_s": pl.Float64, "answered": pl.Boolean, "abandoned": pl.Boolean,
    "warmup": pl.Boolean,
}


def simulate_day(scenario: Scenario, replication: int = 0, seed: int = 0,
                 engine: str = "fast", include_warmup: bool = False) -> pl.DataFrame:
    """One replication: a flat record per contact that arrived during the day.

    With `include_warmup`, contacts of the warm-up come too (`warmup` is true): they still
    occupy operators and queue places after midnight, which occupancy and queue length count.

    `engine="process"` runs the reference model (a SimPy process per contact); the default
    "fast" engine gives the same records with fewer events.
    """
    simulate_queue = ENGINES[engine]
    per_channel = []
    for index, channel in enumerate(scenario.channels):
        draws = draw_channel(scenario, channel, index, replication, seed)
        pool = scenario.pool(channel.pool)
        self_served = draws.self_service_u < channel.self_service_share
        # Bot shares are of all arrivals; `position` places each other customer on that
        # scale, so the same customers reach the bot whatever else changes (common random
        # numbers) and an extra share only adds customers to those the bot already takes.
        position = draws.to_bot_u * (1.0 - channel.self_service_share)
        base_bot = ~self_served & (position < channel.bot_share)
        extra_bot = (~self_served & ~base_bot
                     & (position < channel.bot_share + channel.extra_bot_share))
        to_bot = base_bot | extra_bot
        contained = ((base_bot & (draws.contain_u < channel.bot_containment))
                     | (extra_bot & (draws.contain_u < channel.extra_bot_containment)))
        bot_s = np.where(to_bot, draws.bot_unit * channel.bot_handle_s, 0.0)
        patience = (np.full(draws.arrival_s.size, np.inf) if channel.patience_s is None
                    else draws.patience_unit * channel.patience_s)
        # Patience is a clock that started at arrival: time in the bot used part of it, and
        # whoever runs out while still in the bot leaves without reaching the queue.
        remaining = patience - bot_s
        gave_up = to_bot & ~contained & (remaining <= 0)
        per_channel.append({
            "channel": channel.name, "pool": pool.name, "arrival_s": draws.arrival_s,
            "self_served": self_served, "to_bot": to_bot, "contained": contained,
            "gave_up": gave_up, "bot_s": bot_s,
            "patience_s": patience, "remaining_s": remaining,
            "handle_s": handle_times(channel, pool, draws.handle_unit, draws.arrival_s,
                                     scenario.interval_s),
        })

    frames = []
    for pool in scenario.pools:
        members = [c for c in per_channel if c["pool"] == pool.name]
        if not members:
            continue
        human = [~c["contained"] & ~c["gave_up"] & ~c["self_served"] for c in members]
        join = np.concatenate([c["arrival_s"][h] + c["bot_s"][h] for c, h in zip(
            members, human, strict=True)])
        order = np.argsort(join, kind="stable")
        handle = np.concatenate([c["handle_s"][h] for c, h in zip(members, human, strict=True)])
        patience = np.concatenate([c["remaining_s"][h] for c, h in zip(members, human,
                                                                       strict=True)])
        queue = simulate_queue(scenario, pool, join[order], handle[order], patience[order])
        served = {name: np.empty(0) for name in ("start", "end", "abandoned")}
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        served["start"] = queue.start_s[inverse]
        served["end"] = queue.end_s[inverse]
        served["abandoned"] = queue.abandoned[inverse]
        offset = 0
        for channel, is_human in zip(members, human, strict=True):
            count = int(is_human.sum())
            frames.append(_records(scenario, replication, channel, is_human,
                                   {key: value[offset:offset + count]
                                    for key, value in served.items()}, include_warmup))
            offset += count
    return pl.concat(frames) if frames else pl.DataFrame(schema=RECORD_SCHEMA)


def _records(scenario: Scenario, replication: int, channel: dict, human: np.ndarray,
             served: dict[str, np.ndarray], include_warmup: bool) -> pl.DataFrame:
    size = channel["arrival_s"].size
    start = np.full(size, np.nan)
    end = np.full(size, np.nan)
    abandoned = np.zeros(size, dtype=bool)
    start[human], end[human], abandoned[human] = served["start"], served["end"], \
        served["abandoned"]
    arrival = channel["arrival_s"]
    contained, gave_up = channel["contained"], channel["gave_up"]
    self_served = channel["self_served"]
    end[contained] = arrival[contained] + channel["bot_s"][contained]
    end[self_served] = arrival[self_served]  # finished alone; the time is the customer's
    end[gave_up] = arrival[gave_up] + channel["patience_s"][gave_up]
    abandoned[gave_up] = True
    join = np.where(human, arrival + channel["bot_s"], np.nan)
    # Clock arithmetic (now + (join - now)) can land a hair before `join`: waits are >= 0.
    wait = np.where(human, np.maximum(np.where(abandoned, end, start) - join, 0.0), 0.0)
    path = np.where(self_served, PATH_SELF_SERVICE, np.where(
        contained, PATH_BOT_CONTAINED, np.where(channel["to_bot"], PATH_ESCALATED, PATH_AGENT)))
    warmup = arrival < 0
    keep = (arrival < DAY_S) if include_warmup else (~warmup & (arrival < DAY_S))
    frame = pl.DataFrame({
        "arrival_s": arrival, "path": path, "bot_s": channel["bot_s"], "queue_join_s": join,
        "wait_s": wait, "service_start_s": start, "service_end_s": end,
        "handle_s": np.where(human & ~abandoned, channel["handle_s"], np.nan),
        "answered": human & ~abandoned & ~np.isnan(start), "abandoned": abandoned,
        "warmup": warmup,
    }).filter(pl.Series(keep))
    return frame.with_columns(
        replication=pl.lit(replication, pl.Int32), channel=pl.lit(channel["channel"]),
        pool=pl.lit(channel["pool"]),
        interval=(pl.col("arrival_s") // scenario.interval_s).cast(pl.Int32),
        wait_s=pl.col("wait_s").fill_nan(None), service_start_s=pl.col("service_start_s")
        .fill_nan(None), service_end_s=pl.col("service_end_s").fill_nan(None),
        handle_s=pl.col("handle_s").fill_nan(None), queue_join_s=pl.col("queue_join_s")
        .fill_nan(None),
    ).select(list(RECORD_SCHEMA)).cast(RECORD_SCHEMA)
