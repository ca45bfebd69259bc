"""Reference data every database starts with: channels, regions and service types.

Ids are fixed so that demo data, imports and links agree across databases.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from data_access.schema import Channel, Region, ServiceType


@dataclass(frozen=True)
class ChannelRef:
    id: int
    code: str
    name: str
    is_online: bool
    is_24x7: bool
    takes_contacts: bool
    takes_cases: bool


@dataclass(frozen=True)
class RegionRef:
    id: int
    code: str
    name: str
    kind: str


@dataclass(frozen=True)
class ServiceTypeRef:
    id: int
    code: str
    name: str
    triggers_agent_rating: bool


CHANNELS: tuple[ChannelRef, ...] = (
    ChannelRef(1, "office", "Service office", False, False, True, True),
    ChannelRef(2, "whatsapp", "WhatsApp", True, True, True, True),
    ChannelRef(3, "telegram", "Telegram", True, True, True, True),
    ChannelRef(4, "web_cabinet", "Web cabinet TELECOM.KZ", True, True, True, True),
    ChannelRef(5, "mobile_app", "Mobile app", True, True, True, True),
    ChannelRef(6, "e_otinish", "e-Otinish", True, True, False, True),
)

REGIONS: tuple[RegionRef, ...] = (
    RegionRef(1, "almaty_city", "Almaty", "city"),
    RegionRef(2, "astana", "Astana", "city"),
    RegionRef(3, "shymkent", "Shymkent", "city"),
    RegionRef(4, "abai", "Abai Region", "region"),
    RegionRef(5, "akmola", "Akmola Region", "region"),
    RegionRef(6, "aktobe", "Aktobe Region", "region"),
    RegionRef(7, "almaty_region", "Almaty Region", "region"),
    RegionRef(8, "atyrau", "Atyrau Region", "region"),
    RegionRef(9, "east_kazakhstan", "East Kazakhstan Region", "region"),
    RegionRef(10, "jambyl", "Jambyl Region", "region"),
    RegionRef(11, "jetisu", "Jetisu Region", "region"),
    RegionRef(12, "karaganda", "Karaganda Region", "region"),
    RegionRef(13, "kostanay", "Kostanay Region", "region"),
    RegionRef(14, "kyzylorda", "Kyzylorda Region", "region"),
    RegionRef(15, "mangystau", "Mangystau Region", "region"),
    RegionRef(16, "north_kazakhstan", "North Kazakhstan Region", "region"),
    RegionRef(17, "pavlodar", "Pavlodar Region", "region"),
    RegionRef(18, "turkistan", "Turkistan Region", "region"),
    RegionRef(19, "ulytau", "Ulytau Region", "region"),
    RegionRef(20, "west_kazakhstan", "West Kazakhstan Region", "region"),
)

SERVICE_TYPES: tuple[ServiceTypeRef, ...] = (
    ServiceTypeRef(1, "connection", "Connection of a service", True),
    ServiceTypeRef(2, "re_registration", "Re-registration to another person", True),
    ServiceTypeRef(3, "transfer", "Transfer to another address", True),
    ServiceTypeRef(4, "tariff_change", "Tariff plan change", False),
    ServiceTypeRef(5, "disconnection", "Disconnection", True),
    ServiceTypeRef(6, "consultation", "Consultation", False),
)

CHANNEL_BY_CODE = {channel.code: channel for channel in CHANNELS}
REGION_BY_CODE = {region.code: region for region in REGIONS}
SERVICE_TYPE_BY_CODE = {service.code: service for service in SERVICE_TYPES}


def seed_reference(connection: Connection) -> None:
    """Insert the reference rows that are missing; safe to call on every start."""
    for model, rows in (
        (Channel, CHANNELS),
        (Region, REGIONS),
        (ServiceType, SERVICE_TYPES),
    ):
        present = set(connection.scalars(select(model.id)))
        missing = [row.__dict__ for row in rows if row.id not in present]
        if missing:
            connection.execute(insert(model), missing)
