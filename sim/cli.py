"""`python -m sim ...`: run, sweep, optimise and size with Erlang from the shell.

Bad input is one line on stderr naming the field and the value, with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import polars as pl

from data_access.argtypes import date_arg, int_arg, number_arg, positive_int_arg
from sim.config import Parsed, parse_scenario, scenario_to_dict
from sim.erlang import erlang_a_metrics, erlang_c_metrics
from sim.nps import WaitNpsCurve
from sim.tomlio import dumps


class CliError(Exception):
    """A user error: printed as one line, exit code 2."""


def load_scenario(path: str) -> Parsed:
    file = Path(path)
    if not file.is_file():
        raise CliError(f"--scenario: no such file {path!r}")
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise CliError(f"--scenario: {path} is not valid TOML: {error}") from None
    parsed = parse_scenario(data)
    if not parsed.ok:
        raise CliError(f"--scenario {path}: " + "; ".join(map(str, parsed.problems)))
    return parsed


def _curve(db: str | None) -> tuple[WaitNpsCurve | None, str]:
    """The wait→NPS curve from the database, or why there is none."""
    from data_access.engine import DatabaseUnavailable, connect_checked, require_schema
    from sim.learn import curve_from_database

    try:
        engine = connect_checked(db)
        require_schema(engine)
        with engine.connect() as connection:
            curve, note = curve_from_database(connection)
    except DatabaseUnavailable as error:
        return None, f"predicted NPS unavailable: {error}"
    if curve is None:
        return None, f"predicted NPS unavailable: {note}"
    return curve, f"model estimate ({note})"


def _range(text: str, field: str) -> list[float]:
    """'START:STOP:COUNT' (inclusive) or a comma list."""
    try:
        if ":" in text:
            start, stop, count = text.split(":")
            number = int(count)
            if number < 1:
                raise ValueError
            if number == 1:
                return [float(start)]
            step = (float(stop) - float(start)) / (number - 1)
            return [round(float(start) + i * step, 6) for i in range(number)]
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise CliError(f"{field}: {text!r} is not START:STOP:COUNT or a comma list") from None


def _print_table(frame: pl.DataFrame) -> None:
    with pl.Config(tbl_rows=200, tbl_cols=30, tbl_width_chars=200):
        print(frame)


def _run(args: argparse.Namespace) -> None:
    from sim.nps import predict
    from sim.runner import run

    parsed = load_scenario(args.scenario)
    scenario = parsed.scenario
    result = run(scenario, args.replications, args.seed)
    summary = result.summary().row(0, named=True)
    curve, note = _curve(args.db)
    if curve is not None:
        summary |= predict(result.records, curve)
    summary |= {"predicted_nps_note": note, "warnings": parsed.warnings,
                "replications": args.replications, "seed": args.seed,
                "scenario": scenario.name}
    if args.json:
        print(json.dumps({k: _json_value(v) for k, v in summary.items()}))
        return
    for warning in parsed.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{scenario.name}: {args.replications} replications, seed {args.seed}")
    for key, value in summary.items():
        if key.endswith(("_ci_low", "_ci_high")) or key in ("warnings",):
            continue
        low, high = summary.get(f"{key}_ci_low"), summary.get(f"{key}_ci_high")
        interval = f"  [{low:.4g}, {high:.4g}]" if isinstance(low, float) else ""
        shown = f"{value:.4g}" if isinstance(value, float) else value
        print(f"{key:>24}: {shown}{interval}")


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _sweep(args: argparse.Namespace) -> None:
    from sim.sweep import cheapest_meeting, edge_warnings, sweep

    scenario = load_scenario(args.scenario).scenario
    pools = [p.name for p in scenario.pools]
    pool = args.pool or pools[-1]
    if pool not in pools:
        raise CliError(f"--pool: {pool!r} is not one of {', '.join(pools)}")
    factors = _range(args.operators, "--operators")
    shares = _range(args.extra_bot, "--extra-bot")
    if not factors or any(not 0 <= f <= 10 for f in factors):  # NaN and inf fail too
        raise CliError(f"--operators: factors must be within 0..10, got {args.operators!r}")
    if len(factors) * len(shares) > 400:
        raise CliError(f"--operators x --extra-bot: {len(factors) * len(shares)} mixes; "
                       "the most is 400")
    if not shares or any(not 0 <= s <= 1 for s in shares):
        raise CliError(f"--extra-bot: shares must be within 0..1, got {args.extra_bot!r}")
    if args.containment is not None and not 0 <= args.containment <= 1:
        raise CliError(f"--containment: {args.containment} must be within 0..1")
    channels = [c.strip() for c in args.channels.split(",")] if args.channels else None
    known = {c.name for c in scenario.channels if c.pool == pool}
    unknown = sorted(set(channels or ()) - known)
    if unknown:
        raise CliError(f"--channels: {', '.join(unknown)} not in pool {pool!r} "
                       f"({', '.join(sorted(known))})")
    curve, _note = _curve(args.db)
    grid = sweep(scenario, pool, factors, shares, args.containment, args.replications,
                 args.seed, curve=curve, channels=channels)
    if args.csv:
        grid.write_csv(args.csv)
    if args.json:
        print(json.dumps([{k: _json_value(v) for k, v in row.items()}
                          for row in grid.iter_rows(named=True)]))
    else:
        target = scenario.pool_targets(pool)[0]
        best = cheapest_meeting(grid, target)
        print(_cheapest_line(best, target, scenario.currency))
        _print_table(grid.select("operator_factor", "extra_bot_share", "is_baseline",
                                 "operator_hours", "queue_service_level", "service_level",
                                 "asa_s", "queue_abandoned_share", "cost", "on_frontier"))
        for warning in edge_warnings(grid, best):
            print(f"warning: {warning}", file=sys.stderr)


CHEAPEST_NONE = "No mix on the grid reaches a {target:.0%} service level; widen the ranges."
CHEAPEST = ("Cheapest mix reaching {target:.0%}: operators x {factor:g} with the bot on "
            "{extra:.0%} more of the arrivals: service level {sl:.1%} [{low:.1%}, {high:.1%}], "
            "{cost:,.0f} {currency} a day.")


def _cheapest_line(best: dict | None, target: float, currency: str) -> str:
    """The sweep's answer first, then the grid."""
    if best is None:
        return CHEAPEST_NONE.format(target=target)
    return CHEAPEST.format(target=target, factor=best["operator_factor"],
                           extra=best["extra_bot_share"], sl=best["queue_service_level"],
                           low=best["queue_service_level_ci_low"],
                           high=best["queue_service_level_ci_high"], cost=best["cost"],
                           currency=currency)


