"""Deterministic demo data that tells the story of shared/domain.md.

Scenario: a national telecom operator serves subscribers in offices (offline) and through
WhatsApp, Telegram, the TELECOM.KZ web cabinet and the mobile app (online, 24/7). Every contact
gets an NPS survey; some are answered. The score falls with the wait, so the 2022 rise of NPS
comes partly from shorter waits as online channels, bots and self-service grow. Complaints and
appeals fall; e-Otinish appeals start in February 2022.

The story runs 2021-01-01..2022-07-31 and is shifted so that it ends on `end` (default today).
Units: seconds for waits and handle times, hours for case stage durations.

The bot → human path (issue 13): on WhatsApp and Telegram the bot answers a chat first and
finishes `bot_share` of all chats (8% → 14% → 30%, story.py). Of the chats it answers it
finishes `bot_containment` (57% in January 2021, 60% by December 2021, 63% by July 2022), so
for every chat it finishes (1 − c) / c ≈ 0.75 → 0.59 more are handed to a person: those are
operator-served contacts with `bot_s`, the time spent with the bot first, 15 s plus an
exponential of mean 90 s (mean 105 s). They are drawn from the operator-served chats, so the
served counts per channel do not change; their `wait_s` is the wait for the person after the
handover, and the contact (its survey, its rating) ends bot_s + wait_s + handle_s after it
started. No extra score penalty for a handover: the wait carries the score model as before.

The queue (issue 16): agents on duty per quarter hour and pool come from a roster sized by
Erlang A (`staffing`), and each operator-served contact's wait, and the contacts that gave up
(served_by = 'abandoned', in addition to the seed's served counts), are drawn from that
staffing per interval (`waits`, with the queue maths in `queueing`). Patience is exponential
per channel with the simulator's means; abandonment = mean time in queue / mean patience, so a
plausible abandonment rate (a few % on chats, less in offices) means short waits for most
contacts: about 1 in 12 waits at all. Public holidays (data_access.holidays) take a Sunday's
demand and close the offices; the month's other days take up their share.

Where things are: `story` (the published monthly figures), `calibration` (the shapes chosen
where nothing was published), `plan` (what to generate, random streams, the calendar and the
roster), `contacts` and `cases` (the generative model, month by month), `staffing`, `waits`
and `queueing` (the queue) and `loader` (into a database, one committed month at a time).
"""

from data_access.demo.calibration import DEFAULT_SEED, STORY_DAYS
from data_access.demo.cases import CASE_FLOW, build_cases
from data_access.demo.contacts import MonthBatch, build_month, solve_month_level, subscriber_keys
from data_access.demo.loader import DemoSummary, ProgressCallback, generate_demo, needs_demo
from data_access.demo.plan import (
    DemoConfig,
    DemoError,
    Plan,
    Streams,
    build_operators,
    build_plan,
)

__all__ = [
    "CASE_FLOW", "DEFAULT_SEED", "STORY_DAYS", "DemoConfig", "DemoError", "DemoSummary",
    "MonthBatch", "Plan", "ProgressCallback", "Streams", "build_cases", "build_month",
    "build_operators", "build_plan", "generate_demo", "needs_demo", "solve_month_level",
    "subscriber_keys",
]
