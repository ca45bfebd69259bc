"""`python -m data_access feed`: live rows stamped now, whole ticks only, outages waited out."""

from __future__ import annotations

import datetime as dt
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, aliased

from data_access import feed_draws
from data_access.cli import main
from data_access.config import local_now, local_today, mask_url
from data_access.demo import CASE_FLOW, DemoConfig, generate_demo
from data_access.engine import create_db_engine
from data_access.feed import FeedError, LiveFeed
from data_access.reference import CHANNEL_BY_CODE, SERVICE_TYPES, seed_reference
from data_access.schema import (
    CLOSED_STAGES,
    AgentRating,
    Base,
    Case,
    CaseEvent,
    Contact,
    NpsSurvey,
    Staffing,
)
from tests.conftest import signal_when

SUMMARY = re.compile(r"^feed (?P<run>\S+) stopped after [\d.]+ s: contacts (?P<contacts>\d+) "
                     r"\(surveys (?P=contacts), answered (?P<answered>\d+)\), "
                     r"cases (?P<cases>\d+), stage changes (?P<stages>\d+), "
                     r"ratings (?P<ratings>\d+); retries 0, skipped ticks 0$", re.MULTILINE)
RATED_SERVICES = [service.id for service in SERVICE_TYPES if service.triggers_agent_rating]


