"""Validated roster inputs, kept apart from the solver's runtime objects (as Ciw keeps its
network description apart from the simulation).

Three inputs make a roster problem:
- the requirement: scheduled agents needed per (date, quarter hour 0..95, pool), after
  shrinkage, as the forecast writes it (`date, quarter, pool, required_agents`);
- the operators: a named roster, each with skills (digital / office), max paid hours per week,
  min rest between shifts (hours), days off per week and cost per hour;
- the settings: shift templates (quarter-hour starts, lengths 4–12 h, a paid break placed in a
  window), the start and break steps that keep the model small, the under-staffing penalty and
  the solver's time limit.

Every reader here returns the values or raises `RosterInputError` with the field and the value
named; nothing downstream has to check again.

Weeks are 7-day blocks counted from the plan's first date. A shorter last block of n days is
taken as a week whose days outside the plan are off: the full weekly hours apply and it needs
max(0, days_off_week - (7 - n)) days off (`week_limits`).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

POOLS = ("digital", "office")
QUARTERS_PER_DAY = 96
QUARTER_H = 0.25
MIN_SHIFT_H, MAX_SHIFT_H = 4.0, 12.0
MAX_DAYS = 28
MAX_OPERATORS = 2_000
REQUIREMENT_COLUMNS = ("date", "quarter", "pool", "required_agents")
OPERATOR_COLUMNS = ("operator_id", "name", "skills", "max_hours_week", "min_rest_h",
                    "days_off_week", "cost_per_hour")
SKILL_SEPARATORS = ("+", "|", ";", " ")

ERROR_NO_FILE = "{field}: no such file {path!r}"
ERROR_MISSING_COLUMNS = "{field}: {path} lacks column(s) {missing}; expected {expected}"
ERROR_ROW = "{field} row {row}, {column}: {message}"
ERROR_EMPTY = "{field}: {path} has no rows"
ERROR_DUPLICATE = "{field} row {row}: {key} appears twice"


class RosterInputError(ValueError):
    """Bad roster input: the message names the field and the value."""


@dataclass(frozen=True)
class Operator:
    """One person who can be rostered."""

    operator_id: str
    name: str
    skills: frozenset[str]  # subset of POOLS
    max_hours_week: float
    min_rest_h: float
    days_off_week: int
    cost_per_hour: float


@dataclass(frozen=True)
class ShiftTemplate:
    """A family of shifts: starts from `start_from_h` to `start_to_h` (on the plan's start
    step), each length in `lengths_h`, a paid break of `break_minutes` that starts at least
    `break_after_h` after the shift starts and ends at least `break_before_end_h` before it
    ends. `end_by_h` (hours of the same day) caps the end; None lets the shift run past
    midnight (night cover). `weekdays` (0 = Monday) limits the days it is offered."""

    name: str
    pool: str
    start_from_h: float
    start_to_h: float
    lengths_h: tuple[float, ...]
    break_minutes: int = 30
    break_after_h: float = 2.0
    break_before_end_h: float = 1.5
    end_by_h: float | None = None
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)


# Digital contacts are handled in shifts ending by 23:00; the night team covers the chats 24/7
# (a 9-10 h shift from 21:00-23:00, and a 00:00 start so the plan's first night is covered too).
# Offices keep their hours: 09:00-18:00 on weekdays, 10:00-15:00 on Saturdays, closed Sundays.
DEFAULT_TEMPLATES = (
    ShiftTemplate("digital_day", "digital", 7.0, 15.0, (4.0, 6.0, 8.0, 9.0, 10.0, 12.0),
                  end_by_h=23.0),
    ShiftTemplate("digital_night", "digital", 21.0, 23.0, (9.0, 10.0), break_minutes=60,
                  break_after_h=3.0, break_before_end_h=2.0),
    ShiftTemplate("digital_dawn", "digital", 0.0, 0.0, (7.0, 8.0), break_minutes=30,
                  break_after_h=3.0, break_before_end_h=1.5),
    ShiftTemplate("office_weekday", "office", 9.0, 14.0, (4.0, 6.0, 8.0, 9.0), end_by_h=18.0,
                  weekdays=(0, 1, 2, 3, 4)),
    ShiftTemplate("office_saturday", "office", 10.0, 11.0, (4.0, 5.0), break_minutes=15,
                  break_after_h=1.5, break_before_end_h=1.0, end_by_h=15.0, weekdays=(5,)),
)


@dataclass(frozen=True)
class RosterSettings:
    """How shifts are built and how the solver is run.

    `under_penalty_per_agent_h` is what one missing agent-hour costs in the objective (the
    default, 20,000 KZT, is 8x a typical operator hour, so the solver staffs any hour it can
    before saving money). Costs go to the solver in whole tiyn (1/100 KZT)."""

    templates: tuple[ShiftTemplate, ...] = DEFAULT_TEMPLATES
    start_step_minutes: int = 60
    break_step_minutes: int = 30
    under_penalty_per_agent_h: float = 20_000.0
    time_limit_s: float = 60.0
    num_workers: int = 2
    seed: int = 0
    currency: str = "KZT"


@dataclass(frozen=True)
class RosterProblem:
    """Validated inputs for one plan: dates, requirement[pool] as (days, 96) whole agents."""

    dates: tuple[dt.date, ...]
    required: dict[str, np.ndarray] = field(hash=False)
    operators: tuple[Operator, ...]
    settings: RosterSettings = RosterSettings()


def week_limits(operator: Operator, days: int) -> tuple[int, int]:
    """(paid quarter hours, days worked) one person may have in a block of `days` <= 7 days."""
    hours_q = math.floor(operator.max_hours_week * 4 + 1e-9)
    days_off = max(0, operator.days_off_week - (7 - days))
    return hours_q, days - days_off


def _quarters(hours: float, field_name: str) -> int:
    """Hours on the quarter hour -> quarters; anything else is a clear error."""
    quarters = hours / QUARTER_H
    if not math.isfinite(quarters) or abs(quarters - round(quarters)) > 1e-9:
        raise RosterInputError(f"{field_name}: {hours:g} h is not on the quarter hour")
    return round(quarters)


def validate_template(template: ShiftTemplate, where: str) -> None:
    """Raises RosterInputError naming the field when a template cannot produce valid shifts."""
    if template.pool not in POOLS:
        raise RosterInputError(f"{where}.pool: {template.pool!r} must be one of "
                               f"{', '.join(POOLS)}")
    for name in ("start_from_h", "start_to_h", "break_after_h", "break_before_end_h"):
        _quarters(getattr(template, name), f"{where}.{name}")
    if not 0 <= template.start_from_h <= template.start_to_h < 24:
        raise RosterInputError(f"{where}.start_to_h: {template.start_to_h:g} must be within "
                               f"start_from_h {template.start_from_h:g}..23.75")
    if not template.lengths_h:
        raise RosterInputError(f"{where}.lengths_h: needs at least one length")
    for length in template.lengths_h:
        _quarters(length, f"{where}.lengths_h")
        if not MIN_SHIFT_H <= length <= MAX_SHIFT_H:
            raise RosterInputError(f"{where}.lengths_h: {length:g} h must be within "
                                   f"{MIN_SHIFT_H:g}..{MAX_SHIFT_H:g} h")
    if template.break_minutes <= 0 or template.break_minutes % 15:
        raise RosterInputError(f"{where}.break_minutes: {template.break_minutes} must be a "
                               "positive multiple of 15")
    if template.end_by_h is not None:
        _quarters(template.end_by_h, f"{where}.end_by_h")
    if not set(template.weekdays) <= set(range(7)):
        raise RosterInputError(f"{where}.weekdays: {template.weekdays} must be within 0..6")


def validate_settings(settings: RosterSettings) -> RosterSettings:
    """The settings back, or RosterInputError naming the bad field."""
    if settings.start_step_minutes not in (15, 30, 60):
        raise RosterInputError(f"start_step_minutes: {settings.start_step_minutes} must be "
                               "15, 30 or 60")
    if settings.break_step_minutes not in (15, 30, 60):
        raise RosterInputError(f"break_step_minutes: {settings.break_step_minutes} must be "
                               "15, 30 or 60")
    if not settings.under_penalty_per_agent_h >= 0:
        raise RosterInputError("under_penalty_per_agent_h: "
                               f"{settings.under_penalty_per_agent_h} must be >= 0")
    if not 0 < settings.time_limit_s <= 3_600:
        raise RosterInputError(f"time_limit_s: {settings.time_limit_s} must be within 0..3600")
    if not 1 <= settings.num_workers <= 64:
        raise RosterInputError(f"num_workers: {settings.num_workers} must be within 1..64")
    if not settings.templates:
        raise RosterInputError("templates: at least one shift template is required")
    names = [t.name for t in settings.templates]
    for index, template in enumerate(settings.templates):
        validate_template(template, f"templates[{index}] ({template.name})")
        if names.count(template.name) > 1:
            raise RosterInputError(f"templates[{index}].name: {template.name!r} appears twice")
    return settings


def _number(text: str, field_name: str, row: int, column: str, low: float,
            high: float) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise RosterInputError(ERROR_ROW.format(field=field_name, row=row, column=column,
                                                message=f"{text!r} is not a number")) from None
    if not (math.isfinite(value) and low <= value <= high):
        raise RosterInputError(ERROR_ROW.format(field=field_name, row=row, column=column,
                                                message=f"{text!r} must be within "
                                                        f"{low:g}..{high:g}"))
    return value


def parse_skills(text: str, field_name: str = "skills", row: int = 1) -> frozenset[str]:
    """'digital', 'office' or both ('digital+office'; '|', ';' or a space also separate)."""
    parts = [text or ""]
    for separator in SKILL_SEPARATORS:
        parts = [piece for part in parts for piece in part.split(separator)]
    skills = frozenset(p.strip().lower() for p in parts if p.strip())
    if not skills or not skills <= set(POOLS):
        raise RosterInputError(ERROR_ROW.format(
            field=field_name, row=row, column="skills",
            message=f"{text!r} must name digital, office or both (digital+office)"))
    return skills


def operator_from_row(raw: dict[str, str], row: int, field_name: str) -> Operator:
    """One CSV row -> Operator, or RosterInputError naming the row, column and value."""
    operator_id = (raw.get("operator_id") or "").strip()
    if not operator_id:
        raise RosterInputError(ERROR_ROW.format(field=field_name, row=row,
                                                column="operator_id", message="is empty"))
    days_off = _number(raw.get("days_off_week"), field_name, row, "days_off_week", 0, 7)
    if days_off != int(days_off):
        raise RosterInputError(ERROR_ROW.format(
            field=field_name, row=row, column="days_off_week",
            message=f"{raw.get('days_off_week')!r} must be a whole number"))
    return Operator(
        operator_id=operator_id,
        name=(raw.get("name") or "").strip() or operator_id,
        skills=parse_skills(raw.get("skills", ""), field_name, row),
        max_hours_week=_number(raw.get("max_hours_week"), field_name, row, "max_hours_week",
                               0, 168),
        min_rest_h=_number(raw.get("min_rest_h"), field_name, row, "min_rest_h", 0, 48),
        days_off_week=int(days_off),
        cost_per_hour=_number(raw.get("cost_per_hour"), field_name, row, "cost_per_hour", 0,
                              1e7),
    )


def read_operators_csv(path: str | Path, field_name: str = "--operators") -> tuple[Operator, ...]:
    """The named roster from a CSV with OPERATOR_COLUMNS (skills e.g. 'digital+office')."""
    file = Path(path)
    if not file.is_file():
        raise RosterInputError(ERROR_NO_FILE.format(field=field_name, path=str(path)))
    with file.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in OPERATOR_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise RosterInputError(ERROR_MISSING_COLUMNS.format(
                field=field_name, path=file.name, missing=", ".join(missing),
                expected=", ".join(OPERATOR_COLUMNS)))
        operators = [operator_from_row(raw, index, field_name)
                     for index, raw in enumerate(reader, start=1)]
    if not operators:
        raise RosterInputError(ERROR_EMPTY.format(field=field_name, path=file.name))
    return validate_operators(operators, field_name)


def validate_operators(operators: list[Operator] | tuple[Operator, ...],
                       field_name: str = "operators") -> tuple[Operator, ...]:
    """Unique ids and a size the solver can take."""
    if len(operators) > MAX_OPERATORS:
        raise RosterInputError(f"{field_name}: {len(operators)} operators; the most is "
                               f"{MAX_OPERATORS}")
    seen: set[str] = set()
    for index, operator in enumerate(operators, start=1):
        if operator.operator_id in seen:
            raise RosterInputError(ERROR_DUPLICATE.format(
                field=field_name, row=index, key=f"operator_id {operator.operator_id!r}"))
        seen.add(operator.operator_id)
    return tuple(operators)


def requirement_arrays(frame: pl.DataFrame, field_name: str = "requirement"
                       ) -> tuple[tuple[dt.date, ...], dict[str, np.ndarray]]:
    """(date, quarter, pool, required_agents) -> the plan's dates and, per pool, a (days, 96)
    array of whole agents (fractions round up: 3.2 agents need 4 people). Dates between the
    first and the last that have no rows need nobody."""
    if "required_agents" not in frame.columns and "required" in frame.columns:
        frame = frame.rename({"required": "required_agents"})
    missing = [c for c in REQUIREMENT_COLUMNS if c not in frame.columns]
    if missing:
        raise RosterInputError(ERROR_MISSING_COLUMNS.format(
            field=field_name, path="the requirement", missing=", ".join(missing),
            expected=", ".join(REQUIREMENT_COLUMNS)))
    if frame.height == 0:
        raise RosterInputError(ERROR_EMPTY.format(field=field_name, path="the requirement"))
    rows = frame.select(REQUIREMENT_COLUMNS).with_row_index("row", offset=1).to_dicts()
    parsed = [_requirement_row(raw, field_name) for raw in rows]
    first, last = min(r[0] for r in parsed), max(r[0] for r in parsed)
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise RosterInputError(f"{field_name}: {first}..{last} is {days} days; the most is "
                               f"{MAX_DAYS}")
    required = {pool: np.zeros((days, QUARTERS_PER_DAY), dtype=np.int64) for pool in POOLS}
    seen: set[tuple] = set()
    for (day, quarter, pool, agents), raw in zip(parsed, rows, strict=True):
        key = (day, quarter, pool)
        if key in seen:
            raise RosterInputError(ERROR_DUPLICATE.format(
                field=field_name, row=raw["row"], key=f"({day}, quarter {quarter}, {pool})"))
        seen.add(key)
        required[pool][(day - first).days, quarter] = math.ceil(agents - 1e-9)
    dates = tuple(first + dt.timedelta(days=i) for i in range(days))
    return dates, required


def _requirement_row(raw: dict, field_name: str) -> tuple[dt.date, int, str, float]:
    row = raw["row"]
    value = raw["date"]
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        try:
            value = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise RosterInputError(ERROR_ROW.format(
                field=field_name, row=row, column="date",
                message=f"{raw['date']!r} is not a date (YYYY-MM-DD)")) from None
    quarter = _number(raw["quarter"], field_name, row, "quarter", 0, QUARTERS_PER_DAY - 1)
    if quarter != int(quarter):
        raise RosterInputError(ERROR_ROW.format(field=field_name, row=row, column="quarter",
                                                message=f"{raw['quarter']!r} must be whole"))
    pool = str(raw["pool"]).strip()
    if pool not in POOLS:
        raise RosterInputError(ERROR_ROW.format(field=field_name, row=row, column="pool",
                                                message=f"{raw['pool']!r} must be one of "
                                                        f"{', '.join(POOLS)}"))
    agents = _number(raw["required_agents"], field_name, row, "required_agents", 0, 100_000)
    return value, int(quarter), pool, agents


def read_requirement_csv(path: str | Path, field_name: str = "--forecast"
                         ) -> tuple[tuple[dt.date, ...], dict[str, np.ndarray]]:
    """The forecast's required agents from CSV (all columns read as text, then checked)."""
    file = Path(path)
    if not file.is_file():
        raise RosterInputError(ERROR_NO_FILE.format(field=field_name, path=str(path)))
    try:
        frame = pl.read_csv(file, infer_schema=False)
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as error:
        raise RosterInputError(f"{field_name}: {file.name} is not a readable CSV: "
                               f"{str(error).splitlines()[0]}") from None
    return requirement_arrays(frame, f"{field_name} {file.name}")


