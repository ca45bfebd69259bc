"""Daily rollups: whatever writes the raw rows, the triggers leave what a rebuild computes.

Every test loads a fresh small database, writes through one real path (the demo, the feed
command, the import command, hand-written SQL, `install`), then compares the rollups the
triggers kept with a rebuild from the raw rows, and both with figures counted from the raw
rows directly, so a rollup that counts wrongly fails even when the rebuild agrees with it.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, func, insert, select, text

from data_access import rollups
from data_access.config import local_now, local_today
from data_access.demo import DemoConfig, generate_demo
from data_access.engine import create_db_engine
from data_access.schema import AgentRating, Case, Channel, Contact, Region
from tests.conftest import insert_answered_contacts
from tests.test_feed import SUMMARY, run_cli
from tests.test_import import EXAMPLES, ORDER, run_import, write

Content = dict[str, dict[tuple, tuple]]
MEASURES = {rollup.name: tuple(rollup.measures) for rollup in rollups.ROLLUPS}


@pytest.fixture
def demo_engine(empty_url) -> Iterator[Engine]:
    """A fresh six-week demo ending today, as the feed continues it (its operators)."""
    engine = create_db_engine(empty_url)
    end = local_today()
    generate_demo(engine, DemoConfig(end - dt.timedelta(days=42), end, scale=0.005))
    yield engine
    engine.dispose()


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def rollup_content(connection: Connection) -> Content:
    """Each rollup as {keys: measures}, without the rows of zeros updates and deletes leave."""
    content = {}
    for rollup in rollups.ROLLUPS:
        width = len(rollup.keys)
        rows = connection.execute(select(rollups.TABLES[rollup.name])).all()
        content[rollup.name] = {tuple(row[:width]): tuple(row[width:])
                                for row in rows if any(row[width:])}
    return content


def differences(kept: Content, rebuilt: Content) -> dict[str, dict[tuple, dict]]:
    """Per rollup and key, the measures that differ as (kept, rebuilt): a readable failure."""
    found: dict[str, dict[tuple, dict]] = {}
    for name, measures in MEASURES.items():
        zeros = (0,) * len(measures)
        for key in kept[name].keys() | rebuilt[name].keys():
            pairs = zip(measures, kept[name].get(key, zeros), rebuilt[name].get(key, zeros),
                        strict=True)
            wrong = {measure: (a, b) for measure, a, b in pairs if a != b}
            if wrong:
                found.setdefault(name, {})[key] = wrong
    return found


def _sum_of(table: str, columns: tuple[str, ...] | list[str]) -> str:
    return f"SELECT sum({' + '.join(columns)}) FROM {table}"


_OPERATOR_RESPONSES = [rollups.wait_bucket_column("responses", bucket)
                       for bucket in range(len(rollups.WAIT_BUCKETS))]
# (what, counted from the raw rows, summed from the rollups)
_SERVED = "SELECT count(*) FROM contacts WHERE served_by <> 'abandoned'"
_ABANDONED = "FROM contacts WHERE served_by = 'abandoned'"
_ANSWERED = "FROM contacts WHERE served_by = 'operator'"
TOTALS = (
    ("contacts", _SERVED, "SELECT sum(contacts) FROM rollup_contacts"),
    ("cases ever", "SELECT count(*) FROM cases", "SELECT sum(received) FROM rollup_case_totals"),
    ("ratings per operator day", "SELECT count(*) FROM agent_ratings",
     "SELECT sum(ratings) FROM rollup_operator_days"),
    ("cases closed ever", "SELECT count(*) FROM cases WHERE resolved_at IS NOT NULL",
     "SELECT sum(closed) FROM rollup_case_totals"),
    ("contacts by hour", _SERVED, _sum_of("rollup_contacts", rollups.HOUR_COLUMNS)),
    ("contacts by quarter hour", _SERVED, "SELECT sum(contacts) FROM rollup_contact_quarters"),
    ("contacts by month", _SERVED, "SELECT sum(contacts) FROM rollup_contacts_by_month"),
    ("abandoned", f"SELECT count(*) {_ABANDONED}", "SELECT sum(abandoned) FROM rollup_contacts"),
    ("abandoned by month", f"SELECT count(*) {_ABANDONED}",
     "SELECT sum(abandoned) FROM rollup_contacts_by_month"),
    ("abandoned wait s", f"SELECT sum(wait_s) {_ABANDONED}",
     "SELECT sum(abandoned_wait_s) FROM rollup_contacts"),
    ("abandoned after the bot", f"SELECT count(*) {_ABANDONED} AND bot_s IS NOT NULL",
     "SELECT sum(abandoned_after_bot) FROM rollup_contacts"),
    ("abandoned by wait", f"SELECT count(*) {_ABANDONED}",
     _sum_of("rollup_contacts", rollups.ABANDONED_WAIT_COLUMNS)),
    ("abandoned by hour", f"SELECT count(*) {_ABANDONED}",
     _sum_of("rollup_contacts", rollups.ABANDONED_HOUR_COLUMNS)),
    ("abandoned by quarter hour", f"SELECT count(*) {_ABANDONED}",
     "SELECT sum(abandoned) FROM rollup_contact_quarters"),
    ("abandoned wait s by quarter hour", f"SELECT sum(wait_s) {_ABANDONED}",
     "SELECT sum(abandoned_wait_s) FROM rollup_contact_quarters"),
    ("answered by quarter hour", f"SELECT count(*) {_ANSWERED}",
     "SELECT sum(answered) FROM rollup_contact_quarters"),
    ("answered by quarter hour and wait", f"SELECT count(*) {_ANSWERED}",
     _sum_of("rollup_contact_quarters", rollups.QUARTER_WAIT_COLUMNS)),
    ("answered wait s by quarter hour", f"SELECT sum(wait_s) {_ANSWERED}",
     "SELECT sum(answered_wait_s) FROM rollup_contact_quarters"),
    ("answered handle s by quarter hour", f"SELECT sum(handle_s) {_ANSWERED}",
     "SELECT sum(answered_handle_s) FROM rollup_contact_quarters"),
    ("escalated by quarter hour", f"SELECT count(*) {_ANSWERED} AND bot_s IS NOT NULL",
     "SELECT sum(escalated) FROM rollup_contact_quarters"),
    ("bot finished by quarter hour", "SELECT count(*) FROM contacts WHERE served_by = 'bot'",
     "SELECT sum(bot_finished) FROM rollup_contact_quarters"),
    ("self-served by quarter hour",
     "SELECT count(*) FROM contacts WHERE served_by = 'self_service'",
     "SELECT sum(self_served) FROM rollup_contact_quarters"),
    ("operator-served by wait", "SELECT count(*) FROM contacts WHERE served_by = 'operator'",
     _sum_of("rollup_contacts", rollups.WAIT_COLUMNS)),
    ("operator wait s", "SELECT sum(wait_s) FROM contacts WHERE served_by = 'operator'",
     "SELECT sum(operator_wait_s) FROM rollup_contacts"),
    ("escalated", "SELECT count(*) FROM contacts WHERE served_by = 'operator' "
     "AND bot_s IS NOT NULL", "SELECT sum(escalated) FROM rollup_contacts"),
    ("escalated by month", f"SELECT count(*) {_ANSWERED} AND bot_s IS NOT NULL",
     "SELECT sum(escalated) FROM rollup_contacts_by_month"),
    ("escalated bot s", "SELECT sum(bot_s) FROM contacts WHERE served_by = 'operator'",
     "SELECT sum(escalated_bot_s) FROM rollup_contacts"),
    ("escalated bot s by month", f"SELECT sum(bot_s) {_ANSWERED}",
     "SELECT sum(escalated_bot_s) FROM rollup_contacts_by_month"),
    ("bot handle s", "SELECT sum(handle_s) FROM contacts WHERE served_by = 'bot'",
     "SELECT sum(bot_handle_s) FROM rollup_contacts"),
    ("surveys", "SELECT count(*) FROM nps_surveys", "SELECT sum(surveys_sent) FROM rollup_surveys"),
    ("responses", "SELECT count(*) FROM nps_surveys WHERE score IS NOT NULL",
     "SELECT sum(responses) FROM rollup_surveys"),
    ("promoters", "SELECT count(*) FROM nps_surveys WHERE score >= 9",
     "SELECT sum(promoters) FROM rollup_surveys"),
    ("detractors", "SELECT count(*) FROM nps_surveys WHERE score <= 6",
     "SELECT sum(detractors) FROM rollup_surveys"),
    ("detractors by reason", "SELECT count(*) FROM nps_surveys WHERE score <= 6",
     "SELECT sum(detractors) FROM rollup_detractor_reasons"),
    ("operator-served responses by wait",
     "SELECT count(*) FROM nps_surveys s JOIN contacts c ON c.id = s.contact_id "
     "WHERE c.served_by = 'operator' AND s.score IS NOT NULL",
     _sum_of("rollup_surveys", _OPERATOR_RESPONSES)),
    ("cases", "SELECT count(*) FROM cases", "SELECT sum(received) FROM rollup_cases"),
    ("answered cases", "SELECT count(*) FROM cases WHERE status = 'answered'",
     "SELECT sum(answered) FROM rollup_cases"),
    ("answered cases by resolution time", "SELECT count(*) FROM cases WHERE status = 'answered'",
     _sum_of("rollup_cases", rollups.RESOLUTION_COLUMNS)),
    ("closed cases", "SELECT count(*) FROM cases WHERE resolved_at IS NOT NULL",
     "SELECT sum(closed) FROM rollup_case_closures"),
    ("stage events", "SELECT count(*) FROM case_events",
     _sum_of("rollup_case_stages", rollups.STAGE_COLUMNS)),
    ("ratings", "SELECT count(*) FROM agent_ratings", "SELECT sum(ratings) FROM rollup_ratings"),
    ("ratings by score", "SELECT count(*) FROM agent_ratings",
     _sum_of("rollup_ratings", rollups.SCORE_COLUMNS)),
    ("rating score sum", "SELECT sum(score) FROM agent_ratings",
     "SELECT sum(score_sum) FROM rollup_ratings"),
)


def wrong_totals(connection: Connection) -> dict[str, tuple[int, int]]:
    """Totals whose rollup sum differs from the raw count, as (raw, rollup)."""
    found = {}
    for what, raw_sql, rollup_sql in TOTALS:
        raw, rolled = (int(connection.scalar(text(sql)) or 0) for sql in (raw_sql, rollup_sql))
        if raw != rolled:
            found[what] = (raw, rolled)
    return found


def keyed_from_raw_rows(connection: Connection) -> dict[tuple[str, str], dict[tuple, int]]:
    """Some measures per rollup key, counted in Python from the raw rows: checks the keys and
    buckets the rollups' SQL derives, not only their sums. Zeros are left out."""
    counted: dict[tuple[str, str], Counter[tuple]] = defaultdict(Counter)
    for column in rollups.ABANDONED_WAIT_COLUMNS:  # every bucket compared, the empty ones too
        counted.setdefault(("rollup_contacts", column), Counter())
    for column in rollups.QUARTER_WAIT_COLUMNS[:3]:
        counted.setdefault(("rollup_contact_quarters", column), Counter())
    for row in connection.execute(select(Contact.started_at, Contact.channel_id,
                                         Contact.region_id, Contact.service_type_id,
                                         Contact.served_by, Contact.wait_s)):
        key = (row.started_at.date(), row.channel_id, row.region_id, row.service_type_id)
        quarter = (row.started_at.date(), row.channel_id,
                   (row.started_at.hour * 60 + row.started_at.minute) // 15)
        bucket = bisect.bisect_right(rollups.WAIT_EDGES_S, row.wait_s) - 1
        if row.served_by == "abandoned":
            counted["rollup_contacts", "abandoned"][key] += 1
            counted["rollup_contacts", rollups.ABANDONED_WAIT_COLUMNS[bucket]][key] += 1
            counted["rollup_contacts", rollups.ABANDONED_HOUR_COLUMNS[
                row.started_at.hour]][key] += 1
            counted["rollup_contact_quarters", "abandoned_wait_s"][quarter] += row.wait_s
            continue
        counted["rollup_contacts", "contacts"][key] += 1
        counted["rollup_contact_quarters", "contacts"][quarter] += 1
        if row.served_by == "operator":
            counted["rollup_contact_quarters", rollups.QUARTER_WAIT_COLUMNS[bucket]][
                quarter] += 1
    for row in connection.execute(select(Contact.started_at, Contact.channel_id,
                                         Contact.region_id, Contact.service_type_id,
                                         Contact.bot_s).where(Contact.bot_s > 0,
                                                              Contact.served_by == "operator")):
        counted["rollup_contacts", "escalated_bot_s"][
            (row.started_at.date(), row.channel_id, row.region_id,
             row.service_type_id)] += row.bot_s
    for row in connection.execute(
            select(AgentRating.rated_at, AgentRating.operator_id, AgentRating.score,
                   Contact.channel_id, Contact.region_id, Contact.service_type_id)
            .join(Contact, Contact.id == AgentRating.contact_id)):
        counted["rollup_ratings", "score_sum"][
            (row.rated_at.date(), row.operator_id, row.channel_id, row.region_id,
             row.service_type_id)] += row.score
    for column in rollups.RESOLUTION_COLUMNS:  # every bucket compared, the empty ones too
        counted.setdefault(("rollup_cases", column), Counter())
    for row in connection.execute(select(Case).where(Case.status == "answered")):
        hours = (row.resolved_at - row.received_at) / dt.timedelta(hours=1)
        bucket = bisect.bisect_right(rollups.RESOLUTION_EDGES_H, hours) - 1
        counted["rollup_cases", rollups.RESOLUTION_COLUMNS[bucket]][
            (row.received_at.date(), row.kind, row.channel_id, row.region_id,
             row.category)] += 1
    return {where: {key: count for key, count in counts.items() if count}
            for where, counts in counted.items()}


def assert_matches_rebuild(engine: Engine) -> Content:
    """The kept rollups equal a rebuild (rolled back) and the raw rows' figures; returned."""
    with engine.connect() as connection:
        kept = rollup_content(connection)
        totals = wrong_totals(connection)
        raw_keyed = keyed_from_raw_rows(connection)
        rollups.rebuild(connection)
        rebuilt = rollup_content(connection)
        connection.rollback()
    assert [name for name, rows in kept.items() if not rows] == [], "nothing to compare"
    assert differences(kept, rebuilt) == {}
    assert totals == {}
    for (name, measure), counted in raw_keyed.items():
        index = MEASURES[name].index(measure)
        rolled = {key: values[index] for key, values in kept[name].items() if values[index]}
        assert rolled == counted, f"{name}.{measure} per key: rollup vs raw rows"
    return kept


def abandoned_total(content: Content) -> int:
    """Abandoned contacts in the daily rollup (the tiny demo here may have none: a small
    pool's whole agents leave room; tests/test_demo_load.py checks a larger one)."""
    index = MEASURES["rollup_contacts"].index("abandoned")
    return sum(values[index] for values in content["rollup_contacts"].values())


def test_the_demo_load_is_counted_and_leaves_the_triggers_on(demo_engine):
    before = assert_matches_rebuild(demo_engine)
    with demo_engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(rollups.PAUSE)) == 0
    insert_answered_contacts(url_of(demo_engine), 3, local_now(), score=2, reason="long_wait")
    after = assert_matches_rebuild(demo_engine)
    assert after != before  # the three new contacts were counted by the triggers


