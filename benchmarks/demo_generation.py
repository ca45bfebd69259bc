"""How long the scale-1 demo (about 2.5M contacts, 2021-01..2022-07) takes to generate and load.

Each run happens in a fresh child process so that its peak RSS is its own. Side by side:
- the bulk path into SQLite (the embedded default), and into PostgreSQL when a URL is given;
- the naive path, row-by-row ORM inserts, on one month of contacts, for scale.

    python benchmarks/demo_generation.py [--scale 1] [--postgres URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START, END = dt.date(2021, 1, 1), dt.date(2022, 7, 31)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_bulk(url: str, scale: float) -> dict:
    from data_access.demo import DemoConfig, generate_demo
    from data_access.engine import create_db_engine

    engine = create_db_engine(url)
    started = time.perf_counter()
    summary = generate_demo(engine, DemoConfig(START, END, scale=scale))
    seconds = time.perf_counter() - started
    # Served contacts in "rows" (the seed's, the same before and after issue 16); abandoned
    # contacts and staffing rows, where this version writes them, with the other rows.
    extra = getattr(summary, "abandoned", 0) + getattr(summary, "staffing_rows", 0)
    return {"rows": summary.contacts, "seconds": seconds, "peak_rss_mb": _peak_rss_mb(),
            "other_rows": summary.surveys + summary.ratings + summary.cases
            + summary.case_events + extra, "abandoned": getattr(summary, "abandoned", 0)}


def child_orm(url: str, scale: float) -> dict:
    """One month of contacts through Session.add_all, the path the bulk loader replaces."""
    from sqlalchemy.orm import Session

    from data_access.demo import (
        DemoConfig,
        Streams,
        build_month,
        build_operators,
        build_plan,
        subscriber_keys,
    )
    from data_access.engine import create_db_engine
    from data_access.reference import seed_reference
    from data_access.schema import Base, Contact, Operator

    config = DemoConfig(START, END, scale=scale)
    streams = Streams(config.seed)
    engine = create_db_engine(url)
    Base.metadata.create_all(engine)
    operators = build_operators(config, streams)
    with engine.begin() as connection:
        seed_reference(connection)
        connection.execute(Operator.__table__.insert(), operators.to_dicts())
    batch = build_month(config, build_plan(config, streams), operators,
                        subscriber_keys(config), streams, START, 1)
    rows = batch.contacts.to_dicts()
    started = time.perf_counter()
    with Session(engine) as session:
        session.add_all(Contact(**row) for row in rows)
        session.commit()
    seconds = time.perf_counter() - started
    return {"rows": len(rows), "seconds": seconds, "peak_rss_mb": _peak_rss_mb(),
            "other_rows": 0}


def _rows_per_second(result: dict) -> float:
    return (result["rows"] + result["other_rows"]) / result["seconds"]


def _run_child(kind: str, url: str, scale: float) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--url", url, "--scale", str(scale)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _reset_postgres(url: str) -> None:
    from sqlalchemy import text

    from data_access.engine import create_db_engine

    engine = create_db_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--postgres", help="a disposable PostgreSQL database URL (wiped)")
    parser.add_argument("--child", choices=["bulk", "orm"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        runner = child_bulk if args.child == "bulk" else child_orm
        print(json.dumps(runner(args.url, args.scale)))
        return

    results = []
    with tempfile.TemporaryDirectory() as folder:
        results.append(("SQLite, bulk (executemany)", "full story",
                        _run_child("bulk", f"sqlite:///{folder}/bulk.db", args.scale)))
        if args.postgres:
            _reset_postgres(args.postgres)
            results.append(("PostgreSQL, bulk (COPY)", "full story",
                            _run_child("bulk", args.postgres, args.scale)))
        results.append(("SQLite, row-by-row ORM", "Jan 2021 contacts",
                        _run_child("orm", f"sqlite:///{folder}/orm.db", args.scale)))

    print(f"Demo generation at scale {args.scale} ({START}..{END}), 2-core machine\n")
    print(f"{'path':<28} {'rows':<18} {'contacts':>10} {'other rows':>11} {'seconds':>8} "
          f"{'rows/s':>9} {'peak RSS MB':>12}")
    for name, what, result in results:
        print(f"{name:<28} {what:<18} {result['rows']:>10,} {result['other_rows']:>11,} "
              f"{result['seconds']:>8.1f} {_rows_per_second(result):>9,.0f} "
              f"{result['peak_rss_mb']:>12,.0f}")
    bulk, orm = results[0][2], results[-1][2]
    all_rows = bulk["rows"] + bulk["other_rows"]
    print(f"\nBulk SQLite loads {_rows_per_second(bulk) / _rows_per_second(orm):.0f}x more rows/s "
          f"(generation included) than row-by-row ORM inserts, which would need "
          f"{all_rows / _rows_per_second(orm):.0f} s for the whole story.")
    loads = "; ".join(f"{name.split(',')[0]}: {result['seconds']:.1f} s"
                      for name, what, result in results if what == "full story")
    print(f"Target: scale 1 in <= 60 s. {loads}.")


if __name__ == "__main__":
    main()