def _compare(args: argparse.Namespace) -> None:
    from sim.runner import COMPARED, compare

    baseline = load_scenario(args.baseline).scenario
    if not 1 <= len(args.scenario) <= 5:
        raise CliError(f"--scenario: give 1 to 5 scenarios, got {len(args.scenario)}")
    scenarios = [load_scenario(path).scenario for path in args.scenario]
    names = [baseline.name, *[s.name for s in scenarios]]
    if len(set(names)) != len(names):
        raise CliError(f"scenario names must differ to be compared: {', '.join(names)}")
    curve, note = _curve(args.db)
    table = compare(baseline, scenarios, args.replications, args.seed, curve=curve)
    if args.json:
        print(json.dumps([{k: _json_value(v) for k, v in row.items()}
                          | {"predicted_nps_note": note} for row in table.iter_rows(named=True)]))
        return
    shown = (*COMPARED, "predicted_nps") if curve is not None else COMPARED
    for row in table.iter_rows(named=True):
        print(row["scenario"])
        for metric in shown:
            value, delta = row[metric], row[f"{metric}_delta"]
            low, high = row[f"{metric}_delta_ci_low"], row[f"{metric}_delta_ci_high"]
            change = (f"  change {delta:+.4g} [{low:+.4g}, {high:+.4g}]"
                      if row["scenario"] != baseline.name and delta is not None else "")
            print(f"  {metric:>16}: {value:.4g}{change}" if value is not None
                  else f"  {metric:>16}: -")
    print(f"{args.replications} replications, seed {args.seed}: every scenario simulates the "
          "same days, so each change's 95% CI comes from paired days.")
    print(f"predicted NPS: {note}")


