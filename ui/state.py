"""Transitional re-export, for pages/overview.py and pages/channels.py only.

ui/state.py was split into ui/settings.py (settings from the environment), ui/database.py
(engine, first-start seeding, banners) and ui/cache.py (cached queries, `live`). Those two
pages were being edited elsewhere when the split landed, so they still read `state.X`: replace
`state.` there by `cache.` or `settings.` and delete this module. Nothing else imports it.
"""

from ui.cache import abandonment_by_channel_hour as abandonment_by_channel_hour
from ui.cache import case_trend_with_yoy as case_trend_with_yoy
from ui.cache import cases_by_period as cases_by_period
from ui.cache import contacts_by_hour_weekday as contacts_by_hour_weekday
from ui.cache import contacts_by_period as contacts_by_period
from ui.cache import kpis as kpis
from ui.cache import live as live
from ui.cache import median_wait_s as median_wait_s
from ui.cache import nps_by_period as nps_by_period
from ui.cache import occupancy_by_pool_hour as occupancy_by_pool_hour
from ui.cache import queue_by_channel as queue_by_channel
from ui.cache import wait_by_channel as wait_by_channel
from ui.settings import abandonment_target as abandonment_target
from ui.settings import appeals_backlog_limit as appeals_backlog_limit
from ui.settings import nps_target as nps_target