def build_problem(dates: tuple[dt.date, ...], required: dict[str, np.ndarray],
                  operators: tuple[Operator, ...] | list[Operator],
                  settings: RosterSettings | None = None) -> RosterProblem:
    """Validated inputs in one object (what `sim.roster.solve_roster` takes)."""
    settings = validate_settings(settings or RosterSettings())
    operators = validate_operators(tuple(operators))
    if not operators:
        raise RosterInputError("operators: the roster has nobody")
    for pool in POOLS:
        if required.get(pool) is None:
            required[pool] = np.zeros((len(dates), QUARTERS_PER_DAY), dtype=np.int64)
        if required[pool].shape != (len(dates), QUARTERS_PER_DAY):
            raise RosterInputError(f"required[{pool}]: shape {required[pool].shape} must be "
                                   f"({len(dates)}, {QUARTERS_PER_DAY})")
    return RosterProblem(tuple(dates), required, operators, settings)


# A generated roster when the planner has no operators file (documented in the CLI's help):
# 65% digital only, 25% office only, 10% both; a fifth part-time (30 h a week), the rest 40 h;
# min rest 11 h (12 h for a quarter of them); 2 days off a week; pay 2,200-2,800 KZT an hour
# digital, 2,500-3,100 office (+10% for both skills). Names are common Kazakh and Russian ones.
FEMALE_NAMES = ("Aigerim", "Dana", "Aruzhan", "Madina", "Saule", "Gulnara", "Aliya", "Zhanna",
                "Olga", "Irina", "Elena", "Asel", "Kamila")
