"""`python -m data_access import`: every row stored once, skipped or rejected with its reason."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from data_access import config, importer
from data_access.cli import main
from data_access.config import LOCAL_TZ
from data_access.demo import DemoConfig, generate_demo
from data_access.engine import create_db_engine
from data_access.importer import pipeline
from data_access.reference import REGIONS
from data_access.schema import (
    AgentRating,
    Case,
    CaseEvent,
    Contact,
    NpsSurvey,
    Operator,
    Staffing,
)
from tests.conftest import fresh_postgres_database, signal_when
from tests.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "data_access" / "examples"
ORDER = ("contacts", "surveys", "cases", "case_events", "ratings")
CONTACT_HEADER = ("external_id,started_at,channel,region,service_type,served_by,"
                  "operator_external_id,wait_s,handle_s,subscriber_key")
TIMESTAMP_PROBLEM = f"not a timestamp: use {importer.TIMESTAMP_HELP}"
VALUE_MAX = 131_072  # the README's limit on a value, in characters


@pytest.fixture
def demo_url(empty_url) -> str:
    """A one-month demo: reference data, operators OP00001.., contacts CT.. with surveys."""
    engine = create_db_engine(empty_url)
    generate_demo(engine, DemoConfig(dt.date(2022, 7, 1), dt.date(2022, 7, 31), scale=0.001))
    engine.dispose()
    return empty_url


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_import(capsys, kind: str, path: Path, url: str, *extra: str) -> dict:
    code = main(["import", "--kind", kind, "--file", str(path), "--db", url, "--json", *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["read"] == (summary["inserted"] + summary["duplicates_skipped"]
                               + summary["rejected"])
    return summary


def rejects(path: Path) -> list[tuple]:
    """(row, field, value, problem) of each line of the rejects file of `path`; a value may
    be longer than the csv module's default limit."""
    limit = csv.field_size_limit(1 << 24)
    try:
        with importer.rejects_path(path).open(encoding="utf-8", newline="") as handle:
            return [(int(line["row"]), line["field"], line["value"], line["problem"])
                    for line in csv.DictReader(handle)]
    finally:
        csv.field_size_limit(limit)


def counts(summary: dict) -> tuple[int, int, int, int, int]:
    return (summary["read"], summary["inserted"], summary["duplicates_skipped"],
            summary["rejected"], summary["duplicates_in_file"])


def stored(url: str, column, *where) -> list:
    engine = create_db_engine(url)
    with engine.connect() as connection:
        values = list(connection.execute(select(*column).where(*where)).all())
    engine.dispose()
    return values


def local(iso: str) -> dt.datetime:
    """An ISO instant in naive Almaty time, by zoneinfo (Almaty moved from UTC+6 to +5)."""
    return dt.datetime.fromisoformat(iso).astimezone(LOCAL_TZ).replace(tzinfo=None)


def import_examples(capsys, url: str, folder: Path, kinds: tuple[str, ...] = ORDER) -> None:
    for kind in kinds:
        copy = Path(shutil.copy(EXAMPLES / f"{kind}.csv", folder / f"{kind}.csv"))
        summary = run_import(capsys, kind, copy, url)
        assert (summary["rejected"], summary["inserted"]) == (0, summary["read"]), summary


