"""What the abandonment rollups (issue 16) cost the demo load and the import, side by side.

Runs the same two measurements in two source trees, this one ("after") and an older commit
checked out elsewhere ("before"), each in fresh child processes that import that tree's code:

- the demo load (`benchmarks/demo_generation.py --child bulk`) at a small scale, then a
  rebuild of every rollup of that database (the rollups' own cost, without the generation);
- `import --kind contacts` of one CSV of served contacts (`benchmarks/import_speed.py`'s
  generator, written once by this tree with no abandoned rows, so both trees read the same
  file), into a fresh one-month demo database; "after" also imports a file with abandoned
  rows (its `--abandoned-share`), the new path.

Each measurement is the median of `--repeat` runs. Ratios are after / before (> 1: slower).

    git worktree add /tmp/before <commit before the change>
    python benchmarks/rollup_cost.py --before /tmp/before [--scale 0.1] [--rows 200000]
        [--repeat 3] [--postgres URL]

Measured 2026-12-04 on the shared 2-core machine, before = dd1a68b, scale 0.1, 200,000 rows,
median of 3 (after/before; two runs, other jobs running, so about +-30% noise):
- demo load: SQLite 0.94x and 1.39x (21-29 s), PostgreSQL 1.83x and 1.51x (17-32 s); the demo
  now also draws the queue (Erlang A per interval) and writes ~7k abandoned contacts and
  111k staffing rows;
- rebuild of every rollup: SQLite 1.62x (12.8 -> 20.7 s), PostgreSQL 0.86x (18.8 -> 16.2 s);
- import of served contacts: SQLite 1.48x and 1.71x (12 -> 18-21 s), PostgreSQL 1.16x and
  1.06x; with 4% abandoned rows SQLite 1.67x and 1.97x, PostgreSQL 1.13x and 0.96x.
rollup_contacts went from 52 to 97 measures and rollup_contact_quarters from 1 to 27: SQLite's
grouped passes pay per column, PostgreSQL's hardly.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Run inside a tree: prepare a database, import a file, print the importer's own figures.
REBUILD_CHILD = """
import json, sys
from data_access import rollups
from data_access.engine import create_db_engine
engine = create_db_engine(sys.argv[1])
with engine.begin() as connection:
    report = rollups.rebuild(connection)
print(json.dumps({"seconds": report.seconds, "rows": sum(report.rows.values())}))
"""
IMPORT_CHILD = """
import json, sys
from pathlib import Path
sys.path.insert(0, "benchmarks")
import import_speed
url, path = sys.argv[1], Path(sys.argv[2])
import_speed.prepare_database(url)
print(json.dumps(import_speed.child(url, path)))
"""


def _in_tree(tree: Path, arguments: list[str]) -> dict:
    environment = os.environ | {"PYTHONPATH": str(tree)}
    output = subprocess.run([sys.executable, *arguments], capture_output=True, text=True,
                            check=True, cwd=tree, env=environment).stdout
    return json.loads(output.strip().splitlines()[-1])


def _reset_postgres(url: str) -> None:
    from sqlalchemy import text

    from data_access.engine import create_db_engine

    engine = create_db_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def _target(backend: str, folder: str, name: str, postgres: str | None) -> str:
    if backend == "SQLite":
        path = Path(folder) / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    _reset_postgres(postgres)
    return postgres


def demo_seconds(tree: Path, url: str, scale: float) -> dict:
    return _in_tree(tree, ["benchmarks/demo_generation.py", "--child", "bulk", "--url", url,
                           "--scale", str(scale)])


def rebuild_seconds(tree: Path, url: str) -> dict:
    """Every rollup recomputed from the demo's raw rows: the rollups' own cost, without the
    generation around it."""
    return _in_tree(tree, ["-c", REBUILD_CHILD, url])


def import_seconds(tree: Path, url: str, path: Path) -> dict:
    return _in_tree(tree, ["-c", IMPORT_CHILD, url, str(path)])


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the older source tree")
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--abandoned-share", type=float, default=0.04)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", help="a disposable PostgreSQL database URL (wiped)")
    args = parser.parse_args()
    from benchmarks.import_speed import write_contacts

    trees = {"before": args.before.resolve(), "after": ROOT}
    backends = ["SQLite"] + (["PostgreSQL"] if args.postgres else [])
    rows = []  # (what, backend, before, after) as {seconds, rows}
    with tempfile.TemporaryDirectory() as folder:
        served, mixed = Path(folder) / "served.csv", Path(folder) / "mixed.csv"
        write_contacts(served, args.rows, abandoned_share=0.0)
        write_contacts(mixed, args.rows, abandoned_share=args.abandoned_share)
        for backend in backends:
            found: dict[tuple[str, str], list[dict]] = {}
            for _ in range(args.repeat):  # interleaved: both trees see the same machine load
                for name, tree in trees.items():
                    url = _target(backend, folder, f"demo_{name}", args.postgres)
                    found.setdefault(("demo", name), []).append(
                        demo_seconds(tree, url, args.scale))
                    found.setdefault(("rebuild", name), []).append(rebuild_seconds(tree, url))
                    url = _target(backend, folder, f"import_{name}", args.postgres)
                    found.setdefault(("import", name), []).append(
                        import_seconds(tree, url, served))
                url = _target(backend, folder, "import_mixed", args.postgres)
                found.setdefault(("import_mixed", "after"), []).append(
                    import_seconds(ROOT, url, mixed))
            rows.append((f"demo load, scale {args.scale}", backend,
                         found["demo", "before"], found["demo", "after"], "rows"))
            rows.append(("rebuild every rollup of that demo", backend,
                         found["rebuild", "before"], found["rebuild", "after"], "rows"))
            rows.append((f"import {args.rows:,} served contacts", backend,
                         found["import", "before"], found["import", "after"], "inserted"))
            rows.append((f"import, {args.abandoned_share:.0%} abandoned", backend,
                         found["import", "before"], found["import_mixed", "after"], "inserted"))

    print(f"Cost of the abandonment rollups: median of {args.repeat} runs, "
          f"before = {args.before}, after = {ROOT}\n")
    print(f"{'what':<34} {'database':<11} {'rows before':>12} {'rows after':>11} "
          f"{'s before':>9} {'s after':>8} {'after/before':>13}")
    for what, backend, before, after, count in rows:
        seconds_before, seconds_after = _median(before, "seconds"), _median(after, "seconds")
        print(f"{what:<34} {backend:<11} {int(_median(before, count)):>12,} "
              f"{int(_median(after, count)):>11,} {seconds_before:>9.2f} {seconds_after:>8.2f} "
              f"{seconds_after / seconds_before:>12.2f}x")
    print("\nrows: the demo's served contacts (after the change its abandoned contacts and "
          "staffing rows come in addition); for a rebuild, the rollup rows it wrote; for an "
          "import, the rows it stored.")


if __name__ == "__main__":
    main()
