"""argparse value types shared by the CLIs: each error names the option and the value."""

from __future__ import annotations

import argparse
import datetime as dt
import math
from collections.abc import Callable

MIN_DAY, MAX_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


def date_arg(option: str) -> Callable[[str], dt.date]:
    def parse(value: str) -> dt.date:
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None
        if not MIN_DAY <= day <= MAX_DAY:
            raise argparse.ArgumentTypeError(
                f"{option}: {value} must be within {MIN_DAY}..{MAX_DAY}")
        return day
    return parse


def number_arg(option: str, low: float | None = None, high: float | None = None,
               low_open: bool = False) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option}: {value!r} is not a number") from None
        if not math.isfinite(number):
            raise argparse.ArgumentTypeError(f"{option}: {value!r} is not a finite number")
        too_low = low is not None and (number <= low if low_open else number < low)
        if too_low or (high is not None and number > high):
            lower = f"> {low:g}" if low_open else f">= {low:g}" if low is not None else ""
            upper = f"<= {high:g}" if high is not None else ""
            bounds = " and ".join(part for part in (lower, upper) if part)
            raise argparse.ArgumentTypeError(f"{option}: {value} must be {bounds}")
        return number
    return parse


def int_arg(option: str, low: int = 1, high: int | None = None) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option}: {value!r} is not a whole number") from None
        if number < low:
            raise argparse.ArgumentTypeError(f"{option}: {value} must be >= {low}")
        if high is not None and number > high:
            raise argparse.ArgumentTypeError(f"{option}: {value} must be <= {high}")
        return number
    return parse


def positive_int_arg(option: str, high: int | None = None) -> Callable[[str], int]:
    return int_arg(option, 1, high)
