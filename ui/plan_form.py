"""The Plan page's inputs and their URL codec (pure: no Streamlit).

Every input lives in the URL under a short key, so a copied link reopens the same plan.
A value that is not understood is reported with its field and value (never a traceback),
and the page does not plan something else quietly: it stops on the message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ui.view_state import shown

RECORD = "record"
POOL_CHOICES = ("all", "digital", "office")
POOL_LABELS = {"all": "Both pools", "digital": "Digital (chats)", "office": "Offices"}

# Values and unknown keys from the link are shown as code spans (ui.view_state.shown), so a
# link cannot put Markdown (a link, an image) into the page's messages.
ERROR_NOT_NUMBER = "URL parameter '{key}' ({label}): {value} is not a whole number."
ERROR_RANGE = "URL parameter '{key}' ({label}): {value} is not within {low}–{high}."
ERROR_CHOICE = "URL parameter '{key}' ({label}): {value} is not one of {choices}."
ERROR_OPERATORS = ("URL parameter 'ops' (operators in the roster): {value} is neither "
                   "'record' nor a whole number within {low}–{high}.")
WARNING_UNKNOWN = "URL parameter {key} is not one of the Plan page's inputs; it is ignored."


@dataclass(frozen=True)
class IntField:
    """A whole-number input: its URL key, label, bounds and default."""

    key: str
    label: str
    low: int
    high: int
    default: int
    help: str


WEEKS = IntField("wk", "Weeks ahead", 1, 4, 1,
                 "How many weeks after the last recorded day to forecast and plan (1–4).")
TIME_LIMIT = IntField("tl", "Roster time limit (s)", 1, 300, 10,
                      "The CP-SAT solver stops here and keeps its best plan so far; the page "
                      "opens with a short limit, raise it for a plan nearer the optimum.")
EXTRA_OPERATORS = IntField("more", "Extra operators (what-if)", 1, 200, 5,
                           "The 'N more operators' comparison: this many more agents in every "
                           "quarter hour the chosen pool(s) are staffed.")
BOT_SHARE = IntField("bot", "Bot share + (points, what-if)", 1, 50, 10,
                     "The 'bot share +X' comparison: this many more percent of the arrivals "
                     "of the pool's bot channels go to the bot first.")
REPLICATIONS = IntField("reps", "Replications per day", 2, 50, 10,
                        "Simulated copies of each day; more give narrower intervals and take "
                        "longer.")
SEED = IntField("seed", "Seed", 0, 1_000_000, 0, "Random seed of the simulation and roster.")
OPERATORS_LOW, OPERATORS_HIGH = 1, 2_000
OPERATORS_LABEL = "Operators in the roster"
OPERATORS_HELP = ("How many named operators the roster may use: 'record' takes the number of "
                  "front-line operators active in the last recorded month; a number generates "
                  "a plausible roster of that size (skills, hours, pay).")
POOL_LABEL = "Pool(s)"
POOL_HELP = "Which pool(s) the charts show and the 'more operators' what-if staffs."
COMPARE_KEY = "cmp"
INT_FIELDS = (WEEKS, TIME_LIMIT, EXTRA_OPERATORS, BOT_SHARE, REPLICATIONS, SEED)
KNOWN_KEYS = frozenset({f.key for f in INT_FIELDS} | {"ops", "pool", COMPARE_KEY})


@dataclass(frozen=True)
class PlanInputs:
    """Everything the page computes from; defaults open the page fast."""

    weeks: int = WEEKS.default
    pool: str = "all"
    operators: int | None = None  # None: the number on record
    time_limit_s: int = TIME_LIMIT.default
    extra_operators: int = EXTRA_OPERATORS.default
    bot_points: int = BOT_SHARE.default
    replications: int = REPLICATIONS.default
    seed: int = SEED.default
    compare: bool = False

    @property
    def pools(self) -> tuple[str, ...]:
        """The pools the view covers."""
        return ("digital", "office") if self.pool == "all" else (self.pool,)


DEFAULT_INPUTS = PlanInputs()
ATTRIBUTE_OF = {WEEKS.key: "weeks", TIME_LIMIT.key: "time_limit_s",
                EXTRA_OPERATORS.key: "extra_operators", BOT_SHARE.key: "bot_points",
                REPLICATIONS.key: "replications", SEED.key: "seed"}


def parse_int(field: IntField, text: str) -> tuple[int | None, str | None]:
    """(value, None) or (None, the message naming the field and value)."""
    try:
        number = float(text.strip())
    except ValueError:
        return None, ERROR_NOT_NUMBER.format(key=field.key, label=field.label, value=shown(text))
    if not math.isfinite(number) or number != int(number):
        return None, ERROR_NOT_NUMBER.format(key=field.key, label=field.label, value=shown(text))
    if not field.low <= number <= field.high:
        return None, ERROR_RANGE.format(key=field.key, label=field.label, value=shown(text),
                                        low=field.low, high=field.high)
    return int(number), None


def parse_operators(text: str) -> tuple[int | None, str | None]:
    """'record' (None) or a head count within bounds."""
    if text.strip().lower() == RECORD:
        return None, None
    try:
        number = float(text.strip())
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number != int(number) \
            or not OPERATORS_LOW <= number <= OPERATORS_HIGH:
        return None, ERROR_OPERATORS.format(value=shown(text), low=OPERATORS_LOW,
                                            high=OPERATORS_HIGH)
    return int(number), None


def parse_query(query: Mapping[str, str]) -> tuple[PlanInputs, list[str], list[str]]:
    """The plan in the URL: (inputs, warnings, errors). Bad values fall back to defaults
    and are reported as errors; unknown keys are warnings."""
    inputs, warnings, errors = DEFAULT_INPUTS, [], []
    for key in query:
        if key not in KNOWN_KEYS:
            warnings.append(WARNING_UNKNOWN.format(key=shown(key)))
    for field in INT_FIELDS:
        if field.key in query:
            value, error = parse_int(field, query[field.key])
            if error:
                errors.append(error)
            else:
                inputs = replace(inputs, **{ATTRIBUTE_OF[field.key]: value})
    if "ops" in query:
        operators, error = parse_operators(query["ops"])
        if error:
            errors.append(error)
        else:
            inputs = replace(inputs, operators=operators)
    if "pool" in query:
        if query["pool"] in POOL_CHOICES:
            inputs = replace(inputs, pool=query["pool"])
        else:
            errors.append(ERROR_CHOICE.format(key="pool", label=POOL_LABEL,
                                              value=shown(query["pool"]),
                                              choices=", ".join(POOL_CHOICES)))
    if COMPARE_KEY in query:
        inputs = replace(inputs, compare=query[COMPARE_KEY] == "1")
    return inputs, warnings, errors


def to_query(inputs: PlanInputs) -> dict[str, str]:
    """Only what differs from the defaults, so a plain link stays short."""
    query = {}
    for key, attribute in ATTRIBUTE_OF.items():
        value = getattr(inputs, attribute)
        if value != getattr(DEFAULT_INPUTS, attribute):
            query[key] = str(value)
    if inputs.operators is not None:
        query["ops"] = str(inputs.operators)
    if inputs.pool != DEFAULT_INPUTS.pool:
        query["pool"] = inputs.pool
    if inputs.compare:
        query[COMPARE_KEY] = "1"
    return query


def from_widgets(values: Mapping[str, object], compare: bool) -> PlanInputs:
    """The form's values (widget keys as URL keys; ops 0 means 'record') as inputs."""
    operators = int(values.get("ops") or 0)
    return PlanInputs(
        weeks=int(values["wk"]), pool=str(values["pool"]),
        operators=operators or None, time_limit_s=int(values["tl"]),
        extra_operators=int(values["more"]), bot_points=int(values["bot"]),
        replications=int(values["reps"]), seed=int(values["seed"]), compare=compare)


def widget_values(inputs: PlanInputs) -> dict[str, object]:
    """The inputs as the form's widgets show them (ops 0 for 'record')."""
    return {"wk": inputs.weeks, "pool": inputs.pool, "ops": inputs.operators or 0,
            "tl": inputs.time_limit_s, "more": inputs.extra_operators,
            "bot": inputs.bot_points, "reps": inputs.replications, "seed": inputs.seed}
