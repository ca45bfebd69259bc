"""One colour per channel and per NPS class, used by every chart."""

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
NPS_CLASS_COLORS: dict[str, str] = {
    "promoters": "#2E9E5B", "passives": "#F2B134", "detractors": "#D64545",
}
TARGET_COLOR = "#D64545"


def color_scale(colors: dict[str, str]) -> alt.Scale:
    return alt.Scale(domain=list(colors), range=list(colors.values()))
