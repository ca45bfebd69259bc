"""Alembic environment of ServicePulse: raw tables only, run by `data_access.migrate`.

The derived rollup tables are not migrated: they carry their own definition version and are
rebuilt from the raw rows when it changes (`data_access.rollups.install`), which
`data_access.migrate.migrate` runs right after the raw tables' upgrade, in the same transaction.

There is no alembic.ini: `data_access.migrate.alembic_config` sets the script location in code
and hands this script the connection (in the caller's transaction) through
`config.attributes["connection"]`. SQLite alters a table by copying it (batch mode).
"""

from __future__ import annotations

from alembic import context

from data_access.migrate import include_object, raw_metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `python -m data_access migrate` "
                       "(data_access.migrate passes the connection)")

context.configure(
    connection=connection,
    target_metadata=raw_metadata(),
    include_object=include_object,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