# Open copies of the demo's cases (it has answered them all), for the feed to move on.
OPEN_CASES = (
    "INSERT INTO cases (external_id, kind, channel_id, category, region_id, received_at, status) "
    "SELECT 'OPEN-' || id, kind, channel_id, category, region_id, received_at, 'received' "
    "FROM cases",
    "INSERT INTO case_events (case_id, stage, at) "
    "SELECT id, 'received', received_at FROM cases WHERE external_id LIKE 'OPEN-%'",
)


def test_the_feed_command_is_counted_as_it_writes(demo_engine):
    with demo_engine.begin() as connection:
        for statement in OPEN_CASES:
            connection.execute(text(statement))
    before = assert_matches_rebuild(demo_engine)
    result = run_cli("feed", "--duration", "3", "--rate", "500", "--seed", "3",
                     "--db", url_of(demo_engine))
    assert result.returncode == 0, result.stderr
    found = SUMMARY.search(result.stdout)
    assert found, result.stdout
    # contacts with surveys, new cases, stage changes (case updates and events) and ratings
    assert min(int(found[what]) for what in ("contacts", "cases", "stages", "ratings")) > 0
    after = assert_matches_rebuild(demo_engine)
    assert abandoned_total(after) > abandoned_total(before)  # the feed's queue lost some
    unchanged = {name for name in after if after[name] == before[name]}
    chance_driven = {"rollup_detractor_reasons", "rollup_case_closures"}
    assert unchanged <= chance_driven | {rollups.MONTHLY[name] for name in chance_driven}