def test_contacts_mixed_file_and_idempotent_reimport(demo_url, tmp_path, capsys):
    path = write(
        tmp_path / "contacts.csv", CONTACT_HEADER + ",note",
        "C-1,2022-07-01 09:00,office,almaty_city,connection,operator,OP00001,10,20,k1,first",
        "C-2,2022-07-01T10:00:00+00:00,WhatsApp,ASTANA,consultation,bot,,0,5,k2,",
        "C-3,2022-07-01T10:00:00Z,web_cabinet,karaganda,tariff_change,self_service,,0,9,k3,",
        "C-4,2022-07-01 09:00,fax,mars,connection,bot,,-1,2.5,k4,",
        "C-5,2022-07-01 09:00,office,almaty_city,connection,operator,,10,20,k5,",
        "C-6,2022-07-01 09:00,office,almaty_city,connection,bot,OP00001,10,20,k6,",
        "C-7,2022-07-01 09:00,office,almaty_city,connection,operator,OP99999,10,20,k7,",
        "C-1,2022-07-02 09:00,office,almaty_city,connection,operator,OP00002,10,20,k1,again",
        ",yesterday,office,almaty_city,connection,bot,,1,2,k9,",
        "C-10,2022-07-01 09:00,office",
        "C-11,2022-07-01 09:00,e_otinish,almaty_city,connection,bot,,1,2,k11,",
        "C-11,2022-07-01 09:00,telegram,almaty_city,connection,bot,,1,2,k11,valid after all",
        "C-13,2024-06-01T10:00:00+00:00,mobile_app,abai,transfer,operator,OP00002,5,6,k13,",
        "C-13,2022-07-01 09:00,mobile_app,abai,transfer,bot,,5,6,k13,same chunk",
    )
    # Batches of 4 rows: the repeat of C-1 (row 8) is found in a later batch than row 1.
    summary = run_import(capsys, "contacts", path, demo_url, "--batch-rows", "4")
    assert counts(summary) == (14, 5, 0, 9, 2)
    assert summary["ignored_columns"] == ["note"]
    assert summary["rejects_file"] == str(tmp_path / "contacts.rejects.csv")
    expected = [
        (4, "channel", "fax", "unknown channel code (known: office, whatsapp, telegram, "
                              "web_cabinet, mobile_app, e_otinish)"),
        (4, "region", "mars", "unknown region code (see the README)"),
        (4, "wait_s", "-1", "must be between 0 and 2147483647"),
        (4, "handle_s", "2.5", "not a whole number"),
        (5, "operator_external_id", "", "required when served_by is operator"),
        (6, "operator_external_id", "OP00001", "must be empty unless served_by is operator"),
        (7, "operator_external_id", "OP99999", "no operator with this external_id"),
        (8, "external_id", "C-1", "repeats row 1 (same external_id); only the first is imported"),
        (9, "external_id", "", "required"),
        (9, "started_at", "yesterday", TIMESTAMP_PROBLEM),
        (10, "(row)", "C-10,2022-07-01 09:00,office", "has 3 fields, the header has 11"),
        (11, "channel", "e_otinish", "this channel takes no contacts (cases only)"),
        (14, "external_id", "C-13",
         "repeats row 13 (same external_id); only the first is imported"),
    ]
    assert rejects(path) == expected
    with importer.rejects_path(path).open(encoding="utf-8", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == [*importer.REJECT_COLUMNS, *CONTACT_HEADER.split(","), "note"]
    assert lines[8][4:] == ["C-1", "2022-07-02 09:00", "office", "almaty_city", "connection",
                            "operator", "OP00002", "10", "20", "k1", "again"]

    rows = dict(stored(demo_url, (Contact.external_id, Contact.started_at),
                       Contact.external_id.like("C-%")))
    assert rows == {
        "C-1": dt.datetime(2022, 7, 1, 9, 0),  # naive: local time, kept
        "C-2": local("2022-07-01T10:00:00+00:00"),
        "C-3": local("2022-07-01T10:00:00+00:00"),
        "C-11": dt.datetime(2022, 7, 1, 9, 0),  # row 11 was invalid: row 12 takes the id
        "C-13": local("2024-06-01T10:00:00+00:00"),
    }
    assert rows["C-2"] == dt.datetime(2022, 7, 1, 16, 0)  # Almaty was UTC+6 in 2022

    again = run_import(capsys, "contacts", path, demo_url, "--batch-rows", "4")
    assert counts(again) == (14, 0, 5, 9, 2)
    assert rejects(path) == expected
    assert len(stored(demo_url, (Contact.id,), Contact.external_id.like("C-%"))) == 5


def test_surveys_mixed_file(demo_url, tmp_path, capsys):
    import_examples(capsys, demo_url, tmp_path, ("contacts",))
    path = write(  # no suggestion column: it is optional
        tmp_path / "surveys.csv", "contact_external_id,sent_at,answered,score,reason,answered_at",
        "EX-C-0001,2022-07-01 09:32,true,9,,2022-07-01 10:15",
        "EX-C-0002,2022-07-01 10:08,true,,,",
        "EX-C-0003,2022-07-01 11:32,false,5,long_wait,",
        "EX-C-0004,2022-07-01 12:58,maybe,,,",
        "EX-C-0005,2022-07-02 15:33,TRUE,11,,2022-07-02 16:00",
        "NOPE-1,2022-07-01 09:00,false,,,",
        "EX-C-0001,2022-07-01 09:40,false,,,",
        "EX-C-0002,2022-07-01 10:08,yes,3,long_wait,2022-07-01 09:00",
        "EX-C-0003,2022-07-01 11:32,0,,,",
        "CT0000000001,2022-07-01 09:00,false,,,",
    )
    summary = run_import(capsys, "surveys", path, demo_url)
    assert counts(summary) == (10, 2, 1, 7, 1)  # the demo contact has its survey already
    assert rejects(path) == [
        (2, "score", "", "required when answered is true"),
        (2, "answered_at", "", "required when answered is true"),
        (3, "score", "5", "must be empty unless answered is true"),
        (3, "reason", "long_wait", "must be empty unless answered is true"),
        (4, "answered", "maybe", "not true or false"),
        (5, "score", "11", "must be between 0 and 10"),
        (6, "contact_external_id", "NOPE-1",
         "no contact with this external_id (import contacts first)"),
        (7, "contact_external_id", "EX-C-0001",
         "repeats row 1 (same contact_external_id); only the first is imported"),
        (8, "answered_at", "2022-07-01 09:00", "before sent_at"),
    ]
    surveys = stored(demo_url, (Contact.external_id, NpsSurvey.answered, NpsSurvey.score),
                     NpsSurvey.contact_id == Contact.id, Contact.external_id.like("EX-%"))
    assert sorted(surveys) == [("EX-C-0001", True, 9), ("EX-C-0003", False, None)]


def test_cases_and_case_events_mixed_files(demo_url, tmp_path, capsys):
    cases = write(
        tmp_path / "cases.csv",
        "external_id,kind,channel,category,region,received_at,status,resolved_at",
        "K-1,complaint,office,Long waiting time,astana,2022-07-01 09:00,answered,2022-07-03 10:00",
        "K-2,appeal,e_otinish,No internet connection,abai,2022-07-01 09:00,received,",
        "K-3,question,office,Billing,astana,2022-07-01 09:00,closed,2022-07-02 09:00",
        "K-4,appeal,office,Billing,astana,2022-07-01 09:00,withdrawn,",
        "K-5,appeal,office,Billing,astana,2022-07-01 09:00,assigned,2022-07-02 09:00",
        "K-6,appeal,office,Billing,astana,2022-07-03 09:00,answered,2022-07-02 09:00",
        f"K-7,appeal,office,{'x' * 129},astana,2022-07-01 09:00,received,",
    )
    summary = run_import(capsys, "cases", cases, demo_url)
    assert counts(summary) == (7, 2, 0, 5, 0)
    assert rejects(cases) == [
        (3, "kind", "question", "unknown kind (known: complaint, appeal)"),
        (3, "status", "closed", "unknown status (known: received, assigned, under_review, "
                                "answer_prepared, answered, withdrawn)"),
        (4, "resolved_at", "", "required when status is answered or withdrawn"),
        (5, "resolved_at", "2022-07-02 09:00",
         "must be empty unless status is answered or withdrawn"),
        (6, "resolved_at", "2022-07-02 09:00", "before received_at"),
        (7, "category", "x" * 129, "longer than 128 characters"),
    ]
    events = write(
        tmp_path / "case_events.csv", "case_external_id,stage,at",
        "K-1,received,2022-07-01 09:00",
        "K-1,Answered,2022-07-03 10:00",
        "K-1,received,2022-07-01 09:05",
        "K-9,received,2022-07-01 09:00",
        "K-2,done,2022-07-01 09:00",
        "K-2,received,2022-07-01 09:00",
    )
    summary = run_import(capsys, "case_events", events, demo_url)
    assert counts(summary) == (6, 3, 0, 3, 1)
    assert rejects(events) == [
        (3, "case_external_id,stage", "K-1,received",
         "repeats row 1 (same case_external_id, stage); only the first is imported"),
        (4, "case_external_id", "K-9", "no case with this external_id (import cases first)"),
        (5, "stage", "done", "unknown stage (known: received, assigned, under_review, "
                             "answer_prepared, answered, withdrawn)"),
    ]
    assert sorted(stored(demo_url, (Case.external_id, CaseEvent.stage),
                         CaseEvent.case_id == Case.id, Case.external_id.like("K-%"))) == [
        ("K-1", "answered"), ("K-1", "received"), ("K-2", "received")]
    assert counts(run_import(capsys, "case_events", events, demo_url)) == (6, 0, 3, 3, 1)


def test_ratings_mixed_file(demo_url, tmp_path, capsys):
    import_examples(capsys, demo_url, tmp_path, ("contacts", "ratings"))  # EX-R-0001 rates C-0001
    (c2, _), (c3, _) = unrated_operator_contacts(demo_url, 2)  # a person served them
    path = write(
        tmp_path / "ratings.csv", "external_id,contact_external_id,operator_external_id,score,"
                                  "rated_at",
        f"R-1,{c2},OP00001,5,2022-07-01 11:00",
        f"R-2,{c2},OP00002,4,2022-07-01 11:00",
        f"R-1,{c3},OP00001,5,2022-07-01 11:00",
        "R-4,EX-C-0001,OP00001,2,2022-07-01 11:00",
        "EX-R-0004,EX-C-0004,OP00002,4,2022-07-01 13:30",
        f"R-6,{c3},OP99999,0,2022-07-01 11:00",
        "R-7,NOPE,OP00001,3,2022-07-01 25:00",
    )
    summary = run_import(capsys, "ratings", path, demo_url)
    assert counts(summary) == (7, 1, 1, 5, 1)
    assert rejects(path) == [
        (2, "contact_external_id", c2,
         "contact already rated in row 1; one rating per contact"),
        (3, "external_id", "R-1", "repeats row 1 (same external_id); only the first is imported"),
        (4, "contact_external_id", "EX-C-0001",
         "contact already rated: rating EX-R-0001 is stored for it; one rating per contact"),
        (6, "score", "0", "must be between 1 and 5"),
        (6, "operator_external_id", "OP99999", "no operator with this external_id"),
        (7, "rated_at", "2022-07-01 25:00", TIMESTAMP_PROBLEM),
        (7, "contact_external_id", "NOPE",
         "no contact with this external_id (import contacts first)"),
    ]
    assert stored(demo_url, (AgentRating.external_id, AgentRating.score),
                  AgentRating.external_id.like("R-%")) == [("R-1", 5)]
    first_rejects = rejects(path)
    assert counts(run_import(capsys, "ratings", path, demo_url)) == (7, 0, 2, 5, 1)
    assert rejects(path) == first_rejects  # the stored R-1 does not make row 2 a new clash


def unrated_operator_contacts(url: str, count: int) -> list[tuple[str, str]]:
    """(contact external_id, operator external_id) of demo contacts a person served, unrated."""
    rated = select(AgentRating.contact_id)
    return stored(url, (Contact.external_id, Operator.external_id),
                  Contact.operator_id == Operator.id, Contact.served_by == "operator",
                  Contact.id.not_in(rated))[:count]


def test_concurrent_rating_imports_reject_the_clashing_rows(demo_url, tmp_path, monkeypatch):
    """Two imports rate the same contacts under different external ids at once: both check
    before either stores, so the clash is found only when the second one stores. Its rows
    are rejected with the stored rating named, as when the imports run one after another."""
    contacts = unrated_operator_contacts(demo_url, 5)
    header = "external_id,contact_external_id,operator_external_id,score,rated_at"
    paths = {name: write(tmp_path / f"{name}.csv", header, *(
        f"{name}-{number},{contact},{operator},4,2022-07-31 12:00"
        for number, (contact, operator) in enumerate(contacts, start=1)))
        for name in ("A", "B")}
    both_checked = threading.Barrier(2, timeout=60)
    original = importer.Importer.store

    def store(self, checked, rejects_file):
        both_checked.wait()  # neither stores before both have looked for stored clashes
        return original(self, checked, rejects_file)

    monkeypatch.setattr(importer.Importer, "store", store)
    summaries: dict[str, importer.ImportSummary] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            summaries[name] = importer.import_file("ratings", paths[name], demo_url,
                                                   warn=lambda message: None)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(name,)) for name in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    winner = {row[0].split("-")[0] for row in stored(
        demo_url, (AgentRating.external_id,),
        AgentRating.external_id.like("A-%") | AgentRating.external_id.like("B-%"))}
    assert len(winner) == 1
    (won,) = winner
    lost = "B" if won == "A" else "A"
    assert (summaries[won].inserted, summaries[won].rejected) == (5, 0)
    assert (summaries[lost].read, summaries[lost].inserted, summaries[lost].duplicates_skipped,
            summaries[lost].rejected) == (5, 0, 0, 5)
    assert rejects(paths[lost]) == [
        (number, "contact_external_id", contact,
         f"contact already rated: rating {won}-{number} is stored for it; one rating per "
         "contact") for number, (contact, _) in enumerate(contacts, start=1)]

    # One after the other, the same rows are rejected alike.
    monkeypatch.setattr(importer.Importer, "store", original)
    again = importer.import_file("ratings", paths[lost], demo_url, warn=lambda message: None)
    assert (again.inserted, again.duplicates_skipped, again.rejected) == (0, 0, 5)
    assert rejects(paths[lost]) == [
        (number, "contact_external_id", contact,
         f"contact already rated: rating {won}-{number} is stored for it; one rating per "
         "contact") for number, (contact, _) in enumerate(contacts, start=1)]


