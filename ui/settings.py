"""The app's settings from the environment, each with its default, range and warning: a bad
value shows one warning naming the variable and the default is used, never a traceback."""

from __future__ import annotations

import math
import os

import streamlit as st

from data_access.config import (
    ABANDONMENT_TARGET_RANGE,
    ABANDONMENT_TARGET_SETTING,
    DEADLINE_DAYS_RANGE,
    DEADLINE_SETTINGS,
)
from data_access.operations import OPERATORS_PER_PAGE


def parse_setting(name: str, default: float, low: float, high: float
                  ) -> tuple[float, str | None]:
    """A numeric setting from the environment, or the default and a warning naming it."""
    raw = os.environ.get(name)
    if raw is None:
        return default, None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not low <= value <= high:
        return default, (f"{name}={raw!r} must be a number within {low:g}..{high:g}; "
                         f"using {default:g}.")
    return value, None


def _number_setting(name: str, default: float, low: float, high: float) -> float:
    value, warning = parse_setting(name, default, low, high)
    if warning:
        st.warning(warning)
    return value


# How often the dashboards' data re-run, and the matching cache lifetime. Read once at start:
# st.cache_data's ttl is fixed when the module is imported.
REFRESH_SECONDS, REFRESH_WARNING = parse_setting("SERVICEPULSE_REFRESH_S", 30, 2, 3600)
# How long one reading of the data version is shared by all viewers. 1 s: a row committed
# before a tick shows on that tick, and every tick that sees new rows recomputes its queries.
# Longer shares one computation among more viewers' ticks, and a row may wait one tick more.
VERSION_SHARE_SECONDS, VERSION_SHARE_WARNING = parse_setting(
    "SERVICEPULSE_VERSION_SHARE_S", 1, 1, 3600)


def demo_scale() -> float:
    """SERVICEPULSE_DEMO_SCALE lets tests and small machines seed a smaller demo."""
    return _number_setting("SERVICEPULSE_DEMO_SCALE", 1.0, 0.001, 50)


def nps_target() -> float:
    """The NPS target line (40 for 2022 at the reference customer)."""
    return _number_setting("SERVICEPULSE_NPS_TARGET", 40.0, -100, 100)


def appeals_backlog_limit() -> int:
    """Open appeals above this raise an alert on the overview."""
    return int(_number_setting("SERVICEPULSE_APPEALS_BACKLOG_MAX", 150, 0, 10_000_000))


def min_ratings_default() -> int:
    """Operators with fewer ratings are listed but not ranked (a mean of a few is noise)."""
    return int(_number_setting("SERVICEPULSE_MIN_RATINGS", 20, 1, 100_000))


def operators_per_page() -> int:
    """Rows of the operators table: only one page is read, however many operators there are."""
    return int(_number_setting("SERVICEPULSE_OPERATORS_PER_PAGE", OPERATORS_PER_PAGE, 5, 1000))


def rated_share_target() -> float:
    """Front-line operators rated per month: more than 85% of those active."""
    return _number_setting("SERVICEPULSE_RATED_SHARE_TARGET", 0.85, 0, 1)


def deadline_days() -> dict[str, float]:
    """Target days to answer a case, per deadline kind (`config.DEADLINE_SETTINGS`)."""
    low, high = DEADLINE_DAYS_RANGE
    return {kind: _number_setting(name, default, low, high)
            for kind, (name, default) in DEADLINE_SETTINGS.items()}


def abandonment_target() -> float:
    """Abandoned ÷ queued above this raises an alert on the overview (0.05 by default)."""
    name, default = ABANDONMENT_TARGET_SETTING
    return _number_setting(name, default, *ABANDONMENT_TARGET_RANGE)