# One line of each kind that the importer rejects (unknown code or external id).
REJECTED = {
    "contacts": "EX-C-BAD,2022-07-01 09:00:00,fax,almaty_city,connection,bot,,0,5,bad",
    "surveys": "NOPE-1,2022-07-01 09:00:00,false,,,,",
    "cases": "EX-CASE-BAD,question,office,Billing,astana,2022-07-01 09:00:00,received,",
    "case_events": "NOPE-CASE,received,2022-07-01 09:00:00",
    "ratings": "EX-R-BAD,NOPE,OP00001,3,2022-07-01 11:00:00",
}


def test_imports_of_every_kind_are_counted_once(demo_engine, tmp_path, capsys):
    url = url_of(demo_engine)
    with demo_engine.connect() as connection:
        before = rollup_content(connection)
    files = {kind: write(tmp_path / f"{kind}.csv",
                         *(EXAMPLES / f"{kind}.csv").read_text(encoding="utf-8").splitlines(),
                         REJECTED[kind])
             for kind in ORDER}
    for kind in ORDER:
        summary = run_import(capsys, kind, files[kind], url)
        assert (summary["rejected"], summary["inserted"]) == (1, summary["read"] - 1), summary
    imported = assert_matches_rebuild(demo_engine)
    assert abandoned_total(imported) == abandoned_total(before) + 1  # EX-C-0006
    for kind in ORDER:
        summary = run_import(capsys, kind, files[kind], url)
        assert (summary["inserted"], summary["duplicates_skipped"]) == (0, summary["read"] - 1)
    assert assert_matches_rebuild(demo_engine) == imported


