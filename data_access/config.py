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

_PASSWORD_IN_URL = re.compile(r"(?P<head>://[^:/@\s]*:)(?P<password>[^@\s]*)(?P<tail>@)")


def default_sqlite_url(path: Path = DEFAULT_SQLITE_PATH) -> str:
    return f"sqlite:///{path}"


def _url_from_secrets(secrets_path: Path) -> str | None:
    if not secrets_path.is_file():
        return None
    with secrets_path.open("rb") as handle:
        secrets = tomllib.load(handle)
    url = secrets.get("database", {}).get("url")
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
        return _PASSWORD_IN_URL.sub(r"\g<head>***\g<tail>", url)
    return parsed.render_as_string(hide_password=True)


def local_now() -> dt.datetime:
    """Naive local time, comparable with the stored timestamps."""
    return dt.datetime.now(LOCAL_TZ).replace(tzinfo=None)


def local_today() -> dt.date:
    return local_now().date()