def test_case_events_follow_the_stage_order_and_their_case(demo_url, tmp_path, capsys):
    cases = write(
        tmp_path / "cases.csv",
        "external_id,kind,channel,category,region,received_at,status,resolved_at",
        "Q-1,appeal,office,Billing,astana,2022-07-10 09:00,received,",
        "Q-2,complaint,office,Billing,astana,2022-07-10 09:00,answered,2022-07-12 10:00",
        "Q-3,appeal,office,Billing,astana,2022-07-10 09:00,under_review,",
    )
    assert counts(run_import(capsys, "cases", cases, demo_url)) == (3, 3, 0, 0, 0)
    stored_event = write(tmp_path / "stored.csv", "case_external_id,stage,at",
                         "Q-3,under_review,2022-07-11 09:00")
    assert counts(run_import(capsys, "case_events", stored_event, demo_url)) == (1, 1, 0, 0, 0)
    events = write(
        tmp_path / "case_events.csv", "case_external_id,stage,at",
        "Q-1,received,2022-07-10 09:00",
        "Q-1,assigned,2022-06-10 09:00",  # a month before the case was received
        "Q-1,answered,2022-07-11 09:00",  # the case is still received
        "Q-1,withdrawn,2022-07-11 09:00",
        "Q-2,assigned,2022-07-10 12:00",
        "Q-2,withdrawn,2022-07-12 10:00",  # the case was answered
        "Q-2,answered,2022-07-12 11:00",  # not at resolved_at
        "Q-2,under_review,2022-07-13 09:00",  # after resolved_at
        "Q-2,answer_prepared,2022-07-10 10:00",  # before row 5's assigned
        "Q-3,assigned,2022-07-11 10:00",  # after the stored under_review
        "Q-3,received,2022-07-10 09:30",
        "Q-3,answer_prepared,2022-07-12 09:00",  # later than the case's status
    )
    summary = run_import(capsys, "case_events", events, demo_url, "--batch-rows", "5")
    assert counts(summary) == (12, 3, 0, 9, 0)
    assert rejects(events) == [
        (2, "at", "2022-06-10 09:00", "before the case's received_at 2022-07-10 09:00:00"),
        (2, "stage", "assigned", "the case's status is received: assigned is a later stage"),
        (3, "stage", "answered", "the case's status is received: it has no closing event "
                                 "(answered) yet"),
        (4, "stage", "withdrawn", "the case's status is received: it has no closing event "
                                  "(withdrawn) yet"),
        (6, "stage", "withdrawn", "the case's status is answered: answered and withdrawn "
                                  "exclude each other"),
        (7, "at", "2022-07-12 11:00", "the closing event must be at the case's resolved_at "
                                      "2022-07-12 10:00:00"),
        (8, "at", "2022-07-13 09:00", "after the case's resolved_at 2022-07-12 10:00:00"),
        (9, "at", "2022-07-10 10:00", "before the case's assigned event at 2022-07-10 "
                                      "12:00:00 (row 5)"),
        (10, "at", "2022-07-11 10:00", "after the case's under_review event at 2022-07-11 "
                                       "09:00:00 (stored)"),
        (12, "stage", "answer_prepared", "the case's status is under_review: answer_prepared "
                                         "is a later stage"),
    ]
    assert sorted(stored(demo_url, (Case.external_id, CaseEvent.stage),
                         CaseEvent.case_id == Case.id, Case.external_id.like("Q-%"))) == [
        ("Q-1", "received"), ("Q-2", "assigned"), ("Q-3", "received"),
        ("Q-3", "under_review")]


def test_ratings_need_an_operator_served_contact(demo_url, tmp_path, capsys):
    import_examples(capsys, demo_url, tmp_path, ("contacts",))
    path = write(
        tmp_path / "ratings.csv", "external_id,contact_external_id,operator_external_id,score,"
                                  "rated_at",
        "R-1,EX-C-0002,OP00001,5,2022-07-01 11:00",
        "R-2,EX-C-0003,OP00001,4,2022-07-01 11:00",
        "R-3,EX-C-0001,OP00001,4,2022-07-01 11:00")
    assert counts(run_import(capsys, "ratings", path, demo_url)) == (3, 1, 0, 2, 0)
    assert rejects(path) == [
        (1, "contact_external_id", "EX-C-0002", "the contact was served by bot (served_by), "
         "not an operator: only a contact a person served is rated"),
        (2, "contact_external_id", "EX-C-0003", "the contact was served by self_service "
         "(served_by), not an operator: only a contact a person served is rated")]


