"""Alembic migrations of the raw tables, on SQLite and PostgreSQL.

A database made before migrations existed (the baseline tables, rollup triggers of that
version, no alembic_version) is recognised, stamped and upgraded by `python -m data_access
migrate` without losing a row; its rollups then equal a rebuild, and the triggers keep them
for the new bot → human columns. The upgraded schema equals a new database's.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    Table,
    create_engine,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from streamlit.testing.v1 import AppTest

from data_access import migrate, rollups
from data_access.cli import main
from data_access.demo import DemoConfig, generate_demo
from data_access.engine import DatabaseUnavailable, create_db_engine, require_schema
from data_access.reference import seed_reference
from data_access.schema import Contact, NpsSurvey, Staffing
from tests.conftest import _admin_execute, fresh_url
from tests.test_rollups import MEASURES, assert_matches_rebuild

T0 = dt.datetime(2022, 7, 1, 9, 0)
APP = str(Path(__file__).resolve().parent.parent / "app.py")
NEW_MEASURES = ("bot_handle_s", "escalated", "escalated_bot_s")
ABANDONED_MEASURES = ("abandoned", "abandoned_wait_s", "abandoned_after_bot",
                      *rollups.ABANDONED_WAIT_COLUMNS, *rollups.ABANDONED_HOUR_COLUMNS)


def _snapshot(connection: Connection) -> dict:
    """Every raw table's columns, keys, indexes and checks as the database reports them."""
    found = inspect(connection)

    def text_of(value) -> str | None:
        return None if value is None else " ".join(str(value).split())

    snapshot = {}
    for table in sorted(migrate.raw_tables()):
        snapshot[table] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"], text_of(c.get("default")))
                        for c in found.get_columns(table)],
            "pk": found.get_pk_constraint(table),
            "fks": sorted((f["name"], tuple(f["constrained_columns"]), f["referred_table"],
                           json.dumps(f.get("options"), sort_keys=True))
                          for f in found.get_foreign_keys(table)),
            "uniques": sorted((u["name"], tuple(u["column_names"]))
                              for u in found.get_unique_constraints(table)),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]),
                               json.dumps({k: str(v) for k, v in
                                           (i.get("dialect_options") or {}).items()}))
                              for i in found.get_indexes(table)),
            "checks": sorted((c["name"], text_of(c["sqltext"]))
                             for c in found.get_check_constraints(table)),
        }
    return snapshot


def _upgrade_to(engine: Engine, revision: str) -> None:
    with migrate._transaction(engine) as connection:
        command.upgrade(migrate.alembic_config(connection), revision)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request) -> str:
    return request.param


def _engine(backend: str, tmp_path, name: str) -> Engine:
    return create_db_engine(fresh_url(backend, tmp_path, f"sp_mig_{name}_{os.getpid()}"))


def test_the_revisions_at_head_equal_a_new_database(backend, tmp_path):
    migrated, created = _engine(backend, tmp_path, "a"), _engine(backend, tmp_path, "b")
    _upgrade_to(migrated, "head")
    migrate.raw_metadata().create_all(created)
    with migrated.connect() as one, created.connect() as other:
        assert _snapshot(one) == _snapshot(other)
        checks = dict(_snapshot(one)["contacts"]["checks"])
        assert "bot_s" in checks["ck_contacts_bot_s_escalated"]
        assert "abandoned" in checks["ck_contacts_served_by"]
        assert "handle_s = 0" in checks["ck_contacts_abandoned_unhandled"]
        assert {name for name, _ in _snapshot(one)["staffing"]["checks"]} == {
            "ck_staffing_agents_nonnegative", "ck_staffing_pool", "ck_staffing_quarter_range"}
    for engine in (migrated, created):
        engine.dispose()


# --- A database as the previous version left it -------------------------------------------