# Abandoned copies of some operator-served contacts (and of the one picked as :id).
ABANDONED_COPIES = (
    "INSERT INTO contacts (external_id, started_at, channel_id, region_id, service_type_id, "
    "served_by, operator_id, wait_s, handle_s, subscriber_key, bot_s) "
    "SELECT 'GAVE-UP-' || id, started_at, channel_id, region_id, service_type_id, 'abandoned', "
    "NULL, wait_s + 7, 0, subscriber_key, bot_s FROM contacts "
    "WHERE served_by = 'operator' AND (id % 7 = 0 OR id = :id)")

# Hand-written changes: (a query picking the row, the statements run on it as :id).
HAND_WRITTEN = {
    "survey answered": (
        "SELECT min(s.contact_id) FROM nps_surveys s JOIN contacts c ON c.id = s.contact_id "
        "WHERE s.score IS NULL AND c.served_by = 'operator'",
        ["UPDATE nps_surveys SET answered = TRUE, score = 2, reason = 'long_wait', "
         "answered_at = sent_at WHERE contact_id = :id"]),
    "contacts moved": (  # every rated contact and some others: their surveys and ratings move
        "SELECT min(contact_id) FROM agent_ratings",
        ["UPDATE contacts SET "
         "channel_id = (SELECT min(ch.id) FROM channels ch "
         "              WHERE ch.takes_contacts AND ch.id <> contacts.channel_id), "
         "region_id = (SELECT max(r.id) FROM regions r WHERE r.id <> contacts.region_id), "
         "wait_s = wait_s + 500 "
         "WHERE id IN (SELECT contact_id FROM agent_ratings) OR id % 10 = 0 OR id = :id"]),
    "contacts deleted": (  # their surveys cascade; agent_ratings has no cascade
        "SELECT min(r.contact_id) FROM agent_ratings r "
        "JOIN nps_surveys s ON s.contact_id = r.contact_id WHERE s.score IS NOT NULL",
        ["DELETE FROM agent_ratings WHERE contact_id = :id OR contact_id % 10 = 3",
         "DELETE FROM contacts WHERE id = :id OR id % 10 = 3"]),
    "abandoned contacts added": (  # gave up after the bot or straight in the queue
        "SELECT min(id) FROM contacts WHERE served_by = 'operator' AND bot_s IS NOT NULL",
        [ABANDONED_COPIES]),
    "abandoned contacts answered instead": (  # they move from abandoned to served
        "SELECT min(id) FROM contacts WHERE served_by = 'operator'",
        [ABANDONED_COPIES,
         "UPDATE contacts SET served_by = 'operator', handle_s = 240, "
         "operator_id = (SELECT min(id) FROM operators) "
         "WHERE external_id LIKE 'GAVE-UP-%' AND id % 2 = 0"]),
    "served contact abandoned instead": (
        "SELECT min(c.id) FROM contacts c WHERE c.served_by = 'operator' "
        "AND NOT EXISTS (SELECT 1 FROM agent_ratings r WHERE r.contact_id = c.id)",
        ["UPDATE contacts SET served_by = 'abandoned', operator_id = NULL, handle_s = 0, "
         "wait_s = wait_s + 1000 WHERE id = :id"]),
    "abandoned contacts deleted": (
        "SELECT min(id) FROM contacts WHERE served_by = 'operator'",
        [ABANDONED_COPIES, "DELETE FROM contacts WHERE external_id LIKE 'GAVE-UP-%' "
         "AND (id % 3 = 0 OR wait_s > 100)"]),
    "survey deleted": (
        "SELECT min(contact_id) FROM nps_surveys WHERE score <= 6 AND reason IS NOT NULL",
        ["DELETE FROM nps_surveys WHERE contact_id = :id"]),
    "case reopened": (  # its closure and its answered stage are taken back
        "SELECT min(id) FROM cases WHERE status = 'answered'",
        ["DELETE FROM case_events WHERE case_id = :id AND stage = 'answered'",
         "UPDATE cases SET status = 'under_review', resolved_at = NULL WHERE id = :id"]),
    "case withdrawn instead": (  # an updated stage event, a closure on another day
        "SELECT min(id) FROM cases WHERE status = 'answered'",
        ["UPDATE case_events SET stage = 'withdrawn' WHERE case_id = :id AND stage = 'answered'",
         "UPDATE cases SET status = 'withdrawn', resolved_at = received_at WHERE id = :id"]),
    "case moved": (  # its stage events move with it
        "SELECT min(case_id) FROM case_events",
        ["UPDATE cases SET category = 'Moved by hand', "
         "region_id = (SELECT max(r.id) FROM regions r WHERE r.id <> cases.region_id) "
         "WHERE id = :id"]),
    "case deleted": (  # its stage events cascade
        "SELECT min(case_id) FROM case_events",
        ["DELETE FROM cases WHERE id = :id"]),
    "case event deleted": (
        "SELECT max(id) FROM case_events",
        ["DELETE FROM case_events WHERE id = :id"]),
}


