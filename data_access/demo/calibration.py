"""The calibrated shape of the demo's contacts, surveys, operators and cases: the choices
shared/domain.md leaves open (story.py holds the published monthly figures)."""

from __future__ import annotations

import numpy as np

from data_access.demo.story import STORY_END, STORY_START

DEFAULT_SEED = 20220731
STORY_DAYS = (STORY_END - STORY_START).days
# Region weights of subscribers: Almaty and Astana are the biggest.
REGION_WEIGHTS = {
    "almaty_city": 0.145, "astana": 0.105, "shymkent": 0.060, "abai": 0.032, "akmola": 0.040,
    "aktobe": 0.045, "almaty_region": 0.062, "atyrau": 0.035, "east_kazakhstan": 0.045,
    "jambyl": 0.040, "jetisu": 0.030, "karaganda": 0.068, "kostanay": 0.045, "kyzylorda": 0.032,
    "mangystau": 0.038, "north_kazakhstan": 0.030, "pavlodar": 0.043, "turkistan": 0.055,
    "ulytau": 0.012, "west_kazakhstan": 0.038,
}
ONLINE_CHANNEL_SHARES = {  # at the start and at the end of the story
    "whatsapp": (0.30, 0.27), "telegram": (0.10, 0.13),
    "web_cabinet": (0.38, 0.30), "mobile_app": (0.22, 0.30),
}
WEEKDAY_WEIGHTS_ONLINE = (1.12, 1.06, 1.03, 1.00, 0.97, 0.85, 0.75)  # Monday first
WEEKDAY_WEIGHTS_OFFICE = (1.15, 1.10, 1.05, 1.05, 1.00, 0.55, 0.0)  # offices closed on Sunday
HOURLY_OFFICE = np.array([0] * 9 + [0.8, 1.2, 1.3, 1.1, 0.9, 1.1, 1.2, 1.1, 0.8] + [0] * 6, float)
HOURLY_OFFICE_SATURDAY = np.array([0] * 10 + [1.0, 1.2, 1.2, 1.0, 0.8] + [0] * 9, float)
HOURLY_CHAT = np.array([0.25, 0.15, 0.10, 0.08, 0.08, 0.12, 0.30, 0.60, 0.90, 1.20, 1.40, 1.40,
                        1.30, 1.30, 1.30, 1.30, 1.30, 1.30, 1.40, 1.50, 1.50, 1.30, 0.90, 0.50])
HOURLY_SELF_SERVICE = np.array([0.30, 0.20, 0.12, 0.10, 0.10, 0.15, 0.35, 0.70, 1.00, 1.10, 1.20,
                                1.20, 1.30, 1.20, 1.10, 1.10, 1.20, 1.30, 1.50, 1.70, 1.80, 1.60,
                                1.10, 0.60])
BASE_WAIT_S = {"office": 600.0, "whatsapp": 200.0, "telegram": 190.0, "web_cabinet": 300.0,
               "mobile_app": 280.0}
ZERO_WAIT_SHARE = 0.15
BOT_HANDOVER_S = (15.0, 90.0)  # escalated chats' bot time: this floor + an exponential mean
MAX_WAIT_S = 4 * 3600
HANDLE_S = {  # (mean seconds, coefficient of variation), lognormal
    ("office", "operator"): (720, 0.6), ("chat", "operator"): (540, 0.8),
    ("web", "operator"): (420, 0.8), ("chat", "bot"): (150, 0.6), ("web", "bot"): (150, 0.6),
    ("web", "self_service"): (180, 0.9),
}
SERVICE_MIX = {  # service type shares in SERVICE_TYPES order
    "office": (0.20, 0.08, 0.08, 0.14, 0.10, 0.40),
    "online_operator": (0.16, 0.04, 0.06, 0.16, 0.08, 0.50),
    "bot": (0.10, 0.0, 0.0, 0.15, 0.0, 0.75),
    "self_service": (0.30, 0.0, 0.0, 0.25, 0.0, 0.45),
}
# --- The queue (issue 16): pools, patience and the roster -----------------------------------
# The simulator's pools, patience (exponential, mean seconds), shrinkage and contacts held at
# once (sim/demand.py; tests/test_demo_load.py checks they agree).
POOL_OF = {"office": "office", "whatsapp": "digital", "telegram": "digital",
           "web_cabinet": "digital", "mobile_app": "digital"}
PATIENCE_S = {"office": 1_800.0, "whatsapp": 420.0, "telegram": 420.0, "web_cabinet": 600.0,
              "mobile_app": 600.0}
SHRINKAGE = 0.3
PLACES_PER_AGENT = {"digital": 2, "office": 1}
# Mean seconds an operator holds a contact, per channel (HANDLE_S's operator means).
OPERATOR_HANDLE_S = {"office": 720.0, "whatsapp": 540.0, "telegram": 540.0,
                     "web_cabinet": 420.0, "mobile_app": 420.0}
