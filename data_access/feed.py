"""`python -m data_access feed`: a live stream of contacts, cases, stage changes and ratings.

Rows are stamped now (local time, as stored) and drawn from the demo generator's distributions
for the last story month, the one the default demo ends in today, so dashboards left open next
to the feed move the way the story says they would. Each tick is one transaction, so a
dashboard never sees a contact without its survey; database outages are waited out with
backoff instead of ending in a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from data_access.argtypes import int_arg, number_arg
from data_access.config import local_now, mask_url, scrub
from data_access.engine import (
    DatabaseUnavailable,
    create_db_engine,
    first_line,
)
from data_access.feed_draws import (
    RATING_AFTER,
    FeedError,
    FeedModel,
    advance_cases,
    event_mix,
    new_cases,
    new_contacts,
    prepare_model,
    write_ratings,
)

DEFAULT_RATE = 5.0
MAX_RATE = 10_000.0
TICK_S = 1.0
FIRST_RETRY_S = 0.5
MAX_RETRY_S = 10.0
# Exit code when the database never answered during the whole run (usage errors are 2).
EXIT_NEVER_REACHED = 1


@dataclass
class StopFlag:
    """Set by SIGINT/SIGTERM (or a test); the loop finishes its tick and stops."""

    requested: bool = False


@dataclass
class TickCounts:
    contacts: int = 0
    answered: int = 0
    cases: int = 0
    stage_changes: int = 0
    ratings: int = 0


@dataclass
class FeedSummary:
    """What a run wrote, by event type; printed as one line when it stops."""

    run_id: str
    contacts: int = 0
    answered: int = 0
    cases: int = 0
    stage_changes: int = 0
    ratings: int = 0
    ticks: int = 0
    retries: int = 0
    skipped_ticks: int = 0
    seconds: float = 0.0
    reached_database: bool = False

    def add(self, counts: TickCounts) -> None:
        self.ticks += 1
        for name in ("contacts", "answered", "cases", "stage_changes", "ratings"):
            setattr(self, name, getattr(self, name) + getattr(counts, name))

    def line(self) -> str:
        return (f"feed {self.run_id} stopped after {self.seconds:.1f} s: "
                f"contacts {self.contacts} (surveys {self.contacts}, answered {self.answered}), "
                f"cases {self.cases}, stage changes {self.stage_changes}, "
                f"ratings {self.ratings}; retries {self.retries}, skipped ticks "
                f"{self.skipped_ticks}")


# --- The demo's distributions at one moment ----------------------------------------------------


# --- Set-up ------------------------------------------------------------------------------------


# --- One tick ----------------------------------------------------------------------------------


# --- The loop ----------------------------------------------------------------------------------

def is_outage(error: BaseException) -> bool:
    """Errors that a database coming back would cure: worth waiting for, not worth a crash."""
    if isinstance(error, DatabaseUnavailable | OperationalError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def _reason(error: BaseException) -> str:
    """The driver's own first line: the part that says what is wrong."""
    if isinstance(error, DatabaseUnavailable) and error.__cause__ is not None:
        error = error.__cause__
    return first_line(error)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def new_run_id(moment: dt.datetime) -> str:
    """Unique per run whatever --seed says: the time plus fresh OS entropy."""
    return f"{moment:%Y%m%d%H%M%S}-{np.random.SeedSequence().entropy % 16**6:06x}"


