"""Complaints and appeals received in a month, with their stage history up to the cutoff."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from data_access.dates import month_end
from data_access.demo.calibration import (
    APPEAL_CATEGORIES,
    APPEAL_CATEGORY_WEIGHTS,
    CASE_CHANNEL_SHARES,
    COMPLAINT_CATEGORIES,
    COMPLAINT_CATEGORY_WEIGHTS,
    HOURLY_CHAT,
    HOURLY_OFFICE,
    REGION_WEIGHTS,
    RESOLUTION_DAYS,
    WITHDRAW_SHARE,
)
from data_access.demo.contacts import (
    as_datetime_us,
    draw_hours,
)
from data_access.demo.plan import (
    DemoConfig,
    Plan,
    Streams,
    lognormal,
)
from data_access.demo.story import (
    MONTHS,
)
from data_access.reference import CHANNEL_BY_CODE, REGIONS

CASE_FLOW = ("received", "assigned", "under_review", "answer_prepared", "answered")


def build_cases(config: DemoConfig, plan: Plan, month_start: dt.date, first_case_id: int,
                streams: Streams) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Complaints and appeals received this month, with their stage history up to the cutoff."""
    last_day = month_end(month_start)
    in_month = (plan.days >= np.datetime64(month_start)) & (plan.days <= np.datetime64(last_day))
    rng = streams.rng("cases", month_start.year * 12 + month_start.month)
    cutoff = np.datetime64(config.effective_cutoff(), "s")
    days = plan.days[in_month]
    month_index = plan.month_index[in_month]

    kinds, channels, day_index = [], [], []
    for kind, counts in (("complaint", plan.complaints[in_month]),
                         ("appeal", plan.appeals[in_month])):
        index = np.repeat(np.arange(days.size), counts)
        if kind == "appeal":
            # e-Otinish appeals come on top of the planned appeals; their own total is exact.
            e_index = np.repeat(np.arange(days.size), plan.e_otinish[in_month])
            index = np.concatenate([index, e_index])
        shares = CASE_CHANNEL_SHARES[kind]
        codes = rng.choice(list(shares), size=index.size - (
            plan.e_otinish[in_month].sum() if kind == "appeal" else 0),
            p=np.asarray(list(shares.values())) / sum(shares.values()))
        if kind == "appeal":
            codes = np.concatenate([codes, np.full(plan.e_otinish[in_month].sum(), "e_otinish")])
        kinds.append(np.full(index.size, kind, dtype=object))
        channels.append(codes.astype(object))
        day_index.append(index)
    kind = np.concatenate(kinds)
    channel_code = np.concatenate(channels)
    day_index = np.concatenate(day_index)
    size = kind.size
    if size == 0:
        return _empty_cases(), _empty_events()

    office = channel_code == "office"
    hours = np.where(office, draw_hours(rng, HOURLY_OFFICE, size),
                     draw_hours(rng, HOURLY_CHAT, size))
    received = days[day_index].astype("datetime64[s]") + (
        hours * 3600 + rng.integers(0, 3600, size)).astype("timedelta64[s]")
    keep = received < cutoff
    kind, channel_code, day_index, received = (kind[keep], channel_code[keep], day_index[keep],
                                               received[keep])
    size = kind.size
    order = np.argsort(received, kind="stable")
    kind, channel_code, day_index, received = (kind[order], channel_code[order],
                                               day_index[order], received[order])
    case_ids = np.arange(first_case_id, first_case_id + size, dtype=np.int64)
    flavour = np.where(channel_code == "e_otinish", "e_otinish", kind)
    progress = np.array([MONTHS[i].progress for i in month_index[day_index]])
    resolution_days = np.zeros(size)
    withdraw_share = np.zeros(size)
    for name, (begin, end) in RESOLUTION_DAYS.items():
        mask = flavour == name
        resolution_days[mask] = begin + (end - begin) * progress[mask]
        withdraw_share[mask] = WITHDRAW_SHARE[name]

    step_hours = np.stack([
        np.zeros(size),
        rng.exponential(3.0, size),
        rng.exponential(10.0, size),
        lognormal(rng, resolution_days * 24 * 0.8, 0.9, size),
        rng.exponential(4.0, size),
    ], axis=1)
    stage_times = received[:, None] + (np.cumsum(step_hours, axis=1) * 3600).astype(
        "timedelta64[s]")
    withdrawn = rng.random(size) < withdraw_share
    withdraw_after = rng.integers(1, 4, size)  # withdrawn after received/assigned/under review
    withdraw_time = stage_times[np.arange(size), withdraw_after - 1] + (
        rng.exponential(6.0, size) * 3600).astype("timedelta64[s]")

    events_case, events_stage, events_at = [], [], []
    status = np.full(size, "received", dtype=object)
    resolved = np.full(size, np.datetime64("NaT"), dtype="datetime64[s]")
    for step, stage in enumerate(CASE_FLOW):
        reached = stage_times[:, step] < cutoff
        reached &= ~withdrawn | (step < withdraw_after)
        events_case.append(case_ids[reached])
        events_stage.append(np.full(int(reached.sum()), stage, dtype=object))
        events_at.append(stage_times[reached, step])
        status[reached] = stage
        if stage == "answered":
            resolved[reached] = stage_times[reached, step]
    withdrawn_now = withdrawn & (withdraw_time < cutoff)
    events_case.append(case_ids[withdrawn_now])
    events_stage.append(np.full(int(withdrawn_now.sum()), "withdrawn", dtype=object))
    events_at.append(withdraw_time[withdrawn_now])
    status[withdrawn_now] = "withdrawn"
    resolved[withdrawn_now] = withdraw_time[withdrawn_now]

    categories = np.where(
        kind == "complaint",
        rng.choice(COMPLAINT_CATEGORIES, size=size,
                   p=np.asarray(COMPLAINT_CATEGORY_WEIGHTS) / sum(COMPLAINT_CATEGORY_WEIGHTS)),
        rng.choice(APPEAL_CATEGORIES, size=size,
                   p=np.asarray(APPEAL_CATEGORY_WEIGHTS) / sum(APPEAL_CATEGORY_WEIGHTS)),
    )
    region_p = np.array([REGION_WEIGHTS[r.code] for r in REGIONS])
    prefix = np.where(channel_code == "e_otinish", "EOT",
                      np.where(kind == "complaint", "CMP", "APL"))
    cases = pl.DataFrame({
        "id": case_ids,
        "external_id": [f"{p}{i:09d}" for p, i in zip(prefix, case_ids, strict=True)],
        "kind": pl.Series(kind, dtype=pl.String),
        "channel_id": np.array([CHANNEL_BY_CODE[c].id for c in channel_code], dtype=np.int64),
        "category": pl.Series(categories, dtype=pl.String),
        "region_id": rng.choice(np.array([r.id for r in REGIONS]), size=size,
                                p=region_p / region_p.sum()),
        "received_at": as_datetime_us(received),
        "status": pl.Series(status, dtype=pl.String),
        "resolved_at": as_datetime_us(resolved),
    })
    events = pl.DataFrame({
        "case_id": np.concatenate(events_case),
        "stage": pl.Series(np.concatenate(events_stage), dtype=pl.String),
        "at": as_datetime_us(np.concatenate(events_at)),
    }).sort("case_id", "at")
    return cases, events


def _empty_cases() -> pl.DataFrame:
    return pl.DataFrame(schema={"id": pl.Int64})


def _empty_events() -> pl.DataFrame:
    return pl.DataFrame(schema={"case_id": pl.Int64})