class FakeTime:
    """A clock that only moves when the feed sleeps, and a local 'now' that follows it."""

    def __init__(self, base: dt.datetime) -> None:
        self.seconds = 0.0
        self.base = base
        self.sleeps: list[float] = []
        self.on_sleep = lambda: None

    def clock(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.seconds += seconds
        self.on_sleep()

    def now(self) -> dt.datetime:
        return self.base + dt.timedelta(seconds=self.seconds)


@pytest.fixture
def feed_url(empty_url) -> str:
    """A fresh database with a tiny demo (operators, a few open cases), one per test."""
    engine = create_db_engine(empty_url)
    end = local_today()
    generate_demo(engine, DemoConfig(end - dt.timedelta(days=60), end, scale=0.001))
    engine.dispose()
    return empty_url


@pytest.fixture
def feed_engine(feed_url) -> Iterator[Engine]:
    engine = create_db_engine(feed_url)
    yield engine
    engine.dispose()


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "data_access", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


def feed_rows(engine: Engine, run_id: str) -> dict[str, int]:
    """Rows a run wrote, found by its external ids."""
    prefix = f"feed-{run_id}-%"
    with engine.connect() as connection:
        def count(model, *where) -> int:
            return connection.scalar(select(func.count()).select_from(model).where(*where))
        return {
            "contacts": count(Contact, Contact.external_id.like(prefix)),
            "surveys": connection.scalar(
                select(func.count()).select_from(Contact).join(NpsSurvey)
                .where(Contact.external_id.like(prefix))),
            "answered": connection.scalar(
                select(func.count()).select_from(Contact).join(NpsSurvey)
                .where(Contact.external_id.like(prefix), NpsSurvey.answered)),
            "cases": count(Case, Case.external_id.like(prefix)),
            "ratings": count(AgentRating, AgentRating.external_id.like(prefix)),
            "abandoned": count(Contact, Contact.external_id.like(prefix),
                               Contact.served_by == "abandoned"),
        }


def test_ticks_write_every_event_type_stamped_now_within_the_rules(feed_engine):
    clock = FakeTime(local_now() + dt.timedelta(seconds=1))  # after the demo's last row
    summary = LiveFeed(feed_engine, rate=50, duration=20, seed=11, clock=clock.clock,
                       sleep=clock.sleep, now=clock.now, log=pytest.fail).run()
    ticks = {clock.base + dt.timedelta(seconds=n) for n in range(1, 21)}
    # The last tick's ratings are written as the run stops, just after their contacts.
    stop = clock.base + dt.timedelta(seconds=20, microseconds=1)

    assert summary.ticks == 20 and summary.seconds == 20
    assert min(summary.contacts, summary.cases, summary.stage_changes, summary.ratings) > 0
    # Every drawn event is written (stage changes only while open cases exist).
    assert summary.contacts + summary.cases + summary.stage_changes <= 50 * 20
    assert summary.contacts + summary.cases > 0.9 * 50 * 20
    written = feed_rows(feed_engine, summary.run_id)
    assert written == {  # nobody served an abandoned contact: it has no survey
        "contacts": summary.contacts, "surveys": summary.contacts - written["abandoned"],
        "answered": summary.answered, "cases": summary.cases, "ratings": summary.ratings,
        "abandoned": written["abandoned"]}

    with Session(feed_engine) as connection:
        contacts = connection.execute(
            select(Contact, NpsSurvey).join(NpsSurvey)
            .where(Contact.external_id.like("feed-%"))).all()
        for contact, survey in contacts:
            assert survey.sent_at in ticks
            # an escalated chat spent bot_s in the bot before its wait for a person
            assert contact.started_at == survey.sent_at - dt.timedelta(
                seconds=(contact.bot_s or 0) + contact.wait_s + contact.handle_s)
            assert survey.answered_at == (survey.sent_at if survey.answered else None)
            assert (survey.score is not None) == survey.answered
            assert survey.reason is None or (survey.answered and survey.score <= 6)
            assert (contact.served_by == "operator") == (contact.operator_id is not None)
        escalated = [contact for contact, _ in contacts if contact.bot_s is not None]
        assert escalated and all(contact.served_by == "operator" and contact.channel_id in (
            CHANNEL_BY_CODE["whatsapp"].id, CHANNEL_BY_CODE["telegram"].id)
            for contact in escalated)

        rated = aliased(Contact)
        for rating, contact, survey in connection.execute(
                select(AgentRating, rated, NpsSurvey)
                .join(rated, AgentRating.contact_id == rated.id)
                .join(NpsSurvey, NpsSurvey.contact_id == rated.id)
                .where(AgentRating.external_id.like("feed-%"))):
            assert rating.rated_at in ticks | {stop} and rating.rated_at > survey.sent_at
            assert contact.served_by == "operator" and rating.operator_id == contact.operator_id
            assert contact.service_type_id in RATED_SERVICES and 1 <= rating.score <= 5

        events = connection.execute(select(CaseEvent).where(CaseEvent.at >= clock.base)).all()
        assert {e.at for (e,) in events} <= ticks
        assert sum(e.stage == "received" for (e,) in events) == summary.cases
        assert sum(e.stage != "received" for (e,) in events) == summary.stage_changes
        for case in connection.scalars(select(Case)):
            history = dict(connection.execute(
                select(CaseEvent.stage, CaseEvent.at).where(CaseEvent.case_id == case.id)).all())
            order = [*CASE_FLOW, "withdrawn"]
            assert "received" in history
            assert case.status == max(history, key=order.index)
            assert case.resolved_at == (history[case.status]
                                        if case.status in CLOSED_STAGES else None)
            if case.external_id.startswith("feed-"):
                assert case.received_at in ticks and history["received"] == case.received_at


@pytest.mark.parametrize("how", ["duration", "stop"])
def test_ratings_waiting_for_the_next_tick_are_written_when_the_feed_stops(feed_engine,
                                                                          monkeypatch, how):
    """Every rating drawn is written and counted, those of the last tick included."""
    drawn: list[int] = []

    def counted(*args, **kwargs):
        ratings = real_ratings(*args, **kwargs)
        drawn.append(ratings.height)
        return ratings

    real_ratings = feed_draws.draw_ratings
    monkeypatch.setattr(feed_draws, "draw_ratings", counted)
    clock = FakeTime(local_now() + dt.timedelta(seconds=1))
    feed = LiveFeed(feed_engine, rate=200, duration=4 if how == "duration" else None, seed=7,
                    clock=clock.clock, sleep=clock.sleep, now=clock.now, log=pytest.fail)
    if how == "stop":  # as Ctrl-C or SIGTERM would, while the feed sleeps after tick 3
        clock.on_sleep = lambda: setattr(feed.stop, "requested", len(drawn) >= 3)
    summary = feed.run()
    assert summary.ticks == len(drawn) >= 3
    assert drawn[-1] > 0  # the ratings of the last tick: those a stop used to lose
    assert summary.ratings == sum(drawn) == feed_rows(feed_engine, summary.run_id)["ratings"]
    run = f"feed-{summary.run_id}-%"
    with feed_engine.connect() as connection:
        last_rating = connection.scalar(select(func.max(AgentRating.rated_at))
                                        .where(AgentRating.external_id.like(run)))
        last_tick = connection.scalar(select(func.max(NpsSurvey.sent_at)).join(Contact)
                                      .where(Contact.external_id.like(run)))
    # Stamped as the feed stops, strictly after their contacts even if the clock stood still.
    assert last_rating == max(clock.now(), last_tick + dt.timedelta(microseconds=1))


def test_same_seed_and_clock_write_the_same_events(tmp_path):
    base = local_now() + dt.timedelta(seconds=1)
    written = []
    for name in ("first", "second"):
        engine = create_db_engine(f"sqlite:///{tmp_path / name}.db")
        generate_demo(engine, DemoConfig(base.date() - dt.timedelta(days=30), base.date(),
                                         scale=0.001, cutoff=base))
        clock = FakeTime(base)
        summary = LiveFeed(engine, rate=40, duration=10, seed=3, clock=clock.clock,
                           sleep=clock.sleep, now=clock.now, log=pytest.fail).run()
        with engine.connect() as connection:
            rows = connection.execute(
                select(Contact.started_at, Contact.channel_id, Contact.served_by,
                       Contact.operator_id, NpsSurvey.score, NpsSurvey.reason)
                .join(NpsSurvey).where(Contact.external_id.like("feed-%"))
                .order_by(Contact.id)).all()
            cases = connection.execute(
                select(Case.id, Case.status, Case.category).order_by(Case.id)).all()
        engine.dispose()
        written.append((summary.contacts, summary.cases, summary.stage_changes,
                        summary.ratings, rows, cases))
    assert written[0] == written[1]
    assert written[0][0] > 0


def _fail_connects(engine: Engine) -> dict[str, int]:
    """The next `left` new connections fail as if the server were down."""
    state = {"left": 0}

    @event.listens_for(engine, "do_connect")
    def refuse(*_args) -> None:
        if state["left"] > 0:
            state["left"] -= 1
            raise engine.dialect.loaded_dbapi.OperationalError("connection refused (test)")

    return state


def test_feed_waits_out_outages_with_backoff_and_resumes(feed_url):
    engine = create_db_engine(feed_url)
    refused = _fail_connects(engine)
    refused["left"] = 3  # down at start-up
    clock = FakeTime(local_now() + dt.timedelta(seconds=1))
    outage_at = {}

    def outage_mid_run() -> None:
        if clock.seconds >= 8 and not outage_at:
            outage_at["now"] = clock.now()
            engine.dispose()  # drop pooled connections: the next tick must reconnect
            refused["left"] = 2

    clock.on_sleep = outage_mid_run
    lines: list[str] = []
    summary = LiveFeed(engine, rate=10, duration=20, seed=5, clock=clock.clock,
                       sleep=clock.sleep, now=clock.now, log=lines.append).run()

    delays = [float(re.search(r"retrying in ([\d.]+) s$", line)[1]) for line in lines]
    assert delays == [0.5, 1, 2, 0.5, 1]  # doubling, and reset once the database is back
    assert all("connection refused (test)" in line for line in lines)
    assert all(line.startswith(f"database unreachable ({mask_url(feed_url)}): ") for line in lines)
    assert summary.reached_database and summary.retries == 5 and refused["left"] == 0
    assert clock.sleeps[:3] == [0.5, 1, 2]
    assert feed_rows(engine, summary.run_id)["contacts"] == summary.contacts
    with engine.connect() as connection:
        after = connection.scalar(select(func.count()).select_from(NpsSurvey).where(
            NpsSurvey.sent_at > outage_at["now"]))
    assert after > 0
    engine.dispose()


def test_a_conflicting_tick_is_skipped_whole_and_the_feed_goes_on(feed_engine):
    with feed_engine.connect() as connection:
        taken = connection.execute(select(AgentRating.operator_id, AgentRating.contact_id)
                                   .limit(1)).one()
    clock = FakeTime(local_now() + dt.timedelta(seconds=1))
    lines: list[str] = []
    feed = LiveFeed(feed_engine, rate=20, duration=3, seed=2, clock=clock.clock,
                    sleep=clock.sleep, now=clock.now, log=lines.append)
    # As if another writer had rated this contact first: the first tick breaks a unique key.
    feed._pending = [{"operator_id": taken.operator_id, "contact_id": taken.contact_id,
                      "score": 5}]
    summary = feed.run()
    assert len(lines) == 1 and lines[0].startswith("tick skipped: ")
    assert "Traceback" not in lines[0] and "\n" not in lines[0]
    assert summary.skipped_ticks == 1 and summary.ticks == 2 and summary.contacts > 0
    rows = feed_rows(feed_engine, summary.run_id)
    # nothing of the failed tick; every served contact has its survey
    assert rows["contacts"] == rows["surveys"] + rows["abandoned"] == summary.contacts


def test_feed_command_runs_for_its_duration(feed_url):
    result = run_cli("feed", "--duration", "2", "--rate", "200", "--db", feed_url)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    found = SUMMARY.search(result.stdout)
    assert found, result.stdout
    engine = create_db_engine(feed_url)
    rows = feed_rows(engine, found["run"])
    with engine.connect() as connection:  # some 200 contacts a tick: a few dozen rated
        last_tick = connection.scalar(select(func.max(NpsSurvey.sent_at)).join(Contact).where(
            Contact.external_id.like(f"feed-{found['run']}-%")))
        rated_in_last_tick = connection.scalar(
            select(func.count()).select_from(AgentRating).join(NpsSurvey, NpsSurvey.contact_id
                                                               == AgentRating.contact_id)
            .where(NpsSurvey.sent_at == last_tick))
    engine.dispose()
    assert rows["contacts"] == int(found["contacts"]) > 0
    assert rows["surveys"] + rows["abandoned"] == rows["contacts"]
    assert rows["cases"] == int(found["cases"])
    assert rows["ratings"] == int(found["ratings"]) > 0
    assert rated_in_last_tick > 0  # written as the run ended, not lost


def test_ctrl_c_stops_after_a_whole_tick(feed_url):
    engine = create_db_engine(feed_url)

    def feed_wrote() -> bool:
        with engine.connect() as connection:
            return bool(connection.scalar(select(func.count()).select_from(Contact)
                                          .where(Contact.external_id.like("feed-%"))))

    code, stdout, stderr = signal_when(
        [sys.executable, "-m", "data_access", "feed", "--rate", "50", "--db", feed_url],
        feed_wrote, signal.SIGINT, timeout_s=30)
    assert code == 0, stderr
    assert "Traceback" not in stderr
    found = SUMMARY.search(stdout)
    assert found, stdout
    rows = feed_rows(engine, found["run"])
    engine.dispose()
    assert rows["contacts"] == int(found["contacts"]) > 0
    assert rows["surveys"] + rows["abandoned"] == rows["contacts"]  # served: with a survey
    assert rows["ratings"] == int(found["ratings"])


def test_unreachable_database_retries_then_exits_with_one_line():
    """Backoff is judged by the order of the retry lines, not by how fast they come: the feed
    is stopped (as by Ctrl-C) once three have come, however busy the machine is."""
    process = subprocess.Popen(
        [sys.executable, "-m", "data_access", "feed", "--duration", "60", "--db",
         "postgresql+psycopg://reader:s3cret@127.0.0.1:1/sp"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(120, process.kill)  # a hung feed fails the test, never hangs it
    watchdog.start()
    lines: list[str] = []
    try:
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            if line.startswith("database unreachable") and sum(
                    seen.startswith("database unreachable") for seen in lines) == 3:
                process.send_signal(signal.SIGINT)  # once: a second one would interrupt
        stdout = process.stdout.read()
        process.wait()
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 1, lines
    assert not any("Traceback" in line or "s3cret" in line for line in lines)
    retries = [line for line in lines if line.startswith("database unreachable")]
    delays = [line.rsplit("retrying in ", 1)[1] for line in retries]
    assert delays == ["0.5 s", "1 s", "2 s"], lines  # doubling from 0.5 s; stopped after 3
    assert all(line.startswith("database unreachable (postgresql+psycopg://reader:***@"
                               "127.0.0.1:1/sp): ") for line in retries)
    assert lines[-1].startswith("error: database postgresql+psycopg://reader:***@127.0.0.1:1/sp "
                                "was unreachable for the whole run")
    assert stdout == ""


@pytest.mark.parametrize(("args", "message"), [
    (["--rate", "-1"], "error: --rate: -1 must be > 0 and <= 10000"),
    (["--rate", "abc"], "error: --rate: 'abc' is not a number"),
    (["--duration", "abc"], "error: --duration: 'abc' is not a number"),
    (["--duration", "0"], "error: --duration: 0 must be > 0"),
    (["--seed", "-3"], "error: --seed: -3 must be >= 0"),
])
def test_bad_arguments_are_one_line_naming_the_option(capsys, args, message):
    with pytest.raises(SystemExit) as exit_code:
        main(["feed", *args])
    assert exit_code.value.code == 2
    assert capsys.readouterr().err == message + "\n"


def test_a_database_without_tables_or_operators_is_refused(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    with pytest.raises(FeedError, match="has no ServicePulse tables"):
        LiveFeed(engine, duration=1).run()
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        seed_reference(connection)
    with pytest.raises(FeedError, match=r"^no operators in sqlite:///.*bare\.db: the feed needs"):
        LiveFeed(engine, duration=1).run()
    engine.dispose()
    result = run_cli("feed", "--duration", "1", "--db", f"sqlite:///{tmp_path / 'bare.db'}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: no operators in")
    assert "Traceback" not in result.stderr


def test_the_feed_staffs_its_queue_and_writes_who_gave_up(feed_engine):
    """Each tick's quarter hour gets a staffing row per pool (the demo's, raised to the feed's
    own load); contacts that wanted a person are answered or abandon as that queue says."""
    clock = FakeTime(local_now() + dt.timedelta(seconds=1))
    summary = LiveFeed(feed_engine, rate=80, duration=30, seed=21, clock=clock.clock,
                       sleep=clock.sleep, now=clock.now, log=pytest.fail).run()
    moments = [clock.base + dt.timedelta(seconds=n) for n in range(1, 31)]
    quarters = {(moment.date(), (moment.hour * 60 + moment.minute) // 15) for moment in moments}
    with feed_engine.connect() as connection:
        staffed = connection.execute(select(Staffing.day, Staffing.quarter, Staffing.pool,
                                            Staffing.agents)).all()
        gave_up = connection.execute(select(
            Contact.operator_id, Contact.handle_s, Contact.wait_s, Contact.bot_s,
            Contact.started_at).where(Contact.external_id.like(f"feed-{summary.run_id}-%"),
                                      Contact.served_by == "abandoned")).all()
        queued = connection.scalar(select(func.count()).select_from(Contact).where(
            Contact.external_id.like(f"feed-{summary.run_id}-%"),
            Contact.served_by.in_(["operator", "abandoned"])))
        orphans = connection.scalar(select(func.count()).select_from(Contact).where(
            Contact.served_by == "abandoned",
            Contact.id.in_(select(NpsSurvey.contact_id).union(
                select(AgentRating.contact_id)))))
    on_record = {(day, quarter, pool): agents for day, quarter, pool, agents in staffed}
    for day, quarter in quarters:
        assert on_record[(day, quarter, "digital")] >= 1  # chats run around the clock
        assert (day, quarter, "office") in on_record
    assert queued > 100 and orphans == 0
    assert 0 < len(gave_up) < 0.3 * queued  # a staffed queue loses a few, not most
    ticks = set(moments)
    for contact in gave_up:
        assert contact.operator_id is None and contact.handle_s == 0 and contact.wait_s >= 1
        assert contact.started_at + dt.timedelta(
            seconds=(contact.bot_s or 0) + contact.wait_s) in ticks