@pytest.mark.parametrize("kind", ORDER)
def test_timestamps_more_than_a_day_ahead_are_in_the_future(kind, demo_url, tmp_path, capsys,
                                                            monkeypatch):
    """Every timestamp column of every kind, against local_now() plus one day."""
    monkeypatch.setattr(config, "local_now", lambda: dt.datetime(2022, 7, 10, 12, 0))
    import_examples(capsys, demo_url, tmp_path, ORDER[:ORDER.index(kind)])
    source = (EXAMPLES / f"{kind}.csv").read_text(encoding="utf-8").splitlines()
    header = source[0].split(",")
    first = next(csv.reader([source[1]]))
    columns = [number for number, name in enumerate(header)
               if name in ("started_at", "sent_at", "answered_at", "received_at",
                           "resolved_at", "at", "rated_at") and first[number]]
    row = list(first)
    for column in columns:  # just over a day ahead, in order with each other
        row[column] = "2022-07-11 12:00:01"
    path = write(tmp_path / f"future_{kind}.csv", source[0], ",".join(row))
    run_import(capsys, kind, path, demo_url)
    found = {(field, problem) for _, field, _, problem in rejects(path)
             if problem.startswith("in the future")}
    assert found == {(header[column], "in the future (more than one day ahead of now)")
                     for column in columns}


def test_example_files_import_cleanly_in_order(demo_url, tmp_path, capsys):
    import_examples(capsys, demo_url, tmp_path)
    assert not list(tmp_path.glob("*.rejects.csv"))


