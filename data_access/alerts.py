"""Threshold alerts for the overview: the few conditions leadership must not miss.

Pure functions over query results, so the rules are tested without a page.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import polars as pl

FALLING_PERIODS = 2


@dataclass(frozen=True)
class Alert:
    level: Literal["warning", "error"]
    message: str


def nps_target_alert(nps: float | None, margin: float | None, target: float) -> Alert | None:
    """Below target beyond the margin of error is an error; within it, a warning."""
    if nps is None or nps >= target:
        return None
    if margin is not None and nps + margin < target:
        return Alert("error", f"NPS {nps:.1f} ± {margin:.1f} is below the target of "
                              f"{target:g}, beyond its margin of error.")
    return Alert("warning", f"NPS {nps:.1f} is below the target of {target:g} (within the "
                            f"margin of error ± {margin or 0:.1f}).")


def nps_falling_alert(periods: pl.DataFrame, granularity: str,
                      falling: int = FALLING_PERIODS) -> Alert | None:
    """NPS lower in each of the last `falling` periods than in the one before."""
    values = periods.sort("period").drop_nulls("nps")
    if values.height < falling + 1:
        return None
    recent = values.tail(falling + 1)
    scores = recent["nps"].to_list()
    if not all(later < earlier for earlier, later in itertools.pairwise(scores)):
        return None
    path = " → ".join(f"{score:.1f}" for score in scores)
    last = recent["period"][-1]
    # A period still running (or cut by the range) may rest on few answers: say how many.
    answers = ("; " + " → ".join(f"{count:,}" for count in recent["responses"].to_list())
               + " responses" if "responses" in recent.columns else "")
    return Alert("warning", f"NPS has fallen for {falling} {granularity}s in a row "
                            f"({path}{answers}, up to the {granularity} of {last}).")


def appeals_backlog_alert(open_appeals: int | None, limit: int) -> Alert | None:
    if open_appeals is None or open_appeals <= limit:
        return None
    return Alert("error", f"{open_appeals:,} appeals are open, above the limit of {limit:,} "
                          "(SERVICEPULSE_APPEALS_BACKLOG_MAX).")


def overview_alerts(nps: float | None, margin: float | None, target: float,
                    periods: pl.DataFrame, granularity: str, open_appeals: int | None,
                    backlog_limit: int) -> list[Alert]:
    candidates = (nps_target_alert(nps, margin, target),
                  nps_falling_alert(periods, granularity),
                  appeals_backlog_alert(open_appeals, backlog_limit))
    return [alert for alert in candidates if alert is not None]
