"""The calibrated story of 2021-01 .. 2022-07 (see shared/domain.md), month by month.

Every figure the demo must reproduce is pinned here, in one place, with the unpublished choices
written next to them. `MONTHS[i]` is story month i (0 = January 2021, 18 = July 2022); dates
outside the story reuse the nearest month's levels.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

STORY_START = dt.date(2021, 1, 1)
STORY_END = dt.date(2022, 7, 31)
E_OTINISH_START = dt.date(2022, 2, 1)

# Published: 2022 H1 and July absolute counts (the interview's "66%" does not reconcile with them).
ONLINE_H1_2022 = 506_000
OFFLINE_H1_2022 = 303_500
ONLINE_JUL_2022 = 73_200
OFFLINE_JUL_2022 = 39_400
ONLINE_SHARE_2021 = 0.58
# Chosen: about 1.58M contacts in 2021, so 19 months total about 2.5M (the operator's real volume).
CONTACTS_2021 = 1_580_000
SEASONALITY_2021 = (0.93, 0.92, 1.00, 1.00, 0.98, 0.96, 0.97, 1.02, 1.07, 1.06, 1.04, 1.05)
SEASONALITY_H1_2022 = (0.97, 0.95, 1.02, 1.01, 1.03, 1.02)

# Chosen rates for 2021: complaints 3 per 1,000 contacts, appeals 30 per 1,000.
COMPLAINTS_PER_CONTACT_2021 = 0.003
APPEALS_PER_CONTACT_2021 = 0.030
# Published: Jan-Jun 2022 vs Jan-Jun 2021 = -26% complaints, -68% appeals.
COMPLAINTS_H1_RATIO = 0.74
APPEALS_H1_RATIO = 0.32
COMPLAINT_PATH_2022 = (0.82, 0.78, 0.75, 0.72, 0.70, 0.67, 0.66)  # vs same month of 2021
APPEAL_PATH_2022 = (0.45, 0.37, 0.32, 0.28, 0.26, 0.24, 0.24)

# Published: 137 e-Otinish appeals Feb-Jul 2022; the monthly split is chosen (adoption ramp).
E_OTINISH_BY_MONTH = {13: 8, 14: 15, 15: 22, 16: 26, 17: 30, 18: 36}
E_OTINISH_STEADY_PER_MONTH = 36

# Published: NPS 38 in January 2022, 55 in July 2022; 2021 around 33-38.
NPS_TARGETS = (
    35.0, 34.0, 35.5, 36.5, 35.0, 34.0, 33.5, 35.0, 36.5, 37.0, 36.0, 37.0,  # 2021
    38.0, 40.0, 43.0, 42.0, 47.0, 51.0, 55.0,  # 2022 Jan-Jul
)
# Chosen: waits shrink from February 2022 as online channels and bots absorb demand.
WAIT_LEVEL = (
    1.00, 1.02, 1.05, 0.98, 1.00, 1.04, 1.06, 1.00, 1.08, 1.05, 1.00, 1.03,
    1.00, 0.95, 0.86, 0.82, 0.72, 0.64, 0.58,
)


@dataclass(frozen=True)
class StoryMonth:
    index: int
    year: int
    month: int
    online: float
    offline: float
    complaints: float
    appeals: float
    e_otinish: int
    nps_target: float
    wait_level: float
    bot_share: float  # share of WhatsApp/Telegram chats the bot finishes
    # Of the chats the bot answers first, the share it finishes; the rest go to a person.
    bot_containment: float
    self_service_share: float  # share of web cabinet / app contacts finished without an operator
    progress: float  # 0 at the start of the story, 1 at its end


def _ramp(index: int, start: float, mid: float, end: float) -> float:
    """Linear from start to mid over 2021, then mid to end over 2022."""
    if index <= 11:
        return start + (mid - start) * index / 11
    return mid + (end - mid) * (index - 12) / 6


def _build_months() -> tuple[StoryMonth, ...]:
    totals_2021 = [CONTACTS_2021 * s / sum(SEASONALITY_2021) for s in SEASONALITY_2021]
    shares = [0.555 + 0.05 * i / 11 for i in range(12)]
    shift = ONLINE_SHARE_2021 - sum(t * s for t, s in zip(totals_2021, shares, strict=True)) / sum(
        totals_2021
    )
    online_2021 = [t * (s + shift) for t, s in zip(totals_2021, shares, strict=True)]
    offline_2021 = [t - o for t, o in zip(totals_2021, online_2021, strict=True)]

    shares_2022 = [0.605 + 0.04 * i / 5 for i in range(6)]
    raw_online = [s * share for s, share in zip(SEASONALITY_H1_2022, shares_2022, strict=True)]
    raw_offline = [s * (1 - share) for s, share in zip(SEASONALITY_H1_2022, shares_2022,
                                                        strict=True)]
    online_2022 = [ONLINE_H1_2022 * r / sum(raw_online) for r in raw_online] + [ONLINE_JUL_2022]
    offline_2022 = [OFFLINE_H1_2022 * r / sum(raw_offline) for r in raw_offline] + [
        OFFLINE_JUL_2022
    ]

    complaints_2021 = [COMPLAINTS_PER_CONTACT_2021 * t for t in totals_2021]
    appeals_2021 = [APPEALS_PER_CONTACT_2021 * t for t in totals_2021]
    complaints_2022 = _path_with_h1_ratio(complaints_2021, COMPLAINT_PATH_2022, COMPLAINTS_H1_RATIO)
    appeals_2022 = _path_with_h1_ratio(appeals_2021, APPEAL_PATH_2022, APPEALS_H1_RATIO)

    online = online_2021 + online_2022
    offline = offline_2021 + offline_2022
    complaints = complaints_2021 + complaints_2022
    appeals = appeals_2021 + appeals_2022
    months = []
    for index in range(19):
        year, month = 2021 + index // 12, index % 12 + 1
        months.append(
            StoryMonth(
                index=index,
                year=year,
                month=month,
                online=online[index],
                offline=offline[index],
                complaints=complaints[index],
                appeals=appeals[index],
                e_otinish=E_OTINISH_BY_MONTH.get(index, 0),
                nps_target=NPS_TARGETS[index],
                wait_level=WAIT_LEVEL[index],
                bot_share=_ramp(index, 0.08, 0.14, 0.30),
                bot_containment=_ramp(index, 0.57, 0.60, 0.63),
                self_service_share=_ramp(index, 0.60, 0.66, 0.74),
                progress=index / 18,
            )
        )
    return tuple(months)


def _path_with_h1_ratio(
    base_2021: list[float], path: tuple[float, ...], h1_ratio: float
) -> list[float]:
    """Scale a monthly path so that Jan-Jun 2022 / Jan-Jun 2021 equals the published ratio."""
    raw = [base_2021[i] * path[i] for i in range(7)]
    factor = h1_ratio * sum(base_2021[:6]) / sum(raw[:6])
    return [r * factor for r in raw]


MONTHS: tuple[StoryMonth, ...] = _build_months()


def story_month_index(story_date: dt.date) -> int:
    """Index into MONTHS, clamped: before the story repeats its first year, after it holds July."""
    index = (story_date.year - STORY_START.year) * 12 + story_date.month - 1
    if index < 0:
        return index % 12
    return min(index, len(MONTHS) - 1)


def e_otinish_in_month(story_date: dt.date) -> int:
    if story_date < E_OTINISH_START:
        return 0
    index = (story_date.year - STORY_START.year) * 12 + story_date.month - 1
    return E_OTINISH_BY_MONTH.get(index, E_OTINISH_STEADY_PER_MONTH)