def _legacy_rollups(revision: str) -> tuple[tuple[rollups.Rollup, ...], dict]:
    """The rollups as the version at `revision` defined them.

    0002 had no abandoned measures and a quarter rollup of `contacts` only; the baseline had
    no bot → human measures either (and no bot_s column for them to read).
    """
    dropped = set(ABANDONED_MEASURES) | (set(NEW_MEASURES) if revision == migrate.BASELINE
                                         else set())

    def derived(original):
        if revision != migrate.BASELINE:
            return original
        return lambda sql: {name: value for name, value in original(sql).items()
                            if name != "bot_s"}

    legacy = []
    for rollup in rollups.ROLLUPS:
        if rollup.source == "contacts":
            kept = ({"contacts": "1"} if rollup.name == "rollup_contact_quarters" else
                    {name: value for name, value in rollup.measures.items()
                     if name not in dropped})
            rollup = replace(rollup, derived=derived(rollup.derived), measures=kept)
        legacy.append(rollup)
    metadata = MetaData()
    tables = {}
    for rollup in legacy:
        table = rollups.TABLES[rollup.name]
        columns = [Column(column.name, column.type, primary_key=column.primary_key,
                          nullable=column.nullable) for column in table.columns
                   if column.primary_key or column.name in rollup.measures]
        tables[rollup.name] = Table(rollup.name, metadata, *columns)
    return tuple(legacy), tables


@contextmanager
def _legacy_rollups_installed(revision: str, connection: Connection,
                              monkeypatch) -> Iterator[None]:
    """Inside: the rollups and triggers of the version at `revision` count what is written."""
    legacy, tables = _legacy_rollups(revision)
    with monkeypatch.context() as patched:
        patched.setattr(rollups, "ROLLUPS", legacy)
        patched.setattr(rollups, "TABLES", tables)
        assert rollups.install(connection)
        yield


def _contact(number: int, served_by: str, **values) -> dict:
    return {"id": number, "external_id": f"OLD-{number}", "started_at": T0 + dt.timedelta(
        hours=number), "channel_id": 2, "region_id": 1, "service_type_id": 1,
        "served_by": served_by, "operator_id": 1 if served_by == "operator" else None,
        "wait_s": 30 * number if served_by == "operator" else 0, "handle_s": 100 + number,
        "subscriber_key": f"k{number}"} | values


@pytest.fixture
def previous_version(backend, tmp_path, monkeypatch) -> Iterator[Engine]:
    """Baseline tables, the previous rollups and their triggers, rows, no alembic_version."""
    engine = _engine(backend, tmp_path, "old")
    _upgrade_to(engine, migrate.BASELINE)
    with engine.begin() as connection, _legacy_rollups_installed(
            migrate.BASELINE, connection, monkeypatch):
        seed_reference(connection)
        connection.execute(text(
            "INSERT INTO operators (id, external_id, name, team, region_id, active_from) "
            "VALUES (1, 'OP00001', 'Aigerim Omarova', 'digital', 1, '2020-01-01')"))
        baseline_contacts = [_contact(n, who) for n, who in enumerate(
            ("operator", "bot", "self_service", "operator", "bot", "operator"), start=1)]
        for row in baseline_contacts:  # row by row: the triggers of that version count them
            connection.execute(text(
                "INSERT INTO contacts (id, external_id, started_at, channel_id, region_id, "
                "service_type_id, served_by, operator_id, wait_s, handle_s, subscriber_key) "
                "VALUES (:id, :external_id, :started_at, :channel_id, :region_id, "
                ":service_type_id, :served_by, :operator_id, :wait_s, :handle_s, "
                ":subscriber_key)"), row)
            connection.execute(insert(NpsSurvey).values(
                contact_id=row["id"], sent_at=row["started_at"], answered=True,
                score=row["id"] + 3, answered_at=row["started_at"]))
        connection.execute(text("INSERT INTO agent_ratings (external_id, operator_id, "
                                "contact_id, score, rated_at) VALUES ('R1', 1, 1, 5, :at)"),
                           {"at": T0 + dt.timedelta(hours=2)})
        connection.execute(text("INSERT INTO cases (external_id, kind, channel_id, category, "
                                "region_id, received_at, status, resolved_at) VALUES "
                                "('CASE-1', 'appeal', 1, 'Billing', 1, :at, 'answered', :end)"),
                           {"at": T0, "end": T0 + dt.timedelta(hours=30)})
        connection.execute(text("INSERT INTO case_events (case_id, stage, at) "
                                "SELECT id, 'received', received_at FROM cases UNION ALL "
                                "SELECT id, 'answered', resolved_at FROM cases"))
        connection.execute(text("DROP TABLE alembic_version"))  # made before migrations
    with engine.connect() as connection:
        assert migrate.stamped_revision(connection) is None
        assert migrate.recognised_revision(connection) == migrate.BASELINE
        assert "bot_s" not in {c["name"] for c in inspect(connection).get_columns("contacts")}
    yield engine
    engine.dispose()