@dataclass
class LiveFeed:
    """The feed's loop; clock, sleep, now and stop are injectable so tests run it instantly."""

    engine: Engine
    rate: float = DEFAULT_RATE
    duration: float | None = None
    seed: int | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] | None = None
    now: Callable[[], dt.datetime] = local_now
    stop: StopFlag = field(default_factory=StopFlag)
    log: Callable[[str], None] = _stderr
    run_id: str | None = None
    tick_s: float = TICK_S

    def __post_init__(self) -> None:
        if self.seed is None:
            self.seed = int(np.random.SeedSequence().entropy)
        self.run_id = self.run_id or new_run_id(self.now())
        self.summary = FeedSummary(self.run_id)
        self.url = self.engine.url.render_as_string(hide_password=False)
        self._counter = itertools.count(1)
        self._pending: list[dict] = []  # ratings of the last tick's contacts, due next tick
        self._pending_since: dt.datetime | None = None  # when those contacts ended
        self._delay = FIRST_RETRY_S
        self.last_outage: str | None = None  # why the database last failed, scrubbed
        if self.sleep is None:
            self.sleep = self._interruptible_sleep

    def next_id(self) -> str:
        return f"feed-{self.run_id}-{next(self._counter)}"

    def run(self) -> FeedSummary:
        """Write ticks until stopped or --duration is up; returns what was written."""
        self._started = self.clock()
        self._deadline = math.inf if self.duration is None else self._started + self.duration
        try:
            model = self._set_up()
            if model is not None:
                self._loop(model)
                self._write_pending_ratings()
        except SQLAlchemyError as error:
            raise FeedError(f"database error: {scrub(_reason(error), self.url)}") from None
        finally:
            self.summary.seconds = self.clock() - self._started
        return self.summary

    def _set_up(self) -> FeedModel | None:
        while not self.stop.requested and self.clock() < self._deadline:
            try:
                model = prepare_model(self.engine, self.seed, self.now().date(), mask_url(self.url))
            except (SQLAlchemyError, DatabaseUnavailable) as error:
                if not is_outage(error):
                    raise
                self.sleep(max(0.0, min(self._wait_out(error), self._deadline - self.clock())))
                continue
            self.summary.reached_database = True
            self._delay = FIRST_RETRY_S
            model.events_per_s = self.rate  # the queue is staffed for the feed's own load
            return model
        return None

    def _loop(self, model: FeedModel) -> None:
        origin = self.clock()
        drawn = 0
        next_at = origin + self.tick_s
        for tick in itertools.count(1):
            if self.stop.requested:
                return
            wait = min(next_at, self._deadline) - self.clock()
            if wait > 0:
                self.sleep(wait)
            if self.stop.requested:
                return
            moment = self.clock()
            # Events due so far at --rate, fractions carried: about `rate` a second.
            due = math.floor(self.rate * (moment - origin))
            events, drawn = due - drawn, due
            try:
                self._tick(model, tick, events)
                self._delay = FIRST_RETRY_S
                next_at = max(next_at + self.tick_s, self.clock())
            except IntegrityError as error:  # e.g. a second feed took the same case
                self.summary.skipped_ticks += 1
                self._pending.clear()
                self.log(f"tick skipped: {scrub(_reason(error), self.url)}")
                next_at = max(next_at + self.tick_s, self.clock())
            except SQLAlchemyError as error:
                if not is_outage(error):
                    raise
                next_at = self.clock() + self._wait_out(error)
            if self.clock() >= self._deadline:
                return

    def _tick(self, model: FeedModel, tick: int, events: int) -> None:
        """One transaction: due ratings, stage changes, new cases, new contacts with surveys."""
        now = self.now()
        contacts, cases, stages = model.streams.rng("feed_mix", tick).multinomial(
            events, event_mix(now))
        counts = TickCounts()
        with self.engine.begin() as connection:
            counts.ratings = write_ratings(connection, self._pending, now, self.next_id)
            counts.stage_changes = advance_cases(connection, model, tick, now, stages)
            counts.cases = new_cases(connection, model, tick, now, cases, self.next_id)
            counts.answered, pending = new_contacts(connection, model, tick, now, contacts,
                                                     self.next_id)
        counts.contacts = int(contacts)
        self._pending = pending  # ratings arrive a tick after their contact, never with it
        self._pending_since = now
        self.summary.add(counts)

    def _write_pending_ratings(self) -> None:
        """On a clean stop, write the ratings the next tick would have written: the last
        tick's contacts keep theirs, and the summary counts them."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        now = self.now()
        if self._pending_since is not None:
            now = max(now, self._pending_since + RATING_AFTER)
        try:
            with self.engine.begin() as connection:
                written = write_ratings(connection, pending, now, self.next_id)
        except SQLAlchemyError as error:
            if not (is_outage(error) or isinstance(error, IntegrityError)):
                raise
            self.log(f"{len(pending)} ratings of the last tick not written: "
                     f"{scrub(_reason(error), self.url)}")
            return
        self.summary.ratings += written  # counted once committed

    def _wait_out(self, error: BaseException) -> float:
        """Say why and when the next try is: 0.5 s, doubling up to 10 s. Returns the delay."""
        delay, self._delay = self._delay, min(self._delay * 2, MAX_RETRY_S)
        self.last_outage = scrub(_reason(error), self.url)
        if self.stop.requested or self.clock() + delay >= self._deadline:
            return delay  # no retry before the run ends: the final line says the rest
        self.summary.retries += 1
        self.log(f"database unreachable ({mask_url(self.url)}): {self.last_outage}; "
                 f"retrying in {delay:g} s")
        return delay

    def _interruptible_sleep(self, seconds: float) -> None:
        """Sleep in short slices so a stop request is honoured within 0.1 s."""
        end = time.monotonic() + seconds
        while not self.stop.requested and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))


# --- Command line ------------------------------------------------------------------------------

def register(commands: argparse._SubParsersAction) -> None:
    """Add `feed` to `python -m data_access`."""
    parser = commands.add_parser(
        "feed", help="write live contacts, cases, stage changes and ratings stamped now",
        description="Write a live stream of events stamped now, from the demo's distributions. "
                    "Stops on Ctrl-C, SIGTERM or after --duration; waits out database outages.")
    parser.add_argument("--rate", type=number_arg("--rate", low=0, high=MAX_RATE, low_open=True),
                        default=DEFAULT_RATE, metavar="EVENTS_PER_S",
                        help=f"new contacts, cases and stage changes per second "
                             f"(default {DEFAULT_RATE:g}; surveys and ratings come with them)")
    parser.add_argument("--duration", type=number_arg("--duration", low=0, low_open=True),
                        metavar="S", help="stop after S seconds (default: run until Ctrl-C)")
    parser.add_argument("--db", help="database URL (default: DATABASE_URL, secrets, or SQLite)")
    parser.add_argument("--seed", type=int_arg("--seed", low=0),
                        help="make the drawn events reproducible (ids stay unique per run)")
    parser.error = _one_line_error(parser)
    parser.set_defaults(handler=run_feed)


def _one_line_error(parser: argparse.ArgumentParser) -> Callable[[str], NoReturn]:
    def error(message: str) -> NoReturn:
        # "argument --rate: --rate: -1 must be > 0" names the option twice; once is enough.
        message = re.sub(r"^argument (\S+): (?=\1)", "", message)
        parser.exit(2, f"error: {message}\n")
    return error


def _on_signals(stop: StopFlag) -> dict[int, object]:
    """First SIGINT/SIGTERM: finish the tick and stop. A second one interrupts the tick."""
    def handle(_signum: int, _frame: object) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        stop.requested = True

    if threading.current_thread() is not threading.main_thread():
        return {}
    return {number: signal.signal(number, handle) for number in (signal.SIGINT, signal.SIGTERM)}


def run_feed(args: argparse.Namespace) -> int:
    """The `feed` command: 0 when stopped, 1 if the database never answered, 2 on errors."""
    engine = create_db_engine(args.db)
    stop = StopFlag()
    previous = _on_signals(stop)
    feed = LiveFeed(engine, rate=args.rate, duration=args.duration, seed=args.seed, stop=stop)
    where = mask_url(feed.url)
    _stderr(f"feed {feed.run_id}: about {args.rate:g} events/s into {where}; Ctrl-C stops")
    try:
        feed.run()
    except KeyboardInterrupt:  # a second Ctrl-C: the open transaction was rolled back
        pass
    except FeedError as error:
        if feed.summary.ticks:
            print(feed.summary.line())
        _stderr(f"error: {error}")
        return 2
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        engine.dispose()
    if not feed.summary.reached_database:
        why = (f"database {where} was unreachable for the whole run "
               f"({feed.summary.seconds:.1f} s): {feed.last_outage}" if feed.last_outage
               else "stopped before the database answered")
        _stderr(f"error: {why}; nothing written")
        return EXIT_NEVER_REACHED
    print(feed.summary.line(), flush=True)
    return 0
