"""How fast `python -m data_access import --kind contacts` stores rows, and how much memory.

Generates N valid contact rows (CSV) in a temporary folder, then imports them into a fresh
database holding a one-month demo (for the reference data and operators). Each import runs in
its own child process, so the peak RSS printed is the importer's own.

    python benchmarks/import_speed.py [--rows 1000000] [--postgres URL]
    python benchmarks/import_speed.py --rows 5000000       # memory stays bounded (< 1 GB)
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

SEED = 20220731
DEMO_MONTH = (dt.date(2022, 7, 1), dt.date(2022, 7, 31))
OPERATORS = 46  # a demo always has OP00001..OP00046 (40 front-line, 6 digital at least)


def write_contacts(path: Path, rows: int, seed: int = SEED, chunk: int = 500_000,
                   abandoned_share: float = 0.0) -> None:
    """Valid contact rows with unique external ids, written in chunks to keep memory flat;
    `abandoned_share` of them gave up waiting (no operator, no handle time)."""
    import numpy as np
    import polars as pl

    from data_access.reference import CHANNELS, REGIONS, SERVICE_TYPES

    channels = np.array([c.code for c in CHANNELS if c.takes_contacts])
    regions = np.array([r.code for r in REGIONS])
    services = np.array([s.code for s in SERVICE_TYPES])
    start = np.datetime64("2022-07-01T00:00:00", "s")
    with path.open("wb") as handle:
        for number, first in enumerate(range(0, rows, chunk)):
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(number,)))
            size = min(chunk, rows - first)
            served = rng.choice(np.array(["operator", "bot", "self_service", "abandoned"]),
                                 size=size, p=[*(np.array([0.6, 0.25, 0.15])
                                                 * (1 - abandoned_share)), abandoned_share])
            operator = np.char.add("OP", np.char.zfill(
                rng.integers(1, OPERATORS + 1, size).astype(str), 5))
            pl.DataFrame({
                "external_id": np.char.add("BM", np.char.zfill(
                    np.arange(first, first + size).astype(str), 10)),
                "started_at": (start + rng.integers(0, 31 * 86400, size)).astype(
                    "datetime64[us]"),
                "channel": rng.choice(channels, size),
                "region": rng.choice(regions, size),
                "service_type": rng.choice(services, size),
                "served_by": served,
                "operator_external_id": np.where(served == "operator", operator, ""),
                "wait_s": np.where(np.isin(served, ["operator", "abandoned"]),
                                   rng.integers(0, 1800, size), 0),
                "handle_s": np.where(served == "abandoned", 0, rng.integers(30, 1500, size)),
                "subscriber_key": [f"{value:020x}" for value in rng.integers(0, 2**62, size)],
            }).write_csv(handle, include_header=number == 0,
                         datetime_format="%Y-%m-%d %H:%M:%S")


def prepare_database(url: str) -> None:
    """A fresh database with the schema, reference data and a small demo's operators."""
    from sqlalchemy import text

    from data_access.demo import DemoConfig, generate_demo
    from data_access.engine import create_db_engine

    engine = create_db_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    generate_demo(engine, DemoConfig(*DEMO_MONTH, scale=0.001))
    engine.dispose()


def child(url: str, path: Path) -> dict:
    from data_access.importer import import_file

    started = time.perf_counter()
    summary = import_file("contacts", path, url)
    seconds = time.perf_counter() - started
    return {"read": summary.read, "inserted": summary.inserted, "rejected": summary.rejected,
            "seconds": seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _run_child(url: str, path: Path) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", "--url", url, "--file", str(path)],
        capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", help="a disposable PostgreSQL database URL (wiped)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.url, args.file)))
        return

    results = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "contacts.csv"
        started = time.perf_counter()
        write_contacts(path, args.rows)
        print(f"Generated {args.rows:,} contact rows ({path.stat().st_size / 2**20:,.0f} MB) "
              f"in {time.perf_counter() - started:.1f} s")
        targets = [("SQLite", f"sqlite:///{folder}/import.db")]
        if args.postgres:
            targets.append(("PostgreSQL", args.postgres))
        for name, url in targets:
            prepare_database(url)
            results.append((name, "first import", _run_child(url, path)))
            results.append((name, "re-import (all skipped)", _run_child(url, path)))

    print(f"\n{'database':<11} {'run':<24} {'rows':>10} {'inserted':>10} {'seconds':>8} "
          f"{'rows/s':>9} {'peak RSS MB':>12}")
    for name, run, result in results:
        print(f"{name:<11} {run:<24} {result['read']:>10,} {result['inserted']:>10,} "
              f"{result['seconds']:>8.1f} {result['read'] / result['seconds']:>9,.0f} "
              f"{result['peak_rss_mb']:>12,.0f}")
    print("\nTargets: > 50,000 rows/s into SQLite; peak RSS < 1 GB at 5M rows.")


if __name__ == "__main__":
    main()