def _raw_rows(connection: Connection) -> dict[str, list[tuple]]:
    """Every row of every raw table the database has (an older one lacks the newer tables)."""
    present = set(inspect(connection).get_table_names())
    return {table: sorted(tuple(str(value) for value in row) for row in connection.execute(
        text(f"SELECT * FROM {table}"))) for table in sorted(migrate.raw_tables() & present)}


def test_an_old_database_is_recognised_upgraded_and_keeps_every_row(previous_version, capsys):
    engine = previous_version
    url = engine.url.render_as_string(hide_password=False)
    with engine.connect() as connection:
        before = _raw_rows(connection)
    with pytest.raises(DatabaseUnavailable, match="python -m data_access migrate"):
        require_schema(engine)  # the commands name the way out

    assert main(["migrate", "--db", url]) == 0
    line = capsys.readouterr().out
    assert f"upgraded 0001_baseline -> {migrate.head()}" in line
    assert "recognised as 0001_baseline" in line and "rollups rebuilt" in line

    with engine.connect() as connection:
        assert migrate.stamped_revision(connection) == migrate.head()
        after = _raw_rows(connection)
        assert connection.scalar(text("SELECT count(*) FROM contacts WHERE bot_s IS NULL")) == 6
    contacts_before = before.pop("contacts")
    assert after.pop("contacts") == [(*row, "None") for row in contacts_before]
    assert after.pop("staffing") == []
    assert after == before  # every other row of every raw table, unchanged
    assert sum(len(rows) for rows in before.values()) > 30
    require_schema(engine)
    assert_matches_rebuild(engine)

    # The re-created triggers count the new column; an impossible one is still refused.
    with engine.begin() as connection:
        connection.execute(insert(Contact).values(
            **_contact(7, "operator", bot_s=95, channel_id=3)))
        connection.execute(text("UPDATE contacts SET bot_s = 40 WHERE id = 1"))
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("UPDATE contacts SET bot_s = 10 WHERE id = 2"))  # a bot's
    assert_matches_rebuild(engine)
    with engine.connect() as connection:
        sums = connection.execute(text(
            "SELECT sum(escalated), sum(escalated_bot_s) FROM rollup_contacts")).one()
        monthly = connection.execute(text(
            "SELECT sum(escalated), sum(escalated_bot_s) FROM rollup_contacts_by_month")).one()
    assert tuple(sums) == tuple(monthly) == (2, 135)

    assert main(["migrate", "--db", url]) == 0
    assert f"already at {migrate.head()}" in capsys.readouterr().out


# --- A database made by the previous main (revision 0002), with a demo's rows ------------------

COPIED = ("operators", "contacts", "nps_surveys", "agent_ratings", "cases", "case_events",
          "demo_loads")  # in the order their foreign keys need


def _copy_served_rows(source: Engine, target: Connection) -> None:
    """The demo's raw rows that revision 0002 can hold (no abandoned contacts, no staffing),
    written through the target's own triggers as that version's writers would."""
    tables, stored = MetaData(), MetaData()
    tables.reflect(target, only=list(COPIED))
    with source.connect() as reading:
        stored.reflect(reading, only=list(COPIED))
        for name in COPIED:
            query = select(stored.tables[name])
            if name == "contacts":
                query = query.where(stored.tables[name].c.served_by != "abandoned")
            rows = [dict(row._mapping) for row in reading.execute(query)]
            assert rows or name == "demo_loads", f"the demo wrote no {name}"
            for start in range(0, len(rows), 2000):
                target.execute(insert(tables.tables[name]), rows[start:start + 2000])


@pytest.fixture
def made_by_0002(backend, tmp_path, monkeypatch) -> Iterator[Engine]:
    """Revision 0002 stamped, that version's rollups and triggers, a two-week demo's rows."""
    demo = create_db_engine(f"sqlite:///{tmp_path / 'demo_source.db'}")
    generate_demo(demo, DemoConfig(dt.date(2022, 6, 18), dt.date(2022, 7, 1), scale=0.01))
    engine = _engine(backend, tmp_path, "v2")
    _upgrade_to(engine, "0002_contacts_bot_s")
    with engine.begin() as connection, _legacy_rollups_installed(
            "0002_contacts_bot_s", connection, monkeypatch):
        seed_reference(connection)
        _copy_served_rows(demo, connection)
    demo.dispose()
    with engine.connect() as connection:
        assert migrate.stamped_revision(connection) == "0002_contacts_bot_s"
        assert not inspect(connection).has_table("staffing")
        assert "abandoned" not in {column["name"] for column in
                                   inspect(connection).get_columns("rollup_contacts")}
    yield engine
    engine.dispose()