def _optimize(args: argparse.Namespace) -> None:
    from sim.optimize import optimize

    scenario = load_scenario(args.scenario).scenario
    plan = optimize(scenario, args.replications, args.seed)
    if args.output:
        Path(args.output).write_text(dumps(scenario_to_dict(plan.scenario)), encoding="utf-8")
    if args.json:
        print(json.dumps({"met": plan.met, "rounds": plan.rounds, "cost": plan.cost,
                          "plan": plan.table.to_dicts()}))
        return
    _print_table(plan.table)
    print(f"targets met in simulation: {plan.met} after {plan.rounds} round(s); "
          f"operator cost {plan.cost:,.0f} {scenario.currency}")


def _erlang(args: argparse.Namespace) -> None:
    if args.patience_s is None:
        metrics = erlang_c_metrics(args.arrivals_per_hour, args.aht_s, args.agents,
                                   args.sl_target_s)
        model = "erlang_c"
    else:
        metrics = erlang_a_metrics(args.arrivals_per_hour, args.aht_s, args.agents,
                                   args.patience_s, args.sl_target_s)
        model = "erlang_a"
    values = {"model": model, **{k: _json_value(v) for k, v in asdict(metrics).items()}}
    if args.json:
        print(json.dumps(values))
        return
    for key, value in values.items():
        print(f"{key:>16}: {value:.6g}" if isinstance(value, float) else f"{key:>16}: {value}")


def _default_scenario(args: argparse.Namespace) -> None:
    from data_access.engine import connect_checked, require_schema
    from sim.learn import baseline_from_database

    engine = connect_checked(args.db)
    require_schema(engine)
    with engine.connect() as connection:
        scenario, note = baseline_from_database(connection, args.weekday, args.weeks,
                                                args.interval, args.end)
    if scenario is None:
        raise CliError(note)
    print(note, file=sys.stderr)
    text = dumps(scenario_to_dict(scenario))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        print(text)


BACKTEST_HEADER = "{verdict}"
BACKTEST_LINES = (
    ("mae_sl_points", "daily service level, mean absolute error (points)"),
    ("mae_asa_s", "daily ASA, mean absolute error (s)"),
    ("mae_abandonment_points", "daily abandonment, mean absolute error (points)"),
    ("interval_mae_sl_points", "hourly service level, mean absolute error (points)"),
    ("interval_mae_asa_s", "hourly ASA, mean absolute error (s)"),
    ("interval_mae_abandonment_points", "hourly abandonment, mean absolute error (points)"),
    ("inside_sl", "days whose recorded SL lies in the simulation's 95% interval"),
    ("inside_asa", "days whose recorded ASA lies in the simulation's 95% interval"),
    ("inside_abandonment", "days whose recorded abandonment lies in the 95% interval"),
    ("bias_sl", "daily service level, recorded − simulated, mean (points)"),
    ("bias_asa_s", "daily ASA, recorded − simulated, mean (s)"),
    ("bias_abandonment", "daily abandonment, recorded − simulated, mean (points)"),
    ("worst_z", "largest systematic error, in standard errors (bar: 3)"),
)


def _backtest(args: argparse.Namespace) -> None:
    from data_access.engine import connect_checked, require_schema
    from sim.learn import backtest_from_database

    if args.date_to < args.date_from:
        raise CliError(f"--to {args.date_to} is before --from {args.date_from}")
    if (args.date_to - args.date_from).days >= 366:
        raise CliError(f"--from {args.date_from} --to {args.date_to}: at most 366 days")
    engine = connect_checked(args.db)
    require_schema(engine)
    with engine.connect() as connection:
        result = backtest_from_database(connection, args.date_from, args.date_to,
                                        args.replications, args.seed)
    summary = result.summary
    if args.json:
        days = [{k: _json_value(v) if not hasattr(v, "isoformat") else v.isoformat()
                 for k, v in row.items()} for row in result.days.iter_rows(named=True)]
        print(json.dumps({"summary": {k: _json_value(v) for k, v in summary.items()},
                          "days": days}))
        return
    print(BACKTEST_HEADER.format(verdict=summary["verdict"]))
    if not summary.get("days"):
        return
    for key, label in BACKTEST_LINES:
        value = summary.get(key)
        shown = "-" if value is None else (f"{value:.0%}" if key.startswith("inside")
                                          else f"{value:.2f}")
        print(f"{label:>66}: {shown}")
    print(f"{args.replications} replications a day, seed {args.seed}")
    _print_table(result.days.select(
        "day", "pool", "recorded_queued", "recorded_sl", "sim_sl", "sim_sl_low", "sim_sl_high",
        "recorded_asa_s", "sim_asa_s", "recorded_abandonment", "sim_abandonment"))


