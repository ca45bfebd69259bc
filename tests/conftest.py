"""Shared fixtures: real SQLite files and a real PostgreSQL server, seeded with the demo.

Outside CI a missing PostgreSQL or Chromium skips with a reason; with CI=true it fails.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine, create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from data_access.demo import DemoConfig, generate_demo
from data_access.engine import create_db_engine
from data_access.schema import Channel, Contact, NpsSurvey, Region, ServiceType

IN_CI = os.environ.get("CI", "").lower() == "true"

# Property tests draw the same examples on every run: a failure is reproducible, never luck.
settings.register_profile("servicepulse", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("servicepulse")
STORY = {"start": dt.date(2021, 1, 1), "end": dt.date(2022, 7, 31)}
SMALL_SCALE = 0.05
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
CHROMIUM = "/usr/bin/chromium"


def missing(reason: str) -> None:
    """Skip locally; fail under CI, where every dependency must be installed for real."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def postgres_admin_url() -> str:
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        missing("TEST_POSTGRES_URL is not set (no PostgreSQL server for this test)")
    return url


_CREATED_DATABASES: set[str] = set()


def _admin_execute(statements: list[str]) -> None:
    admin = create_engine(make_url(postgres_admin_url()), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        admin.dispose()


def fresh_postgres_database(name: str) -> str:
    """Drop and create database `name` on the test server; returns its URL."""
    admin_url = make_url(postgres_admin_url())
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    _CREATED_DATABASES.add(name)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # any failure here means "no usable server"
        missing(f"PostgreSQL at {admin_url.render_as_string(True)} is not usable: {error}")
    finally:
        admin.dispose()
    return admin_url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session", autouse=True)
def drop_test_databases() -> Iterator[None]:
    """Leave the shared PostgreSQL server as the tests found it."""
    yield
    if _CREATED_DATABASES and os.environ.get("TEST_POSTGRES_URL"):
        _admin_execute([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                        for name in sorted(_CREATED_DATABASES)])


def fresh_url(backend: str, tmp_path: Path, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / (name + '.db')}"
    return fresh_postgres_database(name)


@pytest.fixture(params=BACKENDS)
def empty_url(request, tmp_path) -> str:
    return fresh_url(request.param, tmp_path, f"sp_empty_{os.getpid()}")


@pytest.fixture(scope="session")
def seeded_sqlite_url(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("seeded") / "story.db"
    engine = create_db_engine(f"sqlite:///{path}")
    generate_demo(engine, DemoConfig(scale=SMALL_SCALE, **STORY))
    engine.dispose()
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def seeded_postgres_url() -> str:
    url = fresh_postgres_database(f"sp_seeded_{os.getpid()}")
    engine = create_db_engine(url)
    generate_demo(engine, DemoConfig(scale=SMALL_SCALE, **STORY))
    engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def seeded_url(request) -> str:
    """The 2021-01..2022-07 story at a small scale, on each backend."""
    fixture = "seeded_sqlite_url" if request.param == "sqlite" else "seeded_postgres_url"
    return request.getfixturevalue(fixture)


@pytest.fixture
def seeded_engine(seeded_url) -> Iterator[Engine]:
    engine = create_db_engine(seeded_url)
    yield engine
    engine.dispose()


@pytest.fixture
def chromium() -> str:
    if not shutil.which(CHROMIUM):
        missing(f"Chromium is not installed at {CHROMIUM}")
    return CHROMIUM


def insert_answered_contacts(url: str, count: int, moment: dt.datetime, score: int = 10,
                             reason: str | None = None, suggestion: str | None = None) -> None:
    """New bot-served contacts with answered surveys, as a live feed writes them."""
    engine = create_db_engine(url)
    with engine.begin() as connection:
        first = connection.scalar(select(func.max(Contact.id))) + 1
        ids = {model: connection.scalar(select(model.id).limit(1))
               for model in (Channel, Region, ServiceType)}
        connection.execute(insert(Contact), [
            {"id": first + n, "external_id": f"live-{first + n}", "started_at": moment,
             "channel_id": ids[Channel], "region_id": ids[Region],
             "service_type_id": ids[ServiceType], "served_by": "bot", "operator_id": None,
             "wait_s": 0, "handle_s": 60, "subscriber_key": "live"} for n in range(count)])
        connection.execute(insert(NpsSurvey), [
            {"contact_id": first + n, "sent_at": moment, "answered": True, "score": score,
             "reason": reason, "suggestion": suggestion, "answered_at": moment}
            for n in range(count)])
    engine.dispose()


def signal_when(command: list[str], ready: Callable[[], bool], signum: int,
                timeout_s: float = 120, **popen) -> tuple[int, str, str]:
    """Run `command`, send it `signum` once `ready()` holds, and collect (code, out, err).

    The signal also goes when the command ended or `timeout_s` passed, so a test fails on its
    assertions instead of hanging; a command still alive at the end is killed.
    """
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, **popen)
    try:
        deadline = time.monotonic() + timeout_s
        while process.poll() is None and time.monotonic() < deadline and not ready():
            time.sleep(0.02)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=timeout_s)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stdout, stderr


def bucket_percentile(values: list[float], edges: tuple[float, ...], share: float
                      ) -> float | None:
    """The documented histogram percentile, computed independently from raw values.

    Nearest rank k = ceil(share × n); in the bucket [lo, hi) holding the k-th smallest value,
    with `before` values below the bucket and `count` inside it, the answer is
    lo + (hi - lo) × (k - before) / count; the open last bucket answers lo.
    """
    if not values:
        return None
    k = math.ceil(round(share * len(values), 9))
    kth = sorted(values)[k - 1]
    index = bisect.bisect_right(edges, kth) - 1
    low = edges[index]
    before = sum(1 for value in values if value < low)
    if index + 1 == len(edges):
        return float(low)
    high = edges[index + 1]
    count = sum(1 for value in values if low <= value < high)
    return low + (high - low) * (k - before) / count
