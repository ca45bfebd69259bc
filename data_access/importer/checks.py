"""The checks of one kind's input columns, as Polars expressions: typed values and the rules
that reject a row, so one bad value rejects one row and a chunk is checked in one pass."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from data_access import config
from data_access.argtypes import MAX_DAY, MIN_DAY
from data_access.config import LOCAL_TZ
from data_access.importer.columns import NOW, ROW, text_column, value_column

ID_LENGTH = 64
# The longest value read, in characters: the csv module's default field limit. It keeps a stray
# quote to one line (the reader gives up there), so the fast path applies it too.
VALUE_MAX = 131_072
TIMESTAMP_HELP = ("YYYY-MM-DD HH:MM[:SS[.ffffff]] in local time (Asia/Almaty), or ISO 8601 with "
                  "an offset such as 2022-07-01T10:00:00+05:00 or ...Z")
_TIMESTAMP = (r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2}(?:[.,]\d{1,9})?)?"
              r"\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?$")
_TRUE, _FALSE = ("true", "t", "yes", "y", "1"), ("false", "f", "no", "n", "0")
FUTURE_SLACK = dt.timedelta(days=1)  # clocks and zones differ; beyond a day ahead is an error


def _text_expr(name: str) -> pl.Expr:
    return pl.col(text_column(name))


def is_given(name: str) -> pl.Expr:
    """True where the input column holds a non-blank value (never null)."""
    return _text_expr(name).is_not_null()


@dataclass(frozen=True)
class Rule:
    field: str  # the input column the problem is reported on
    problem: pl.Expr  # the problem as text; null where the value is fine


class Checks:
    """Typed values and the rules that reject a row, for the input columns of one kind."""

    def __init__(self) -> None:
        self.columns: list[str] = []  # input columns in documented order
        self.optional: set[str] = set()  # columns that may be left out of the header
        self.texts: dict[str, pl.Expr] = {}  # computed first: the values are read from them
        self.timestamps: list[str] = []
        self.values: dict[str, pl.Expr] = {}
        self.rules: list[Rule] = []

    def parse(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The typed values of a chunk of text rows, null where a value is missing or bad."""
        latest = config.local_now() + FUTURE_SLACK
        frame = frame.with_columns(pl.lit(latest, dtype=pl.Datetime("us")).alias(NOW),
                                   **self.texts)
        for name in self.timestamps:
            frame = _with_timestamp(frame, name)
        return frame.with_columns(**self.values)

    def rule(self, name: str, condition: pl.Expr, problem: str | pl.Expr) -> None:
        message = pl.lit(problem) if isinstance(problem, str) else problem
        self.rules.append(Rule(name, pl.when(condition).then(message)))

    def _column(self, name: str, required: bool, in_header: bool) -> None:
        self.columns.append(name)
        stripped = pl.col(name).str.strip_chars()
        self.texts[text_column(name)] = pl.when(stripped != "").then(stripped)
        if not in_header:
            self.optional.add(name)
        if required:
            self.rule(name, ~is_given(name), "required")

    def text(self, name: str, *, target: str | None = None, required: bool = True,
             max_length: int = ID_LENGTH, in_header: bool = True) -> None:
        self._column(name, required, in_header)
        self.values[value_column(target or name)] = _text_expr(name)
        self.rule(name, _text_expr(name).str.len_chars() > max_length,
                  f"longer than {max_length:,} characters")

    def integer(self, name: str, low: int, high: int, *, required: bool = True,
                in_header: bool = True) -> None:
        """Digits only; digits beyond 64 bits are out of range too, not "not a number"."""
        self._column(name, required, in_header)
        self.values[value_column(name)] = _text_expr(name).cast(pl.Int64, strict=False)
        number = pl.col(value_column(name))
        digits = _text_expr(name).str.contains(r"^[+-]?[0-9]+$")
        self.rule(name, is_given(name) & ~digits, "not a whole number")
        self.rule(name, (number < low) | (number > high) | (digits & number.is_null()),
                  f"must be between {low} and {high}")

    def choice(self, name: str, codes: dict[str, object], what: str, *,
               target: str | None = None, required: bool = True, list_codes: bool = True) -> None:
        """A code from a fixed list (case-insensitive), stored as itself or as a reference id."""
        self._column(name, required, True)
        dtype = pl.Int64 if isinstance(next(iter(codes.values())), int) else pl.String
        value = _text_expr(name).str.to_lowercase().replace_strict(
            codes, default=None, return_dtype=dtype)
        self.values[value_column(target or name)] = value
        known = f" (known: {', '.join(codes)})" if list_codes else " (see the README)"
        self.rule(name, is_given(name) & pl.col(value_column(target or name)).is_null(),
                  f"unknown {what}{known}")

    def boolean(self, name: str) -> None:
        self._column(name, True, True)
        lowered = _text_expr(name).str.to_lowercase()
        value = (pl.when(lowered.is_in(_TRUE)).then(True)
                 .when(lowered.is_in(_FALSE)).then(False))
        self.values[value_column(name)] = value
        self.rule(name, is_given(name) & pl.col(value_column(name)).is_null(), "not true or false")

    def timestamp(self, name: str, *, required: bool = True, in_header: bool = True) -> None:
        self._column(name, required, in_header)
        self.timestamps.append(name)
        value = pl.col(value_column(name))
        self.rule(name, is_given(name) & value.is_null(), f"not a timestamp: use {TIMESTAMP_HELP}")
        low = pl.lit(MIN_DAY).cast(pl.Datetime("us"))
        high = pl.lit(MAX_DAY).cast(pl.Datetime("us")) + pl.duration(days=1)
        self.rule(name, (value < low) | (value >= high), f"outside {MIN_DAY}..{MAX_DAY}")
        self.rule(name, (value > pl.col(NOW)) & (value < high),
                  "in the future (more than one day ahead of now)")

    def day(self, name: str) -> None:
        """A calendar day, YYYY-MM-DD."""
        self._column(name, True, True)
        value = _text_expr(name).str.to_date("%Y-%m-%d", strict=False)
        self.values[value_column(name)] = value
        self.rule(name, is_given(name) & pl.col(value_column(name)).is_null(),
                  "not a date: use YYYY-MM-DD")
        self.rule(name, (pl.col(value_column(name)) < MIN_DAY)
                  | (pl.col(value_column(name)) > MAX_DAY), f"outside {MIN_DAY}..{MAX_DAY}")

    def quarter_hour(self, name: str) -> None:
        """A start time on the quarter hour, HH:MM, stored as its quarter of the day (0..95)."""
        self._column(name, True, True)
        parts = _text_expr(name).str.extract_groups(r"^(\d{1,2}):(\d{2})$")
        hours, minutes = (parts.struct.field(group).cast(pl.Int64, strict=False)
                          for group in ("1", "2"))
        valid = (hours <= 23) & minutes.is_in([0, 15, 30, 45])
        self.values[value_column(name)] = pl.when(valid).then(hours * 4 + minutes // 15)
        self.rule(name, is_given(name) & pl.col(value_column(name)).is_null(),
                  "not a quarter-hour start: use HH:MM from 00:00 to 23:45 with minutes "
                  "00, 15, 30 or 45")

    def empty_unless(self, name: str, condition: pl.Expr, when: str) -> None:
        """The column must be filled where `condition` holds and empty where it does not."""
        self.rule(name, condition & ~is_given(name), f"required when {when}")
        self.rule(name, ~condition & is_given(name), f"must be empty unless {when}")

    def not_before(self, name: str, earlier: str) -> None:
        self.rule(name, pl.col(value_column(name)) < pl.col(value_column(earlier)),
                  f"before {earlier}")


def _with_timestamp(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """Parse the common `YYYY-MM-DD HH:MM:SS` at full speed, then only the other rows with
    the general (slower) expression."""
    text = _text_expr(name)
    frame = frame.with_columns(text.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False,
                                                    time_unit="us").alias(value_column(name)))
    rest = frame.filter(pl.col(value_column(name)).is_null() & text.is_not_null())
    if rest.is_empty():
        return frame
    return frame.update(rest.select(ROW, _timestamp_expr(name).alias(value_column(name))), on=ROW)


def _timestamp_expr(name: str) -> pl.Expr:
    """Naive local time as is; a time with an offset converted to naive Asia/Almaty time."""
    parts = _text_expr(name).str.extract_groups(_TIMESTAMP)
    day, minutes, seconds, zone = (parts.struct.field(str(group)) for group in range(1, 5))
    naive = pl.concat_str(
        [day, pl.lit(" "), minutes, seconds.fill_null(":00").str.replace(",", ".", literal=True)]
    ).str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us")
    digits = zone.str.replace(":", "", literal=True)
    zone_hours = digits.str.slice(1, 2).cast(pl.Int64, strict=False)
    zone_minutes = pl.when(digits.str.len_chars() > 3).then(
        digits.str.slice(3, 2).cast(pl.Int64, strict=False)).otherwise(0)
    sign = pl.when(zone.str.starts_with("-")).then(-1).otherwise(1)
    offset = (pl.when(zone.str.to_uppercase() == "Z").then(0)
              .otherwise(sign * (zone_hours * 60 + zone_minutes)))
    valid_zone = (zone.str.to_uppercase() == "Z") | ((zone_hours <= 14) & (zone_minutes < 60))
    local = ((naive - pl.duration(minutes=offset)).dt.replace_time_zone("UTC")
             .dt.convert_time_zone(LOCAL_TZ.key).dt.replace_time_zone(None))
    return pl.when(zone.is_null()).then(naive).when(valid_zone).then(local)


def shown_time(moment: pl.Expr) -> pl.Expr:
    return moment.dt.strftime("%Y-%m-%d %H:%M:%S")