@pytest.mark.parametrize("change", list(HAND_WRITTEN))
def test_hand_written_sql_is_counted(demo_engine, change):
    pick, statements = HAND_WRITTEN[change]
    before = assert_matches_rebuild(demo_engine)
    with demo_engine.begin() as connection:
        row_id = connection.scalar(text(pick))
        assert row_id is not None, f"the demo has no row for {change!r}"
        for statement in statements:
            connection.execute(text(statement), {"id": row_id})
    assert assert_matches_rebuild(demo_engine) != before


def test_install_fills_rollups_an_older_version_dropped_then_does_nothing(demo_engine):
    before = assert_matches_rebuild(demo_engine)
    with demo_engine.begin() as connection:
        rollups.drop_triggers(connection)
        for table in (*rollups.TABLES.values(), rollups.STATE, rollups.PAUSE):
            table.drop(connection)
    with demo_engine.begin() as connection:
        assert rollups.installed_version(connection) is None
        assert rollups.install(connection) is True
    assert assert_matches_rebuild(demo_engine) == before
    with demo_engine.begin() as connection:
        assert rollups.install(connection) is False
        assert rollups.installed_version(connection) == rollups.definition_version(
            connection.dialect.name)
    insert_answered_contacts(url_of(demo_engine), 2, local_now())  # the triggers are back
    assert assert_matches_rebuild(demo_engine) != before


