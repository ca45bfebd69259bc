"""The database itself refuses impossible values, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, func, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from data_access.engine import create_db_engine
from data_access.reference import CHANNELS, REGIONS, SERVICE_TYPES, seed_reference
from data_access.schema import (
    AgentRating,
    Base,
    Case,
    Channel,
    Contact,
    NpsSurvey,
    Operator,
    Staffing,
)

T0 = dt.datetime(2022, 7, 1, 10, 0)


@pytest.fixture
def engine(empty_url) -> Engine:
    engine = create_db_engine(empty_url)
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        seed_reference(connection)
        connection.execute(insert(Operator), [{
            "id": 1, "external_id": "OP1", "name": "Aigerim Omarova", "team": "front_line",
            "region_id": 1, "active_from": dt.date(2020, 1, 1), "active_to": None}])
        connection.execute(insert(Contact), [_contact(1)])
    yield engine
    engine.dispose()


def _contact(contact_id: int, **overrides) -> dict:
    row = {"id": contact_id, "external_id": f"CT{contact_id}", "started_at": T0,
           "channel_id": 1, "region_id": 1, "service_type_id": 1, "served_by": "operator",
           "operator_id": 1, "wait_s": 60, "handle_s": 300, "subscriber_key": "abc"}
    return row | overrides


def _rejected(engine: Engine, model, rows: list[dict]) -> None:
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(model), rows)


def test_reference_data_is_complete(engine):
    with engine.connect() as connection:
        codes = set(connection.scalars(select(Channel.code)))
    assert codes == {"office", "whatsapp", "telegram", "web_cabinet", "mobile_app", "e_otinish"}
    assert len(REGIONS) == 20
    assert sum(region.kind == "city" for region in REGIONS) == 3
    assert len(SERVICE_TYPES) == 6
    assert [c.code for c in CHANNELS if not c.is_online] == ["office"]


def test_nps_score_11_is_rejected(engine):
    _rejected(engine, NpsSurvey, [{"contact_id": 1, "sent_at": T0, "answered": True,
                                   "score": 11, "answered_at": T0}])


def test_nps_score_10_is_accepted(engine):
    with engine.begin() as connection:
        connection.execute(insert(NpsSurvey), [{"contact_id": 1, "sent_at": T0,
                                                "answered": True, "score": 10,
                                                "answered_at": T0}])
        assert connection.scalar(select(NpsSurvey.score)) == 10


def test_answered_survey_needs_a_score(engine):
    _rejected(engine, NpsSurvey, [{"contact_id": 1, "sent_at": T0, "answered": True,
                                   "score": None}])


def test_rating_0_is_rejected(engine):
    _rejected(engine, AgentRating, [{"external_id": "AR1", "operator_id": 1, "contact_id": 1,
                                     "score": 0, "rated_at": T0}])


def test_unknown_channel_is_rejected(engine):
    _rejected(engine, Contact, [_contact(2, channel_id=99)])


def test_operator_required_exactly_when_served_by_operator(engine):
    _rejected(engine, Contact, [_contact(2, served_by="bot")])
    _rejected(engine, Contact, [_contact(3, operator_id=None)])


def test_negative_wait_is_rejected(engine):
    _rejected(engine, Contact, [_contact(2, wait_s=-1)])


def test_duplicate_external_id_is_rejected(engine):
    _rejected(engine, Contact, [_contact(2, external_id="CT1")])


def test_case_closed_status_needs_resolved_time(engine):
    row = {"external_id": "CMP1", "kind": "complaint", "channel_id": 1, "category": "x",
           "region_id": 1, "received_at": T0, "status": "answered", "resolved_at": None}
    _rejected(engine, Case, [row])
    _rejected(engine, Case, [row | {"status": "pending", "resolved_at": T0}])


def test_indexes_serve_time_range_queries(engine):
    indexes = {ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes("contacts")}
    assert indexes["ix_contacts_started_at_dims"][0] == "started_at"
    case_indexes = [ix["column_names"][0] for ix in inspect(engine).get_indexes("cases")]
    assert "received_at" in case_indexes


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_bot_s_only_on_operator_contacts_and_never_negative(engine):
    with engine.begin() as connection:  # escalated: the bot started it, a person finished
        connection.execute(insert(Contact), [_contact(2, bot_s=90), _contact(3, bot_s=0)])
    _rejected(engine, Contact, [_contact(4, served_by="bot", operator_id=None, bot_s=30)])
    _rejected(engine, Contact, [_contact(5, served_by="self_service", operator_id=None,
                                         bot_s=30)])
    _rejected(engine, Contact, [_contact(6, bot_s=-1)])
    with engine.connect() as connection:
        assert dict(connection.execute(select(Contact.id, Contact.bot_s)).all()) == {
            1: None, 2: 90, 3: 0}


def _abandoned(contact_id: int, **overrides) -> dict:
    return _contact(contact_id, served_by="abandoned", operator_id=None, wait_s=140,
                    handle_s=0, bot_s=None) | overrides


def test_abandoned_contacts_have_no_operator_no_handle_time_and_may_have_bot_time(engine):
    with engine.begin() as connection:
        connection.execute(insert(Contact), [_abandoned(2), _abandoned(3, bot_s=45)])
    _rejected(engine, Contact, [_abandoned(4, operator_id=1)])  # nobody answered it
    _rejected(engine, Contact, [_abandoned(5, handle_s=30)])
    _rejected(engine, Contact, [_abandoned(6, wait_s=-5)])
    _rejected(engine, Contact, [_abandoned(7, bot_s=-1)])
    _rejected(engine, Contact, [_contact(8, served_by="gave_up", operator_id=None)])
    with engine.connect() as connection:
        assert dict(connection.execute(
            select(Contact.id, Contact.bot_s).where(Contact.served_by == "abandoned")).all()
        ) == {2: None, 3: 45}


def _staffing(**overrides) -> dict:
    return {"day": T0.date(), "quarter": 36, "pool": "digital", "agents": 12} | overrides


def test_staffing_is_one_row_per_day_quarter_and_pool_with_sane_values(engine):
    with engine.begin() as connection:
        connection.execute(insert(Staffing), [
            _staffing(), _staffing(pool="office", agents=0), _staffing(quarter=0),
            _staffing(quarter=95)])
    _rejected(engine, Staffing, [_staffing()])  # the same interval and pool twice
    _rejected(engine, Staffing, [_staffing(quarter=96)])
    _rejected(engine, Staffing, [_staffing(quarter=-1)])
    _rejected(engine, Staffing, [_staffing(pool="voice")])
    _rejected(engine, Staffing, [_staffing(quarter=40, agents=-1)])
    with engine.connect() as connection:
        assert connection.scalar(select(func.sum(Staffing.agents))) == 36
