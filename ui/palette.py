"""One colour per channel, pool and series, used by every chart."""

from __future__ import annotations

import altair as alt

CHANNEL_COLORS: dict[str, str] = {
    "office": "#6B7A8F",
    "whatsapp": "#25A244",
    "telegram": "#2AA1DA",
    "web_cabinet": "#0B5FA5",
    "mobile_app": "#8E44AD",
    "e_otinish": "#D35400",
}
ONLINE_COLORS: dict[str, str] = {"online": "#0B5FA5", "offline": "#6B7A8F"}
TARGET_COLOR = "#D64545"
# Dashboards: NPS score classes, case kinds and stages, who served a contact, rating scores.
NPS_CLASS_COLORS: dict[str, str] = {"promoters": "#2F9E44", "passives": "#FAB005",
                                    "detractors": "#E03131"}
CASE_KIND_COLORS: dict[str, str] = {"complaint": "#C92A2A", "appeal": "#1971C2"}
STAGE_COLORS: dict[str, str] = {
    "received": "#A5D8FF", "assigned": "#74C0FC", "under_review": "#4DABF7",
    "answer_prepared": "#228BE6", "answered": "#1864AB", "withdrawn": "#ADB5BD",
}
SERVED_BY_COLORS: dict[str, str] = {"operator": "#495057", "bot": "#12B886",
                                    "self_service": "#82C91E"}
RATING_COLORS: dict[str, str] = {"1": "#E03131", "2": "#F76707", "3": "#FAB005",
                                 "4": "#74B816", "5": "#2F9E44"}
# Staffing simulator: operator pools (offices keep the office channel's colour), the series
# being compared, and the sweep's frontier marks.
POOL_COLORS: dict[str, str] = {"office": CHANNEL_COLORS["office"], "digital": "#3B5BDB"}
SERIES_COLORS: dict[str, str] = {"baseline": "#9AA5B1", "scenario": "#1B2A41"}
FRONTIER_COLOR = "#E8590C"
DOMINATED_COLOR = "#C3CAD3"
HIGHLIGHT_COLOR = "#111111"
NEUTRAL_COLOR = "#888888"  # a pool without its own colour
TEXT_COLOR = "#1B2430"  # labels drawn on charts, as the theme's text
# Sweep heatmaps: metric -> (title, number format, colour scheme, higher is worse).
SWEEP_HEATMAPS: dict[str, tuple[str, str, str, bool]] = {
    "queue_service_level": ("Service level", ".0%", "redyellowgreen", False),
    "asa_s": ("ASA (s)", ".0f", "redyellowgreen", True),
    "cost": ("Cost per day", ".3~s", "blues", False),
}


def color_scale(colors: dict[str, str]) -> alt.Scale:
    return alt.Scale(domain=list(colors), range=list(colors.values()))