def test_a_database_of_the_previous_main_upgrades_with_every_row_and_rollup(
        made_by_0002, capsys):
    engine = made_by_0002
    url = engine.url.render_as_string(hide_password=False)
    with engine.connect() as connection:
        before = _raw_rows(connection)
        served_before = connection.execute(text(
            "SELECT sum(contacts), sum(by_operator), sum(escalated), sum(operator_wait_s) "
            "FROM rollup_contacts")).one()
    assert len(before["contacts"]) > 400 and len(before["nps_surveys"]) > 400

    assert main(["migrate", "--db", url]) == 0
    line = capsys.readouterr().out
    assert f"upgraded 0002_contacts_bot_s -> {migrate.head()}" in line
    assert "rollups rebuilt" in line and "recognised" not in line

    with engine.connect() as connection:
        after = _raw_rows(connection)
        served_after = connection.execute(text(
            "SELECT sum(contacts), sum(by_operator), sum(escalated), sum(operator_wait_s) "
            "FROM rollup_contacts")).one()
        abandoned = connection.scalar(text("SELECT sum(abandoned) FROM rollup_contacts"))
    assert after.pop("staffing") == []
    assert after == before  # every row of every raw table, unchanged
    assert tuple(served_after) == tuple(served_before) and abandoned == 0
    assert_matches_rebuild(engine)

    # The new rows fit, are counted by the re-created triggers, and the new CHECKs hold.
    with engine.begin() as connection:
        connection.execute(insert(Contact), [
            _contact(900_001, "abandoned", wait_s=75, handle_s=0, bot_s=None, started_at=T0),
            _contact(900_002, "abandoned", wait_s=210, handle_s=0, bot_s=40, started_at=T0)])
        connection.execute(insert(Staffing), [
            {"day": T0.date(), "quarter": 36, "pool": pool, "agents": 9}
            for pool in ("digital", "office")])
    for wrong in ({"handle_s": 30}, {"operator_id": 1}):
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert(Contact).values(
                **_contact(900_003, "abandoned", wait_s=5, handle_s=0, started_at=T0) | wrong))
    kept = assert_matches_rebuild(engine)
    key = (T0.date(), 2, 1, 1)
    measures = dict(zip(MEASURES["rollup_contacts"], kept["rollup_contacts"][key], strict=True))
    assert (measures["abandoned"], measures["abandoned_wait_s"],
            measures["abandoned_after_bot"]) == (2, 285, 1)
    assert main(["migrate", "--db", url]) == 0
    assert f"already at {migrate.head()}" in capsys.readouterr().out


def test_an_empty_database_is_created_at_head_and_stamped(backend, tmp_path, capsys):
    engine = _engine(backend, tmp_path, "init")
    url = engine.url.render_as_string(hide_password=False)
    assert main(["init", "--db", url]) == 0
    with engine.connect() as connection:
        assert migrate.stamped_revision(connection) == migrate.head()
        assert rollups.installed_version(connection) == rollups.definition_version(
            connection.dialect.name)
    assert main(["migrate", "--db", url]) == 0
    assert "already at" in capsys.readouterr().out
    engine.dispose()


def test_a_database_made_by_create_all_is_recognised_at_head(backend, tmp_path):
    engine = _engine(backend, tmp_path, "create_all")
    migrate.raw_metadata().create_all(engine)
    with engine.connect() as connection:
        assert migrate.stamped_revision(connection) is None
        assert migrate.is_current(connection)
    rollups.ensure_schema(engine)
    with engine.connect() as connection:
        assert migrate.stamped_revision(connection) == migrate.head()
    engine.dispose()


def _app(monkeypatch, url: str) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    return AppTest.from_file(APP, default_timeout=180).run()


def test_the_app_upgrades_an_old_database_on_start(previous_version, monkeypatch):
    at = _app(monkeypatch, previous_version.url.render_as_string(hide_password=False))
    assert not at.exception
    assert not at.error
    with previous_version.connect() as connection:
        assert migrate.stamped_revision(connection) == migrate.head()
        assert rollups.installed_version(connection) == rollups.definition_version(
            connection.dialect.name)
    assert_matches_rebuild(previous_version)