# Chosen: the roster keeps each hour's expected Erlang A abandonment under this (times the
# month's wait level); whole shifts cover most hours with room to spare, so a month's rate
# comes out about 3-6% on chats and 3-4% in offices in 2021, half that by July 2022. With
# exponential patience, abandonment = mean time in queue / mean patience: these also set the
# waits (chats' ASA about 10-20 s, offices' about a minute).
ABANDON_TARGET = {"digital": 0.12, "office": 0.04}
ATTENDANCE = 0.95  # share of rostered agents who turn up on a given day
DIGITAL_SHIFT_STARTS_H = (7, 9, 11, 13, 15)  # 8-hour shifts; the last ends at 23:00
DIGITAL_SHIFT_H = 8
OFFICE_HOURS = {0: (9, 18), 1: (9, 18), 2: (9, 18), 3: (9, 18), 4: (9, 18), 5: (10, 15),
                6: (0, 0)}  # Monday first, as HOURLY_OFFICE and HOURLY_OFFICE_SATURDAY
ANSWER_RATE = {"office": 0.24, "whatsapp": 0.31, "telegram": 0.29, "web_cabinet": 0.20,
               "mobile_app": 0.26}
# Score model: latent z = mu_month - WAIT_EFFECT * ln(1 + wait_min) - served_by_penalty + logistic
# noise; detractor if z < 0, promoter if z > PROMOTER_GAP. mu is solved per month for the target.
# Since waits come from the staffed queue (issue 16) most contacts are answered at once and
# about 1 in 12 waits, minutes rather than seconds; the wait effect is strong enough that those
# who waited are about a third of the detractors and long waits stay the biggest single reason.
WAIT_EFFECT = 1.8
# A detractor who waited names the wait with P = logistic(intercept + slope * ln(1 + wait_min)).
LONG_WAIT_LOGIT = (0.3, 1.1)
PROMOTER_GAP = 1.7
SERVED_BY_PENALTY = {"operator": 0.0, "bot": 0.25, "self_service": 0.05}
DETRACTOR_SCORES = (0.12, 0.04, 0.05, 0.07, 0.10, 0.22, 0.40)  # P(score = 0..6 | detractor)
DETRACTOR_REASONS = ("long_wait", "problem_not_solved", "operator_competence",
                     "operator_politeness", "price_tariff", "technical_quality", "other")
OTHER_REASON_WEIGHTS = (0.30, 0.14, 0.08, 0.18, 0.20, 0.10)
SUGGESTIONS = (
    "Please add more operators in the evening, I waited too long.",
    "The chat bot should hand over to a person sooner.",
    "Let me change the tariff in the app without visiting an office.",
    "The office queue ticket system does not show the real waiting time.",
    "Call back when the technician is on the way.",
    "Explain the bill in plain words, the charges are confusing.",
    "Open the office on Sundays.",
    "The operator was polite but could not solve my problem.",
    "Internet drops every evening, please fix the line instead of apologising.",
    "Re-registration took three visits, make it possible online.",
    "Send an SMS when my request changes status.",
    "Reduce the price of the home internet package.",
)
SUGGESTION_RATE_DETRACTOR = 0.25
SUGGESTION_RATE_OTHERS = 0.03
RATING_RESPONSE_RATE = 0.38
BACK_OFFICE_MONTH_SHARE = 0.05  # front-line operator-months spent off the rated services
FRONT_LINE_OPERATORS = 260
DIGITAL_OPERATORS = 90
SUBSCRIBERS = 900_000
COMPLAINT_CATEGORIES = ("Long waiting time", "Operator behaviour", "Billing error",
                        "Service not working after repair", "Installation delay",
                        "Wrong information given")
COMPLAINT_CATEGORY_WEIGHTS = (0.24, 0.12, 0.22, 0.18, 0.14, 0.10)
APPEAL_CATEGORIES = ("No internet connection", "Low internet speed", "TV service fault",
                     "Landline fault", "Billing question", "Equipment replacement",
                     "Line damage", "Contract documents")
APPEAL_CATEGORY_WEIGHTS = (0.24, 0.18, 0.10, 0.08, 0.14, 0.10, 0.08, 0.08)
CASE_CHANNEL_SHARES = {
    "complaint": {"office": 0.35, "whatsapp": 0.20, "telegram": 0.08, "web_cabinet": 0.20,
                  "mobile_app": 0.17},
    "appeal": {"office": 0.30, "whatsapp": 0.20, "telegram": 0.07, "web_cabinet": 0.23,
               "mobile_app": 0.20},
}
RESOLUTION_DAYS = {"complaint": (4.0, 2.5), "appeal": (5.5, 3.0), "e_otinish": (6.0, 6.0)}
WITHDRAW_SHARE = {"complaint": 0.03, "appeal": 0.04, "e_otinish": 0.08}
FIRST_NAMES = ("Aigerim", "Dana", "Aruzhan", "Madina", "Aliya", "Zhanna", "Gulnara", "Saule",
               "Askar", "Nurlan", "Yerlan", "Daniyar", "Arman", "Bauyrzhan", "Timur", "Olga",
               "Irina", "Sergey", "Dmitry", "Aizhan", "Kairat", "Marat", "Asel", "Dinara")
LAST_NAMES = ("Abenov", "Zhaksylykov", "Nurpeisov", "Seitkali", "Omarov", "Tulegenov",
              "Kassymov", "Ivanov", "Petrov", "Akhmetov", "Bekov", "Sadykov", "Mukanov",
              "Iskakov", "Zhumabayev", "Serikbayev")
