"""Where the database lives: env var, then Streamlit secrets, then an embedded SQLite file.

Kept free of streamlit so the CLI, notebooks and tests resolve the same URL the app does.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "data" / "servicepulse.db"
SECRETS_PATH = PROJECT_ROOT / ".streamlit" / "secrets.toml"

# All timestamps are the operator's local time; "today" must be Almaty's today, not the server's.
LOCAL_TZ = ZoneInfo("Asia/Almaty")

# Greedy up to the last "@" so that an unescaped "@" inside a password is masked too.
_PASSWORD_IN_URL = re.compile(r"(?P<head>://[^:/@\s]*:)(?P<password>[^/\s]*)(?P<tail>@)")
_PASSWORD_IN_URL_RAW = re.compile(r"://[^:/@\s]*:([^/\s]*)@")
# `password=…` wherever a connection is written as key=value: a libpq string
# ("host=db password=S3cret"), a URL query (?password=…), an environment line (PGPASSWORD=…).
_PASSWORD_PAIR = re.compile(
    r"(?i)(?P<key>\b(?:pg)?(?:ssl)?(?:password|passwd|pwd)\s*=\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&;,]*)")


def default_sqlite_url(path: Path = DEFAULT_SQLITE_PATH) -> str:
    return f"sqlite:///{path}"


class ConfigError(RuntimeError):
    """A configuration file that cannot be used, said in one line."""


def _url_from_secrets(secrets_path: Path) -> str | None:
    if not secrets_path.is_file():
        return None
    try:
        secrets = tomllib.loads(secrets_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as error:
        raise ConfigError(f"{secrets_path} cannot be read: {error}") from None
    database = secrets.get("database", {})
    if not isinstance(database, dict):
        raise ConfigError(f"{secrets_path}: [database] must be a table with url = \"...\"")
    url = database.get("url")
    return str(url) if url else None


def resolve_database_url(
    env: Mapping[str, str] | None = None, secrets_path: Path = SECRETS_PATH
) -> str:
    """`DATABASE_URL`, else `[database] url` in secrets.toml, else the embedded SQLite file."""
    env = os.environ if env is None else env
    return (
        env.get("DATABASE_URL", "").strip()
        or _url_from_secrets(secrets_path)
        or default_sqlite_url()
    )


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, even when the URL does not parse."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return mask_secrets(url)
    if "password" in parsed.query:
        parsed = parsed.update_query_dict({"password": "***"})
    return mask_secrets(parsed.render_as_string(hide_password=True))


def mask_secrets(text: str) -> str:
    """Any text with every password in it replaced by ***: URL user info (even unparseable),
    `password=` pairs in query strings, libpq key=value strings and PGPASSWORD-like lines.

    The one masking function: the app's banners, every CLI command and the logs use it
    (through `mask_url` and `scrub`)."""
    text = _PASSWORD_PAIR.sub(r"\g<key>***", text)
    return _PASSWORD_IN_URL.sub(r"\g<head>***\g<tail>", text)


def scrub(message: str, url: str) -> str:
    """Remove a URL's password from any message (drivers sometimes echo parts of it)."""
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        password = None
    pairs = [match.group("value").strip("'\"") for match in _PASSWORD_PAIR.finditer(url)]
    secrets = {password or "", *_PASSWORD_IN_URL_RAW.findall(url), *pairs}
    # An unescaped "@" splits a password between user info and host: scrub the pieces too.
    # A quoted key=value password may hold spaces: a driver may echo one word of it.
    secrets |= {piece for secret in list(secrets) for piece in re.split(r"[@\s]", secret)}
    for secret in sorted((s for s in secrets if len(s) >= 3), key=len, reverse=True):
        message = message.replace(secret, "***")
    return mask_secrets(message)


def local_now() -> dt.datetime:
    """Naive local time, comparable with the stored timestamps."""
    return dt.datetime.now(LOCAL_TZ).replace(tzinfo=None)


def local_today() -> dt.date:
    return local_now().date()


# Targets for answering a case, in days from receipt, per deadline kind. They are settings (an
# organisation's own service targets), not a law written into the code: set them to yours.
# "e_otinish" is an appeal received through the e-Otinish portal; "appeal" every other appeal;
# "complaint" every complaint, whatever its channel.
DEADLINE_KINDS: tuple[str, ...] = ("complaint", "appeal", "e_otinish")
DEADLINE_SETTINGS: dict[str, tuple[str, float]] = {
    "complaint": ("SERVICEPULSE_DEADLINE_DAYS_COMPLAINT", 15.0),
    "appeal": ("SERVICEPULSE_DEADLINE_DAYS_APPEAL", 15.0),
    "e_otinish": ("SERVICEPULSE_DEADLINE_DAYS_E_OTINISH", 15.0),
}
DEADLINE_DAYS_RANGE = (0.5, 3650.0)

# Queue targets (settings, like the NPS target). Abandonment: the share of queued contacts (answered
# or abandoned) that may give up; above it the Overview raises an alert. Service level X/Y per
# channel: X of the queued contacts answered in under Y seconds; Y is one of the wait buckets'
# edges (rollups.WAIT_EDGES_S) so the recorded share is exact. The defaults are the simulator's.
ABANDONMENT_TARGET_SETTING = ("SERVICEPULSE_ABANDONMENT_TARGET", 0.05)
ABANDONMENT_TARGET_RANGE = (0.0, 1.0)
SERVICE_LEVEL_TARGETS: dict[str, tuple[float, int]] = {
    "office": (0.8, 300), "whatsapp": (0.8, 60), "telegram": (0.8, 60),
    "web_cabinet": (0.8, 120), "mobile_app": (0.8, 120),
}