ROW_LINE = re.compile(r"^(rollup_\w+): ([\d,]+) rows$")


def test_rebuild_rollups_command_restores_stale_rollups(demo_engine):
    expected = assert_matches_rebuild(demo_engine)
    with demo_engine.begin() as connection:  # another version's, one emptied, one off
        connection.execute(rollups.STATE.update().values(version="older"))
        connection.execute(rollups.TABLES["rollup_surveys"].delete())
        connection.execute(text("UPDATE rollup_contacts SET contacts = contacts + 1"))
    result = run_cli("rebuild-rollups", "--db", url_of(demo_engine))
    assert result.returncode == 0, result.stderr
    *lines, last = result.stdout.splitlines()
    assert re.fullmatch(rf"Rebuilt {len(rollups.ROLLUPS)} rollups in \d+\.\d s\.", last), last
    printed = {match[1]: int(match[2].replace(",", ""))
               for match in map(ROW_LINE.match, lines) if match}
    assert len(printed) == len(lines)
    with demo_engine.connect() as connection:
        assert rollup_content(connection) == expected
        assert printed == {name: connection.scalar(select(func.count()).select_from(table))
                           for name, table in rollups.TABLES.items()}
        assert rollups.installed_version(connection) == rollups.definition_version(
            connection.dialect.name)