MALE_NAMES = ("Yerlan", "Nurlan", "Daniyar", "Askar", "Timur", "Arman", "Dmitry", "Sergey",
              "Marat", "Bauyrzhan", "Yerzhan")
# (female, male) forms of each surname.
SURNAMES = (("Akhmetova", "Akhmetov"), ("Nurpeisova", "Nurpeisov"), ("Iskakova", "Iskakov"),
            ("Sadykova", "Sadykov"), ("Omarova", "Omarov"), ("Bekova", "Bekov"),
            ("Zhaksybekova", "Zhaksybekov"), ("Abenova", "Abenov"), ("Tulegenova", "Tulegenov"),
            ("Kassymova", "Kassymov"), ("Ivanova", "Ivanov"), ("Petrova", "Petrov"),
            ("Kim", "Kim"), ("Li", "Li"), ("Smagulova", "Smagulov"), ("Yessenova", "Yessenov"),
            ("Mukanova", "Mukanov"), ("Seitkali", "Seitkali"))


def generate_operators(count: int, seed: int = 0) -> tuple[Operator, ...]:
    """A plausible named roster of `count` operators from one seed (see the comment above)."""
    if not 1 <= count <= MAX_OPERATORS:
        raise RosterInputError(f"operators: {count} must be within 1..{MAX_OPERATORS}")
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    kinds = rng.choice(3, size=count, p=(0.65, 0.25, 0.10))
    operators = []
    for index, kind in enumerate(kinds):
        skills = (frozenset({"digital"}), frozenset({"office"}),
                  frozenset({"digital", "office"}))[kind]
        base = 2_500.0 if kind == 1 else 2_200.0
        cost = round(float(base + rng.integers(0, 7) * 100) * (1.1 if kind == 2 else 1.0))
        male = bool(rng.random() < 0.4)
        names = MALE_NAMES if male else FEMALE_NAMES
        first = names[rng.integers(len(names))]
        last = SURNAMES[rng.integers(len(SURNAMES))][int(male)]
        operators.append(Operator(
            operator_id=f"OP{index + 1:04d}", name=f"{first} {last}", skills=skills,
            max_hours_week=30.0 if rng.random() < 0.2 else 40.0,
            min_rest_h=12.0 if rng.random() < 0.25 else 11.0, days_off_week=2,
            cost_per_hour=float(cost)))
    return tuple(operators)