UNREADABLE = {
    "missing file": (None, "contacts", "does not exist"),
    "unknown kind": (CONTACT_HEADER, "visits", "unknown --kind 'visits'; use one of: contacts, "
                                               "surveys, cases, case_events, ratings"),
    "missing columns": ("external_id,started_at,channel,region,service_type,"
                        "operator_external_id,handle_s,subscriber_key", "contacts",
                        "missing required columns served_by, wait_s for --kind contacts"),
    "empty file": ("", "contacts", "is empty: no header row"),
    "internal column name": (CONTACT_HEADER + ",__row", "contacts",
                             "column __row starts with '__', which the importer keeps for its "
                             "own columns; rename it"),
    "UTF-16": ("utf-16", "contacts", "is UTF-16 encoded (byte-order mark); save it as UTF-8"),
    "Latin-1": ("latin-1", "contacts", "is not UTF-8: byte 0xF6 on line 3 is invalid"),
    "broken Parquet": ("parquet", "contacts", "is not a readable Parquet file"),
    "nested Parquet": ("nested", "contacts", "column tags (List(String)) holds lists or "
                                             "structs, not single values; flatten or drop it"),
    "spreadsheet": ("xlsx", "contacts", "unsupported file type '.xlsx'; use .csv (UTF-8) or "
                                        ".parquet"),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_unreadable_file_is_one_line_and_exit_2(case, tmp_path, capsys):
    content, kind, message = UNREADABLE[case]
    row = "C-1,2022-07-01 09:00,office,almaty_city,connection,bot,,0,1,Zhanaözen"
    path = tmp_path / "contacts.csv"
    if content in ("utf-16", "latin-1"):
        path.write_text(f"{CONTACT_HEADER}\n{row.replace('ö', 'o')}\n{row}\n", encoding=content)
    elif content == "parquet":
        path = tmp_path / "contacts.parquet"
        path.write_bytes(b"PAR1 this is not really parquet PAR1")
    elif content == "nested":  # refused even where the kind would ignore the column
        path = tmp_path / "contacts.parquet"
        pl.read_csv(f"{CONTACT_HEADER}\n{row}\n".encode(), infer_schema=False).with_columns(
            tags=pl.lit(["vip"])).write_parquet(path)
    elif content == "xlsx":
        path = tmp_path / "contacts.xlsx"
        path.write_bytes(b"PK\x03\x04")
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    database = tmp_path / "untouched.db"
    code = main(["import", "--kind", kind, "--file", str(path), "--db", f"sqlite:///{database}"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: ")
    assert message in captured.err
    assert not database.exists()  # the database is not even opened
    assert not list(tmp_path.glob("*.rejects.csv"))


def test_parquet_instants_and_whole_floats(demo_url, tmp_path, capsys):
    path = tmp_path / "contacts.parquet"
    pl.DataFrame({
        "external_id": ["P-1", "P-2", "P-3", "P-4"],
        "started_at": pl.Series([dt.datetime(2022, 7, 1, 10, 0)] * 4).dt.replace_time_zone("UTC"),
        "channel": ["office", "whatsapp", "telegram", "office"],
        "region": ["astana"] * 4,
        "service_type": ["connection"] * 4,
        "served_by": ["operator", "bot", "bot", "bot"],
        "operator_external_id": ["OP00003", None, None, None],
        "wait_s": [60, 0, 0, 0],
        "handle_s": [300.0, None, 2.5, 1e20],  # a float column with a gap, as pandas writes it
        "subscriber_key": ["k1", "k2", "k3", "k4"],
    }).write_parquet(path)
    summary = run_import(capsys, "contacts", path, demo_url)
    assert counts(summary) == (4, 1, 0, 3, 0)
    assert rejects(path) == [  # a whole number beyond 64 bits is out of range, and shown
        (2, "handle_s", "", "required"), (3, "handle_s", "2.5", "not a whole number"),
        (4, "handle_s", "100000000000000000000", "must be between 0 and 2147483647")]
    assert stored(demo_url, (Contact.started_at, Contact.handle_s),
                  Contact.external_id == "P-1") == [(local("2022-07-01T10:00:00+00:00"), 300)]

    pl.DataFrame({"external_id": ["P-9"]}).write_parquet(path)
    code = main(["import", "--kind", "contacts", "--file", str(path), "--db", demo_url])
    assert code == 2
    assert "missing required columns started_at, channel, region" in capsys.readouterr().err


@pytest.mark.parametrize("zone", ["+05:45", "America/St_Johns", "-03:30"])
def test_parquet_offsets_of_any_zone_become_local_time(zone, demo_url, tmp_path, capsys):
    """pandas writes a fixed offset as the zone `+05:45`, which Polars cannot read (it
    panicked); every zone's instants are stored in naive Almaty time."""
    import pandas as pd

    path = tmp_path / "contacts.parquet"
    started = pd.to_datetime(["2022-07-01 10:00", "2022-07-01 11:30", None,
                              "2022-07-01 12:00"]).tz_localize(zone)
    pd.DataFrame({
        "external_id": ["Z-1", "Z-2", "Z-3", "Z-4"], "started_at": started,
        "channel": ["office"] * 4, "region": ["astana"] * 4, "service_type": ["connection"] * 4,
        "served_by": ["bot"] * 4, "operator_external_id": [None] * 4, "wait_s": [0] * 4,
        "handle_s": [1, 2, 3, -1], "subscriber_key": ["k1", "k2", "k3", "k4"],
    }).to_parquet(path)
    summary = run_import(capsys, "contacts", path, demo_url)
    assert counts(summary) == (4, 2, 0, 2, 0)
    assert rejects(path) == [(3, "started_at", "", "required"),
                             (4, "handle_s", "-1", "must be between 0 and 2147483647")]
    expected = {f"Z-{number}": local(moment.isoformat())
                for number, moment in ((1, started[0]), (2, started[1]))}
    assert dict(stored(demo_url, (Contact.external_id, Contact.started_at),
                       Contact.external_id.like("Z-%"))) == expected
    if zone == "+05:45":
        assert expected["Z-1"] == dt.datetime(2022, 7, 1, 10, 15)  # UTC+6 in Almaty in 2022


def test_parquet_binary_columns_are_read_as_utf8_text(demo_url, tmp_path, capsys):
    """Bytes are decoded, never stored as a Python repr; bytes that are not UTF-8 reject
    their row, in a column the kind reads, and no warning is printed."""
    path = tmp_path / "contacts.parquet"
    pl.DataFrame({
        "external_id": ["B-1", "B-2", "B-3"],
        "started_at": ["2022-07-01 09:00"] * 3,
        "channel": pl.Series([b"office", b"whatsapp", b"office"], dtype=pl.Binary),
        "region": ["astana"] * 3,
        "service_type": ["connection"] * 3,
        "served_by": ["bot"] * 3,
        "operator_external_id": pl.Series([None] * 3, dtype=pl.Binary),
        "wait_s": [0] * 3,
        "handle_s": [1] * 3,
        "subscriber_key": pl.Series([b"k1", b"k\xff2", "ké3".encode()], dtype=pl.Binary),
        "note": pl.Series([b"\xfe", None, b"ok"], dtype=pl.Binary),  # ignored: does not count
    }).write_parquet(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = run_import(capsys, "contacts", path, demo_url)
    assert counts(summary) == (3, 2, 0, 1, 0)
    assert rejects(path) == [(2, "subscriber_key", "k\\xff2", importer.NOT_UTF8)]
    assert sorted(stored(demo_url, (Contact.external_id, Contact.subscriber_key),
                         Contact.external_id.like("B-%"))) == [("B-1", "k1"), ("B-3", "ké3")]


def test_database_outage_is_retried_then_reported_in_one_line(demo_url, tmp_path, capsys,
                                                              monkeypatch):
    path = write(tmp_path / "contacts.csv", CONTACT_HEADER, *(
        f"O-{n},2022-07-01 09:00,office,astana,connection,bot,,0,1,k" for n in range(1, 7)))
    real_insert = pipeline.insert_new_rows_counted
    calls = {"count": 0, "fail": {2, 3}}

    def flaky_insert(connection, table, frame):
        calls["count"] += 1
        if calls["count"] in calls["fail"]:
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))
        return real_insert(connection, table, frame)

    monkeypatch.setattr(pipeline, "RETRY_DELAYS_S", (0.0, 0.0, 0.0))
    monkeypatch.setattr(pipeline, "insert_new_rows_counted", flaky_insert)
    command = ["import", "--kind", "contacts", "--file", str(path), "--db", demo_url,
               "--batch-rows", "2"]
    assert main([*command, "--json"]) == 0
    captured = capsys.readouterr()
    assert counts(json.loads(captured.out)) == (6, 6, 0, 0, 0)
    assert calls["count"] == 5  # batch 2 failed twice, then went in
    assert [line.split("; ")[1] for line in captured.err.splitlines()] == [
        "retry 1/3 in 0 s", "retry 2/3 in 0 s"]
    assert captured.err.startswith("database error while storing rows 3..4: server closed")

    calls.update(count=0, fail=set(range(2, 10)))  # the server is gone after batch 1
    path.write_text(path.read_text().replace("O-", "Q-"), encoding="utf-8")
    code = main(command)
    errors = capsys.readouterr().err.strip().splitlines()
    assert code == 3
    assert [line.split(";")[1] for line in errors[:3]] == [
        " retry 1/3 in 0 s", " retry 2/3 in 0 s", " retry 3/3 in 0 s"]
    assert errors[3] == (
        "error: database unavailable while storing rows 3..4 after 3 retries (server closed the "
        "connection); the 2 rows before were done (2 inserted); run the same command again to "
        "finish")
    assert len(stored(demo_url, (Contact.id,), Contact.external_id.like("Q-%"))) == 2


@pytest.mark.postgres
def test_a_real_postgres_outage_is_waited_out(tmp_path, capsys, monkeypatch):
    """The server goes away after batch 1 and comes back: every row is stored, once."""
    url = make_url(fresh_postgres_database(f"sp_import_outage_{id(tmp_path)}"))
    engine = create_db_engine(url.render_as_string(hide_password=False))
    generate_demo(engine, DemoConfig(dt.date(2022, 7, 1), dt.date(2022, 7, 31), scale=0.001))
    engine.dispose()
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    path = write(tmp_path / "contacts.csv", CONTACT_HEADER, *(
        f"P-{n},2022-07-01 09:00,office,astana,connection,bot,,0,1,k" for n in range(1, 9)))
    real_insert = pipeline.insert_new_rows_counted
    inserts = []

    def cut_before_batch_2(connection, table, frame):
        inserts.append(frame.height)
        if len(inserts) == 2:  # batch 1 is committed; the server goes away for about a second
            proxy.stop()
            threading.Timer(1.0, proxy.start).start()
        return real_insert(connection, table, frame)

    monkeypatch.setattr(pipeline, "RETRY_DELAYS_S", (0.5, 0.5, 0.5, 0.5, 0.5))
    monkeypatch.setattr(pipeline, "insert_new_rows_counted", cut_before_batch_2)
    code = main(["import", "--kind", "contacts", "--file", str(path), "--db", through_proxy,
                 "--batch-rows", "2", "--json"])
    captured = capsys.readouterr()
    proxy.stop()
    assert code == 0, captured.err
    assert counts(json.loads(captured.out)) == (8, 8, 0, 0, 0)
    assert "database error while storing rows 3..4" in captured.err
    assert "retry 1/5 in 0.5 s" in captured.err
    assert len(stored(url.render_as_string(False), (Contact.id,),
                      Contact.external_id.like("P-%"))) == 8


def big_contacts(path: Path, rows: int) -> int:
    """Contact rows with every 1000th invalid and some repeated ids; returns the valid ones."""
    number = pl.col("n")
    repeat = number % 5000 == 2500
    pl.DataFrame({"n": pl.int_range(0, rows, eager=True)}).select(
        external_id=pl.format("K{}", pl.when(repeat).then(number - 1).otherwise(number)),
        started_at=pl.lit("2022-07-01 09:00:00"), channel=pl.lit("office"),
        region=pl.lit("astana"), service_type=pl.lit("consultation"), served_by=pl.lit("bot"),
        operator_external_id=pl.lit(""),
        wait_s=pl.when(number % 1000 == 999).then(pl.lit("-5")).otherwise(pl.lit("0")),
        handle_s=pl.lit("60"), subscriber_key=pl.lit("k"),
    ).write_csv(path)
    return valid_among(rows)


def big_contacts_stored(engine) -> int:
    """Rows of a `big_contacts` file stored so far."""
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).where(Contact.external_id.like("K%")))


def valid_among(rows: int) -> int:
    """Valid rows with distinct ids among the first `rows` rows of `big_contacts`."""
    return rows - rows // 1000 - len(range(2500, rows, 5000))


def test_killed_import_rerun_stores_every_valid_row_once(demo_url, tmp_path):
    path = tmp_path / "big.csv"
    valid = big_contacts(path, 300_000)
    command = [sys.executable, "-m", "data_access", "import", "--kind", "contacts",
               "--file", str(path), "--db", demo_url, "--json"]
    engine = create_db_engine(demo_url)

    def imported() -> int:
        return big_contacts_stored(engine)

    code, _, _ = signal_when(command, lambda: imported() > 0, signal.SIGKILL, cwd=ROOT)
    at_kill = imported()
    assert code == -signal.SIGKILL  # killed, not finished
    # Whole committed batches only, and not all of them.
    batches = range(importer.BATCH_ROWS, 300_000, importer.BATCH_ROWS)
    assert at_kill in {valid_among(rows) for rows in batches}

    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                           check=False)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert imported() == valid
    assert summary["duplicates_skipped"] >= at_kill
    assert summary["inserted"] + summary["duplicates_skipped"] == valid
    assert (summary["rejected"], summary["duplicates_in_file"]) == (360, 60)
    assert len(rejects(path)) == 360  # rewritten, not appended to
    engine.dispose()