def test_rebuild_rollups_command_without_tables_is_one_line_and_exit_2(empty_url):
    result = run_cli("rebuild-rollups", "--db", empty_url)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "no ServicePulse tables" in result.stderr


def test_cases_answered_exactly_on_an_edge_fall_in_the_bucket_it_starts(demo_engine):
    """SQLite's julianday difference is a float; rounded to milliseconds it lands exactly."""
    received = (dt.datetime(2022, 7, 1, 9, 0), dt.datetime(2022, 7, 4, 17, 55))
    category = "Answered on a bucket edge"
    with demo_engine.begin() as connection:
        channel = connection.scalar(select(func.min(Channel.id)).where(Channel.takes_cases))
        region = connection.scalar(select(func.min(Region.id)))
        connection.execute(insert(Case), [
            {"external_id": f"EDGE-{at:%d}-{hours}", "kind": "complaint", "channel_id": channel,
             "category": category, "region_id": region, "received_at": at,
             "status": "answered", "resolved_at": at + dt.timedelta(hours=hours)}
            for at in received for hours in rollups.RESOLUTION_EDGES_H])
    with demo_engine.connect() as connection:
        content = rollup_content(connection)["rollup_cases"]
    first = MEASURES["rollup_cases"].index(rollups.RESOLUTION_COLUMNS[0])
    buckets = {key[0]: measures[first:first + len(rollups.RESOLUTION_COLUMNS)]
               for key, measures in content.items() if key[-1] == category}
    assert buckets == {at.date(): (1,) * len(rollups.RESOLUTION_COLUMNS) for at in received}
    assert_matches_rebuild(demo_engine)