def _forecast(args: argparse.Namespace) -> None:
    from sim.forecast_cli import forecast_command

    forecast_command(args)


def _replications_and_seed(command: argparse.ArgumentParser, replications: int) -> None:
    command.add_argument("--replications", type=positive_int_arg("--replications", 1000),
                         default=replications)
    command.add_argument("--seed", type=int_arg("--seed", 0), default=0)


ROSTER_HELP = "shift roster from the forecast's required agents (CP-SAT)"
ROSTER_DESCRIPTION = (
    "Shift roster from the forecast's required agents with OR-Tools CP-SAT on 2 workers: the "
    "best plan within --time-limit, with its optimality gap. Without --operators, a plausible "
    "named roster is generated from --seed (sim.roster_config.generate_operators): --generate "
    "operators, 65% digital, 25% office, 10% both, 40 h a week (a fifth 30 h), 11-12 h rest, "
    "2 days off, 2,200-3,100 KZT an hour.")


def _roster(args: argparse.Namespace) -> None:
    """Roster the forecast's requirement: the answer line first, then shifts or JSON."""
    from sim.roster import solve_roster
    from sim.roster_config import (
        RosterSettings,
        build_problem,
        generate_operators,
        read_operators_csv,
        read_requirement_csv,
    )

    dates, required = read_requirement_csv(args.forecast)
    operators = (read_operators_csv(args.operators) if args.operators
                 else generate_operators(args.generate, args.seed))
    settings = RosterSettings(time_limit_s=args.time_limit, start_step_minutes=args.start_step,
                              seed=args.seed)
    plan = solve_roster(build_problem(dates, required, operators, settings))
    if args.coverage:
        plan.coverage.write_csv(args.coverage)
    if args.json:
        print(json.dumps({"answer": plan.answer(),
                          "summary": {k: _json_value(v) for k, v in plan.summary.items()},
                          "shifts": plan.shifts.with_columns(pl.col(pl.Datetime, pl.Date)
                                                             .cast(pl.String)).to_dicts(),
                          "coverage": plan.coverage.with_columns(pl.col("date")
                                                                 .cast(pl.String)).to_dicts()}))
        return
    if args.csv:
        print(plan.shifts.write_csv(), end="")
        return
    print(plan.answer())
    _print_table(plan.shifts.select("date", "operator_id", "name", "pool", "start", "end",
                                    "break_start", "paid_h", "cost"))