@pytest.mark.postgres
def test_a_read_only_role_gets_the_command_to_run(tmp_path, monkeypatch):
    """The app's start-up upgrade, as a SELECT-only role: SchemaOutdated naming the command,
    shown as the app's one banner."""
    engine = _engine("postgresql", tmp_path, "readonly")
    _upgrade_to(engine, migrate.BASELINE)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
        seed_reference(connection)
        connection.execute(insert(Contact).values(**_contact(1, "bot")))
    role = f"sp_mig_reader_{os.getpid()}"
    _admin_execute([f"DROP ROLE IF EXISTS {role}",
                    f"CREATE ROLE {role} LOGIN PASSWORD '{role}-secret'"])
    database = engine.url.database
    try:
        with engine.begin() as connection:
            connection.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO {role}'))
            connection.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
            connection.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
        reader = create_db_engine(make_url(engine.url).set(
            username=role, password=f"{role}-secret").render_as_string(hide_password=False))
        with pytest.raises(migrate.SchemaOutdated) as raised:
            migrate.ensure_current(reader)
        assert "python -m data_access migrate" in str(raised.value)
        assert "0001_baseline" in str(raised.value) and "secret" not in str(raised.value)
        reader.dispose()
        at = _app(monkeypatch, make_url(engine.url).set(
            username=role, password=f"{role}-secret").render_as_string(hide_password=False))
        assert not at.exception
        assert len(at.error) == 1 and "`python -m data_access migrate`" in at.error[0].value
        with engine.connect() as connection:  # nothing was changed
            assert migrate.stamped_revision(connection) is None
        assert migrate.ensure_current(engine).after == migrate.head()  # the owner may
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP OWNED BY {role}"))
        engine.dispose()
        _admin_execute([f"DROP ROLE IF EXISTS {role}"])


def test_sqlite_upgrade_keeps_foreign_keys_and_cascades(tmp_path):
    """Batch mode copies contacts with foreign keys off: the surveys must survive the copy,
    and the keys and the cascade must work afterwards."""
    path = tmp_path / "fk.db"
    engine = create_db_engine(f"sqlite:///{path}")
    _upgrade_to(engine, migrate.BASELINE)
    with engine.begin() as connection:
        seed_reference(connection)
        connection.execute(text(
            "INSERT INTO operators (id, external_id, name, team, region_id, active_from) "
            "VALUES (1, 'OP00001', 'A', 'digital', 1, '2020-01-01')"))
        connection.execute(insert(Contact), [_contact(1, "operator"), _contact(2, "bot")])
        connection.execute(insert(NpsSurvey), [
            {"contact_id": n, "sent_at": T0, "answered": False} for n in (1, 2)])
    migrate.migrate(engine)
    with engine.begin() as connection:
        assert connection.scalar(select(text("count(*)")).select_from(NpsSurvey)) == 2
        connection.execute(text("DELETE FROM contacts WHERE id = 2"))
        assert connection.scalar(select(text("count(*)")).select_from(NpsSurvey)) == 1
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(NpsSurvey).values(contact_id=99, sent_at=T0, answered=False))
    plain = create_engine(f"sqlite:///{path}")
    with plain.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    plain.dispose()
    engine.dispose()


def _downgrade_to(engine: Engine, revision: str) -> None:
    with migrate._transaction(engine) as connection:
        command.downgrade(migrate.alembic_config(connection), revision)


def test_downgrade_below_abandoned_refuses_while_abandoned_contacts_exist(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'down.db'}")
    _upgrade_to(engine, "head")
    with engine.begin() as connection:
        seed_reference(connection)
        connection.execute(insert(Contact).values(
            **_contact(1, "abandoned", wait_s=60, handle_s=0, bot_s=None)))
    with pytest.raises(RuntimeError, match="1 abandoned contacts would not fit"):
        _downgrade_to(engine, "0002_contacts_bot_s")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM contacts"))
    _downgrade_to(engine, "0002_contacts_bot_s")
    with engine.connect() as connection:
        assert migrate.stamped_revision(connection) == "0002_contacts_bot_s"
        assert not inspect(connection).has_table("staffing")
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(Contact).values(
            **_contact(2, "abandoned", wait_s=60, handle_s=0, bot_s=None)))
    engine.dispose()
