"""Where to cap a day's size: time and memory of 20 replications on one core, side by side.

The simulator refuses a scenario whose day holds more than `MAX_CONTACTS_PER_DAY` expected
contacts (warm-up included). This measures what days of several sizes cost: one M/M/c-like
channel with abandonment (patience 300 s), staffed at offered load + 10% so queues stay
finite, 20 replications simulated and summarised in one process (one core), each size in a
fresh interpreter so that its peak memory is its own. It prints time, peak RSS and their
ratio to the size at the cap, and whether the cap meets "~10 s and ~2 GB".

    python benchmarks/sim_day_bound.py [--sizes 25000,50000,100000,150000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REPLICATIONS = 20
TIME_TARGET_S = 10.0
MEMORY_TARGET_MB = 2048.0


def day(contacts_per_day: float) -> dict:
    """One pool, one channel, flat demand: `contacts_per_day` arrivals over 24 hours."""
    per_hour = contacts_per_day / 24
    aht_s = 300.0
    operators = int(per_hour * aht_s / 3600 * 1.1) + 1
    return {"name": f"{contacts_per_day:.0f} a day", "interval_minutes": 60, "warmup_s": 0.0,
            "pools": [{"name": "agents", "operators": [operators] * 24}],
            "channels": [{"name": "chat", "pool": "agents", "arrivals": [per_hour] * 24,
                          "aht_s": aht_s, "patience_s": 300.0, "handle_distribution":
                          "lognormal", "handle_cv": 0.8}]}


def measure(contacts_per_day: float) -> dict:
    """In this process: simulate and summarise 20 days; seconds and peak RSS."""
    import dataclasses

    from sim.config import parse_scenario
    from sim.runner import _result, simulate_replications

    parsed = parse_scenario(day(1_000))
    scenario = dataclasses.replace(parsed.scenario, volume_multiplier=contacts_per_day / 1_000)
    started = time.perf_counter()
    records = simulate_replications(scenario, range(REPLICATIONS), 0)
    _result(scenario, 0, REPLICATIONS, records).summary()
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"contacts_per_day": contacts_per_day, "seconds": seconds, "peak_mb": peak_mb,
            "rows": records.height}


def main() -> None:
    from sim.config import MAX_CONTACTS_PER_DAY

    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=f"25000,50000,{MAX_CONTACTS_PER_DAY},150000")
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)))
        return
    rows = []
    for size in [float(s) for s in args.sizes.split(",")]:
        out = subprocess.run([sys.executable, __file__, "--one", str(size)], check=True,
                             capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    at_cap = next((r for r in rows if r["contacts_per_day"] == MAX_CONTACTS_PER_DAY), rows[-1])
    print(f"{REPLICATIONS} replications on one core; cap MAX_CONTACTS_PER_DAY = "
          f"{MAX_CONTACTS_PER_DAY:,}")
    print(f"{'contacts/day':>14} {'rows':>10} {'seconds':>9} {'peak MB':>9} "
          f"{'time ratio':>11} {'memory ratio':>13}")
    for row in rows:
        print(f"{row['contacts_per_day']:>14,.0f} {row['rows']:>10,} {row['seconds']:>9.2f} "
              f"{row['peak_mb']:>9.0f} {row['seconds'] / at_cap['seconds']:>11.2f} "
              f"{row['peak_mb'] / at_cap['peak_mb']:>13.2f}")
    ok = at_cap["seconds"] <= TIME_TARGET_S and at_cap["peak_mb"] <= MEMORY_TARGET_MB
    print(f"at the cap: {at_cap['seconds']:.1f} s (target {TIME_TARGET_S:g} s), "
          f"{at_cap['peak_mb']:.0f} MB (target {MEMORY_TARGET_MB:,.0f} MB): "
          f"{'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