def _add_roster_parser(commands) -> None:
    roster = commands.add_parser("roster", help=ROSTER_HELP, description=ROSTER_DESCRIPTION)
    roster.add_argument("--forecast", required=True,
                        help="CSV of date, quarter (0..95), pool (digital|office), "
                             "required_agents (scheduled, after shrinkage)")
    roster.add_argument("--operators", help="CSV of operator_id, name, skills "
                        "(digital|office|digital+office), max_hours_week, min_rest_h, "
                        "days_off_week, cost_per_hour (default: a generated roster)")
    roster.add_argument("--generate", type=positive_int_arg("--generate", 2_000), default=200,
                        help="how many operators to generate without --operators (200)")
    roster.add_argument("--seed", type=int_arg("--seed", 0), default=0)
    roster.add_argument("--time-limit", type=number_arg("--time-limit", low=0, high=3_600,
                                                        low_open=True), default=60.0,
                        help="solver time limit in seconds; the best plan so far is kept (60)")
    roster.add_argument("--start-step", type=int, choices=(15, 30, 60), default=60,
                        help="minutes between candidate shift starts (60)")
    roster.add_argument("--coverage", help="also write coverage per quarter hour to this CSV")
    output = roster.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true")
    output.add_argument("--csv", action="store_true", help="shifts per person and day as CSV")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sim",
                                     description="ServicePulse staffing and automation simulator.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="simulate a scenario day with replications")
    run.add_argument("--scenario", required=True, help="scenario TOML (see sim/examples/)")
    _replications_and_seed(run, 20)
    run.add_argument("--json", action="store_true")
    run.add_argument("--db", help="database URL for the wait→NPS curve (default: configured)")

    sweep = commands.add_parser("sweep", help="grid of operators x extra bot share")
    sweep.add_argument("--scenario", required=True)
    sweep.add_argument("--pool", help="pool whose operators are scaled (default: the last)")
    sweep.add_argument("--operators", default="0.6:1.4:11",
                       help="operator factors, START:STOP:COUNT or a list (default 0.6:1.4:11)")
    sweep.add_argument("--extra-bot", default="0:0.5:11",
                       help="extra share of arrivals the bot answers first, on top of the "
                            "scenario's own bot; START:STOP:COUNT or a list (default "
                            "0:0.5:11). Self-service is left as it is.")
    sweep.add_argument("--channels", help="comma list of channels that get the extra bot share "
                                            "(default: the pool's channels that have a bot)")
    sweep.add_argument("--containment", type=number_arg("--containment"),
                       help="containment of the extra bot share (default: each channel's own)")
    _replications_and_seed(sweep, 5)
    sweep.add_argument("--csv", help="also write the grid to this CSV file")
    sweep.add_argument("--json", action="store_true")
    sweep.add_argument("--db")

    comp = commands.add_parser("compare", help="a baseline against up to 5 scenarios")
    comp.add_argument("--baseline", required=True, help="baseline scenario TOML")
    comp.add_argument("--scenario", action="append", required=True,
                      help="a scenario TOML to compare (repeat up to 5 times)")
    _replications_and_seed(comp, 20)
    comp.add_argument("--json", action="store_true")
    comp.add_argument("--db", help="database URL for the wait→NPS curve (default: configured)")

    opt = commands.add_parser("optimize", help="minimum operators per interval for the targets")
    opt.add_argument("--scenario", required=True)
    _replications_and_seed(opt, 10)
    opt.add_argument("--output", help="write the optimised scenario to this TOML file")
    opt.add_argument("--json", action="store_true")

    erlang = commands.add_parser("erlang", help="Erlang C, or Erlang A with --patience-s")
    erlang.add_argument("--arrivals-per-hour", required=True,
                        type=number_arg("--arrivals-per-hour", low=0, high=1e7))
    erlang.add_argument("--aht-s", required=True,
                        type=number_arg("--aht-s", low=0, high=86_400, low_open=True))
    erlang.add_argument("--agents", type=positive_int_arg("--agents", 100_000), required=True)
    erlang.add_argument("--patience-s", type=number_arg("--patience-s", low=0, high=1e9,
                                                        low_open=True))
    erlang.add_argument("--sl-target-s", type=number_arg("--sl-target-s", low=0, high=86_400),
                        default=20.0)
    erlang.add_argument("--json", action="store_true")

    default = commands.add_parser("default-scenario",
                                  help="write the baseline day learned from the database")
    default.add_argument("--weekday", type=int, choices=range(7), default=0,
                         help="0 = Monday … 6 = Sunday (default 0)")
    default.add_argument("--weeks", type=positive_int_arg("--weeks"), default=8)
    default.add_argument("--interval", type=int, choices=(15, 30, 60), default=60)
    default.add_argument("--end", type=date_arg("--end"),
                         help="last day of the weeks to learn from (default: newest contact)")
    default.add_argument("--output", help="TOML file to write (default: stdout)")
    default.add_argument("--db")

    from sim.forecast_cli import add_forecast_parser

    add_forecast_parser(commands)

    back = commands.add_parser("backtest", help="simulate recorded days and compare with the "
                                                "record (SL, ASA, abandonment)")
    back.add_argument("--from", dest="date_from", type=date_arg("--from"), required=True)
    back.add_argument("--to", dest="date_to", type=date_arg("--to"), required=True)
    _replications_and_seed(back, 10)
    back.add_argument("--json", action="store_true")
    back.add_argument("--db")
    _add_roster_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from data_access.engine import DatabaseUnavailable

    args = _parser().parse_args(argv)
    handlers = {"run": _run, "sweep": _sweep, "compare": _compare, "optimize": _optimize,
                "erlang": _erlang,
                "default-scenario": _default_scenario, "forecast": _forecast, "backtest": _backtest,
                "roster": _roster}
    try:
        handlers[args.command](args)
    except (CliError, DatabaseUnavailable, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