INTERRUPTED = re.compile(r"^(?P<file>\S+): interrupted after (?P<read>[\d,]+) rows read, "
                         r"(?P<inserted>[\d,]+) inserted; run the same command again to finish "
                         r"\(already stored rows are skipped\)\n$")


def test_ctrl_c_stops_with_one_line_and_exit_130_and_a_rerun_finishes(demo_url, tmp_path):
    path = tmp_path / "big.csv"
    valid = big_contacts(path, 200_000)
    command = [sys.executable, "-m", "data_access", "import", "--kind", "contacts",
               "--file", str(path), "--db", demo_url, "--batch-rows", "2000"]
    engine = create_db_engine(demo_url)

    def imported() -> int:
        return big_contacts_stored(engine)

    def interrupted(*extra: str, after: int) -> tuple[int, str, str]:
        """Run the import and send SIGINT once more than `after` rows are stored."""
        return signal_when([*command, *extra], lambda: imported() > after, signal.SIGINT,
                           cwd=ROOT)

    code, stdout, stderr = interrupted("--json", after=0)
    assert code == 130, stderr
    assert "Traceback" not in stderr
    summary = json.loads(stdout)
    first = imported()
    assert summary["interrupted"] is True
    assert summary["read"] == (summary["inserted"] + summary["duplicates_skipped"]
                               + summary["rejected"])
    assert 0 < summary["read"] < 200_000 and summary["read"] % 2000 == 0  # whole batches
    assert summary["inserted"] == first  # what it says is stored, is stored
    assert len(rejects(path)) == summary["rejected"]  # the rejects of those batches, whole

    code, stdout, stderr = interrupted(after=first)  # once more, with the text summary
    assert code == 130, stderr
    assert "Traceback" not in stderr
    line = INTERRUPTED.match(stdout)
    assert line, stdout
    second = imported()
    assert line["file"] == str(path) and int(line["inserted"].replace(",", "")) == second - first
    assert first < second < valid

    rerun = subprocess.run([*command, "--json"], cwd=ROOT, capture_output=True, text=True,
                           timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert "interrupted" not in summary
    assert imported() == valid  # every valid row, each once (external_id is unique)
    assert (summary["inserted"], summary["duplicates_skipped"]) == (valid - second, second)
    assert (summary["rejected"], summary["duplicates_in_file"]) == (240, 40)
    engine.dispose()


def read_all(path: Path, batch_rows: int) -> tuple[pl.DataFrame, list, list]:
    """(good rows, rows with the wrong field count, lines that are not CSV) of a file."""
    source = importer.CsvSource(path)
    chunks = list(source.chunks(batch_rows))
    source.close()
    assert all(chunk.frame.height + len(chunk.malformed) + len(chunk.unreadable) <= batch_rows
               for chunk in chunks)
    return (pl.concat([chunk.frame for chunk in chunks]),
            [row for chunk in chunks for row in chunk.malformed],
            [row for chunk in chunks for row in chunk.unreadable])


def test_plain_blocks_are_split_exactly_as_the_csv_module_reads_them(tmp_path, monkeypatch):
    """The fast path (no quotes) and the csv module agree on rows, numbers and bad rows."""
    lines = ['\ufeffa,"b",c']
    for number in range(1, 400):
        lines.append({0: "", 1: f"{number},x y ,", 2: f"{number}", 3: f"{number},1,2,3",
                      4: f'"{number}","",""'}.get(number % 7, f"{number},é{number},z"))
    lines[250] = '""'  # one empty field: a malformed row, not a blank line
    plain = tmp_path / "plain.csv"
    plain.write_bytes("\r\n".join(lines).encode("utf-8"))  # CRLF, no final line break
    quoted = tmp_path / "quoted.csv"  # plain blocks first, then a quoted field with a comma
    quoted.write_text("\n".join([*lines[:300], '300,"x, ""y""\nz",w', *lines[300:]]),
                      encoding="utf-8")
    monkeypatch.setattr(importer.CsvSource, "BLOCK_BYTES", 512)
    for path in (plain, quoted):
        fast = read_all(path, 37)
        with monkeypatch.context() as patch:
            patch.setattr(importer.CsvSource, "_plain_lines", lambda _self, _block: None)
            slow = read_all(path, 37)
        assert fast[0].equals(slow[0]) and fast[1] == slow[1] and fast[2] == slow[2] == []
    frame, malformed, _ = fast
    assert frame.columns == ["a", "b", "c", importer.ROW]
    assert frame.filter(pl.col("a") == "300").row(0) == ("300", 'x, "y"\nz', "w", 258)
    assert malformed[:2] == [(2, ["2"]), (3, ["3", "1", "2", "3"])]
    assert (215, [""]) in malformed  # the 250th line, after 35 blank ones
    assert frame.filter(pl.col(importer.ROW) == 4).row(0) == ("4", "", "", 4)
    assert frame.height + len(malformed) == 399 + 1 - len(range(7, 400, 7))  # blank: no row


UNREADABLE_TAIL = "only this line is rejected, reading goes on with the next line"
QUOTING_HINT = "a quote inside a value must be doubled and the whole value quoted"


def test_a_stray_quote_rejects_one_line_and_every_valid_row_after_it_is_stored(
        demo_url, tmp_path, capsys):
    """Strict CSV: a quote that is never closed properly costs its own line, nothing more."""
    row = "S-{},2022-07-01 09:00,office,astana,connection,bot,,0,1,{}"
    path = write(
        tmp_path / "contacts.csv", CONTACT_HEADER,  # line 1
        row.format(1, "k1"),  # line 2, row 1
        row.format(2, "k2"),  # line 3, row 2
        'x1,"abc,def',  # line 4, row 3: a stray quote in the middle of the file
        row.format(4, "k4"),  # line 5, row 4
        row.format(5, "k5"),  # line 6, row 5
        row.format(6, '"k,6"'),  # line 7, row 6: a quoted comma, where row 3's quote breaks
        "",  # line 8: a blank line is not a row
        row.format(7, '"k7\nsecond line"'),  # lines 9-10, row 7: a value with a line break
        'S-8,"2022-07-01 09:00"x,office,astana,connection,bot,,0,1,k8',  # line 11, row 8
        row.format(9, "k9"),  # line 12, row 9
        row.format(10, '"k10'),  # line 13, row 10: never closed, at the end of the file
    )
    # Batches of 3 rows: row 3's quote runs on across a batch boundary.
    summary = run_import(capsys, "contacts", path, demo_url, "--batch-rows", "3")
    assert counts(summary) == (10, 7, 0, 3, 0)
    assert rejects(path) == [
        (3, "(row)", 'x1,"abc,def',
         "line 4 (row 3) cannot be read as CSV: the quote opened on this line runs on to "
         "line 7 and breaks there (',' expected after '\"'); " + UNREADABLE_TAIL),
        (8, "(row)", 'S-8,"2022-07-01 09:00"x,office,astana,connection,bot,,0,1,k8',
         "line 11 (row 8) cannot be read as CSV: ',' expected after '\"'; " + QUOTING_HINT),
        (10, "(row)", row.format(10, '"k10'),
         "line 13 (row 10) cannot be read as CSV: the quote opened on this line is never "
         "closed; " + QUOTING_HINT),
    ]
    with importer.rejects_path(path).open(encoding="utf-8", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[1][4:6] == ["x1", "abc,def"]  # the line's values, as far as they go
    keys = dict(stored(demo_url, (Contact.external_id, Contact.subscriber_key),
                       Contact.external_id.like("S-%")))
    assert keys == {"S-1": "k1", "S-2": "k2", "S-4": "k4", "S-5": "k5", "S-6": "k,6",
                    "S-7": "k7\nsecond line", "S-9": "k9"}
    assert counts(run_import(capsys, "contacts", path, demo_url)) == (10, 0, 7, 3, 0)


def test_a_quote_closed_lines_later_with_the_wrong_field_count_costs_its_first_line(tmp_path):
    """An open quote closed by a later line's stray quote parses, but as a row that spans
    lines and has the wrong field count: only its first line is cut off and rejected."""
    path = write(tmp_path / "t.csv", "a,b,c", '1,"x,y', "2,p,q", '3,r",s,extra', "4,t,u")
    frame, malformed, unreadable = read_all(path, 10)
    assert frame.rows() == [("2", "p", "q", 2), ("4", "t", "u", 4)]
    assert malformed == [(3, ["3", 'r"', "s", "extra"])]
    assert unreadable == [(1, '1,"x,y', "line 2 (row 1) cannot be read as CSV: the quote "
                           "opened on this line runs on to line 4 and gives 4 fields, the "
                           "header has 3; " + UNREADABLE_TAIL)]


def test_an_unclosed_quote_in_a_huge_field_costs_one_row_not_the_rest(demo_url, tmp_path,
                                                                     capsys):
    good = "M-{},2022-07-01 09:00,office,astana,connection,bot,,0,1,k"
    path = write(tmp_path / "contacts.csv", CONTACT_HEADER, good.format(1), good.format(2),
                 good.format(3), 'M-4,"an unclosed quote' + "x" * 200_000,
                 *(good.format(n) for n in range(5, 11)))
    summary = run_import(capsys, "contacts", path, demo_url, "--batch-rows", "2")
    assert counts(summary) == (10, 9, 0, 1, 0)
    [(row, field, value, problem)] = rejects(path)  # the rejects file holds the whole line
    assert (row, field, value[:25]) == (4, "(row)", 'M-4,"an unclosed quotexxx')
    assert problem == ("line 5 (row 4) cannot be read as CSV: a value is longer than 131,072 "
                       "characters (an unclosed quote, perhaps); " + QUOTING_HINT)
    assert len(stored(demo_url, (Contact.id,), Contact.external_id.like("M-%"))) == 9


def uses_csv_module(path: Path) -> bool:
    """Whether the file is read by the csv module (some quoting) rather than split by Polars."""
    source = importer.CsvSource(path)
    list(source.chunks(100))
    source.close()
    return source._parser is not None


def test_a_value_over_the_limit_is_rejected_alike_whichever_path_reads_the_file(
        demo_url, tmp_path, capsys):
    """The same survey gets the same answer whether or not another row has quoting."""
    import_examples(capsys, demo_url, tmp_path, ("contacts",))
    survey = "EX-C-000{},2022-07-01 09:00,true,9,,{},2022-07-01 09:30"
    too_long, longest = "z" * (VALUE_MAX + 1), "y" * VALUE_MAX
    header = "contact_external_id,sent_at,answered,score,reason,suggestion,answered_at"
    plain = write(tmp_path / "plain.csv", header, survey.format(1, too_long),
                  survey.format(2, longest))
    quoted = write(tmp_path / "quoted.csv", header, survey.format(3, too_long),
                   survey.format(4, longest), survey.format(5, '"a, b"'))
    assert (uses_csv_module(plain), uses_csv_module(quoted)) == (False, True)
    for path, read in ((plain, 2), (quoted, 3)):
        summary = run_import(capsys, "surveys", path, demo_url)
        assert counts(summary) == (read, read - 1, 0, 1, 0)
        assert rejects(path) == [(1, "suggestion", too_long, "longer than 131,072 characters")]
    suggestions = stored(demo_url, (Contact.external_id, func.length(NpsSurvey.suggestion)),
                         NpsSurvey.contact_id == Contact.id, Contact.external_id.like("EX-%"),
                         NpsSurvey.suggestion.is_not(None))
    assert sorted(suggestions) == [("EX-C-0002", VALUE_MAX), ("EX-C-0004", VALUE_MAX),
                                   ("EX-C-0005", 4)]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_rejects_file_that_cannot_be_written_is_one_line_and_a_rerun_finishes(
        demo_url, tmp_path, capsys):
    """A full disk while writing rejects: the committed batch stays, one line, exit 2."""
    row = "D-{},2022-07-01 09:00,office,astana,connection,bot,,{},1,k"
    path = write(tmp_path / "contacts.csv", CONTACT_HEADER, row.format(1, 0),
                 row.format(2, -1), row.format(3, 0))
    importer.rejects_path(path).symlink_to("/dev/full")
    code = main(["import", "--kind", "contacts", "--file", str(path), "--db", demo_url,
                 "--batch-rows", "1"])
    captured = capsys.readouterr()
    assert (code, captured.out) == (importer.EXIT_FILE, "")
    assert captured.err == (
        f"error: cannot write the rejects file {importer.rejects_path(path)}: No space left "
        "on device; 2 rows read so far, 1 inserted (they stay stored); fix that and run the "
        "same command again: stored rows are skipped and the rejects file is written anew\n")
    assert stored(demo_url, (Contact.external_id,), Contact.external_id.like("D-%")) == [
        ("D-1",)]
    importer.rejects_path(path).unlink(missing_ok=True)
    assert counts(run_import(capsys, "contacts", path, demo_url)) == (3, 1, 1, 1, 0)
    assert rejects(path) == [(2, "wait_s", "-1", "must be between 0 and 2147483647")]


def test_input_columns_named_like_rejects_columns_keep_their_values(tmp_path, capsys):
    """`row` becomes `row (input)`; a `row (input)` already in the file pushes it on."""
    path = write(tmp_path / "contacts.csv", CONTACT_HEADER + ",row,row (input),problem",
                 "R-1,2022-07-01 09:00,office,astana,connection,bot,,-1,1,k,a,b,c")
    url = f"sqlite:///{tmp_path / 'r.db'}"
    assert main(["init", "--db", url]) == 0
    capsys.readouterr()
    assert counts(run_import(capsys, "contacts", path, url)) == (1, 0, 0, 1, 0)
    with importer.rejects_path(path).open(encoding="utf-8", newline="") as handle:
        [line] = list(csv.DictReader(handle))
    assert list(line)[-3:] == ["row (input 2)", "row (input)", "problem (input)"]
    assert ([line[name] for name in ("row", "field", "row (input 2)", "row (input)",
                                     "problem (input)")] == ["1", "wait_s", "a", "b", "c"])


def test_readme_documents_every_column_of_every_kind():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Importing your data", 1)[1].split("\n## ", 1)[0]
    assert all(f"`{region.code}`" in section for region in REGIONS)  # rejects point here
    for kind in importer.KINDS.values():
        assert f"| `{kind.name}` |" in section
        for column in kind.columns:
            assert f"`{column}`" in section, (kind.name, column)


def test_contacts_bot_s_is_optional_and_only_on_operator_contacts(demo_url, tmp_path, capsys):
    header = CONTACT_HEADER + ",bot_s"
    path = write(tmp_path / "contacts.csv", header,
                 "B-1,2022-07-01 09:00,whatsapp,astana,consultation,operator,OP00001,30,400,k,95",
                 "B-2,2022-07-01 09:01,whatsapp,astana,consultation,operator,OP00001,30,400,k,",
                 "B-3,2022-07-01 09:02,whatsapp,astana,consultation,bot,,0,140,k,10",
                 "B-4,2022-07-01 09:03,telegram,astana,consultation,operator,OP00001,5,300,k,-5",
                 "B-5,2022-07-01 09:04,web_cabinet,astana,consultation,self_service,,0,9,k,0",
                 "B-6,2022-07-01 09:05,telegram,astana,consultation,operator,OP00001,5,300,k,1.5")
    assert counts(run_import(capsys, "contacts", path, demo_url)) == (6, 2, 0, 4, 0)
    not_operator = ("must be empty unless served_by is operator or abandoned (bot_s is the "
                    "bot time of a contact handed to the person queue; a contact the bot "
                    "finished has served_by bot)")
    assert rejects(path) == [
        (3, "bot_s", "10", not_operator),
        (4, "bot_s", "-5", "must be between 0 and 2147483647"),
        (5, "bot_s", "0", not_operator),
        (6, "bot_s", "1.5", "not a whole number"),
    ]
    old = write(tmp_path / "old.csv", CONTACT_HEADER,  # a file from before bot_s: still valid
                "B-7,2022-07-01 09:06,whatsapp,astana,consultation,bot,,0,140,k")
    assert counts(run_import(capsys, "contacts", old, demo_url)) == (1, 1, 0, 0, 0)
    engine = create_db_engine(demo_url)
    with engine.connect() as connection:
        stored = dict(connection.execute(select(Contact.external_id, Contact.bot_s).where(
            Contact.external_id.like("B-%"))).all())
    engine.dispose()
    assert stored == {"B-1": 95, "B-2": None, "B-7": None}


ABANDONED_HANDLED = ("must be 0 when served_by is abandoned (nobody handled it; wait_s is the "
                     "time it waited before giving up)")


def test_abandoned_contacts_have_no_operator_no_handle_time_and_no_survey_or_rating(
        demo_url, tmp_path, capsys):
    path = write(tmp_path / "contacts.csv", CONTACT_HEADER + ",bot_s",
                 "A-1,2022-07-01 09:00,whatsapp,astana,consultation,abandoned,,95,0,k,",
                 "A-2,2022-07-01 09:01,telegram,astana,consultation,Abandoned,,30,0,k,40",
                 "A-3,2022-07-01 09:02,whatsapp,astana,consultation,abandoned,OP00001,30,0,k,",
                 "A-4,2022-07-01 09:03,office,astana,connection,abandoned,,300,120,k,",
                 "A-5,2022-07-01 09:04,office,astana,connection,abandoned,,-3,0,k,",
                 "A-6,2022-07-01 09:05,whatsapp,astana,consultation,gave_up,,30,0,k,")
    assert counts(run_import(capsys, "contacts", path, demo_url)) == (6, 2, 0, 4, 0)
    assert rejects(path) == [
        (3, "operator_external_id", "OP00001", "must be empty unless served_by is operator"),
        (4, "handle_s", "120", ABANDONED_HANDLED),
        (5, "wait_s", "-3", "must be between 0 and 2147483647"),
        (6, "served_by", "gave_up", "unknown served_by (known: operator, bot, self_service, "
                                    "abandoned)"),
    ]
    assert sorted(stored(demo_url, (Contact.external_id, Contact.served_by, Contact.wait_s,
                                    Contact.handle_s, Contact.bot_s),
                         Contact.external_id.like("A-%"))) == [
        ("A-1", "abandoned", 95, 0, None), ("A-2", "abandoned", 30, 0, 40)]
    surveys = write(tmp_path / "surveys.csv",
                    "contact_external_id,sent_at,answered,score,reason,suggestion,answered_at",
                    "A-1,2022-07-01 09:05:00,false,,,,")
    assert counts(run_import(capsys, "surveys", surveys, demo_url)) == (1, 0, 0, 1, 0)
    assert rejects(surveys) == [(1, "contact_external_id", "A-1", "the contact was abandoned "
                                 "(served_by): nobody served it, so it has no survey")]
    ratings = write(tmp_path / "ratings.csv",
                    "external_id,contact_external_id,operator_external_id,score,rated_at",
                    "R-A-2,A-2,OP00001,5,2022-07-01 10:00:00")
    assert counts(run_import(capsys, "ratings", ratings, demo_url)) == (1, 0, 0, 1, 0)
    assert rejects(ratings)[0][:3] == (1, "contact_external_id", "A-2")
    assert "abandoned" in rejects(ratings)[0][3]


STAFFING_HEADER = "date,start,pool,agents"


def test_staffing_rows_are_checked_stored_and_never_duplicated(demo_url, tmp_path, capsys):
    path = write(
        tmp_path / "staffing.csv", STAFFING_HEADER,
        "2030-07-01,09:00,digital,12",   # 1 stored
        "2030-07-01,9:15,Office,7",       # 2 stored: one-digit hour, code in any case
        "2030-07-01,09:10,digital,5",     # 3 not on the quarter hour
        "2030-07-01,24:00,digital,5",     # 4 no such time
        "2030-07-01,09:30,voice,5",       # 5 unknown pool
        "2030-07-01,09:45,digital,-1",    # 6 negative
        "2030-07-01,09:45,digital,2.5",   # 7 not whole
        "01.07.2030,10:00,digital,3",     # 8 not a date
        "2030-07-01,09:00,digital,14",    # 9 repeats row 1
        "2030-07-02,23:45,office,0",      # 10 stored: a closed office is 0 agents
        "2030-07-02,,office,1",           # 11 start missing
    )
    summary = run_import(capsys, "staffing", path, demo_url)
    assert counts(summary) == (11, 3, 0, 8, 1)
    quarter = ("not a quarter-hour start: use HH:MM from 00:00 to 23:45 with minutes 00, 15, "
               "30 or 45")
    assert rejects(path) == [
        (3, "start", "09:10", quarter),
        (4, "start", "24:00", quarter),
        (5, "pool", "voice", "unknown pool (known: digital, office)"),
        (6, "agents", "-1", "must be between 0 and 100000"),
        (7, "agents", "2.5", "not a whole number"),
        (8, "date", "01.07.2030", "not a date: use YYYY-MM-DD"),
        (9, "date,start,pool", "2030-07-01,09:00,digital",
         "repeats row 1 (same date, start, pool); only the first is imported"),
        (11, "start", "", "required"),
    ]
    assert sorted(stored(demo_url, (Staffing.day, Staffing.quarter, Staffing.pool,
                                    Staffing.agents), Staffing.day >= dt.date(2030, 1, 1))) == [
        (dt.date(2030, 7, 1), 36, "digital", 12), (dt.date(2030, 7, 1), 37, "office", 7),
        (dt.date(2030, 7, 2), 95, "office", 0)]
    again = write(tmp_path / "again.csv", STAFFING_HEADER, "2030-07-01,09:00,digital,99",
                  "2030-07-03,12:00,digital,4")
    assert counts(run_import(capsys, "staffing", again, demo_url)) == (2, 1, 1, 0, 0)
    assert stored(demo_url, (Staffing.agents,), Staffing.day == dt.date(2030, 7, 1),
                  Staffing.quarter == 36) == [(12,)]  # the stored row stands
