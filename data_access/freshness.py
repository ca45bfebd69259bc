"""A cheap fingerprint of the data, so that dashboards refresh the moment new rows land.

Each part is the newest key of one fact table: an index lookup, not a scan, at any size. Cached
query results are keyed by it, so an insert shows on the next refresh tick instead of waiting
for the cache to expire; the caches' TTL still covers in-place updates.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from data_access.schema import AgentRating, Case, CaseEvent, Contact, NpsSurvey

_NEWEST_KEYS = (Contact.id, NpsSurvey.contact_id, Case.id, CaseEvent.id, AgentRating.id)


def data_version(connection: Connection) -> tuple[int, ...]:
    """The newest id of contacts, surveys, cases, case events and ratings (0 when empty)."""
    statement = select(*[select(func.max(key)).scalar_subquery() for key in _NEWEST_KEYS])
    return tuple(int(value or 0) for value in connection.execute(statement).one())
