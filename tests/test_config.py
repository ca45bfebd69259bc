"""Where the database URL comes from, and the one-line errors when it is wrong."""

from __future__ import annotations

import pytest

from data_access.config import default_sqlite_url, mask_url, resolve_database_url
from data_access.engine import DatabaseUnavailable, connect_checked, create_db_engine


def test_env_wins_over_secrets(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[database]\nurl = "sqlite:////tmp/from-secrets.db"\n')
    assert resolve_database_url({"DATABASE_URL": "sqlite:////tmp/env.db"}, secrets) == \
        "sqlite:////tmp/env.db"
    assert resolve_database_url({}, secrets) == "sqlite:////tmp/from-secrets.db"


def test_embedded_sqlite_is_the_fallback(tmp_path):
    url = resolve_database_url({}, tmp_path / "missing.toml")
    assert url == default_sqlite_url()
    assert url.endswith("/data/servicepulse.db")


def test_password_is_masked():
    assert mask_url("postgresql+psycopg://reader:s3cret@db:5432/sp") == \
        "postgresql+psycopg://reader:***@db:5432/sp"
    # Even a URL that does not parse loses its password.
    assert "s3cret" not in mask_url("postgresql+psycopg://reader:s3cret@db:notaport/sp")


def test_bad_url_gives_one_clear_line():
    with pytest.raises(DatabaseUnavailable) as caught:
        create_db_engine("nosuchdb://reader:s3cret@host/db")
    message = str(caught.value)
    assert "\n" not in message
    assert "s3cret" not in message and "***" in message
    assert message.startswith("Invalid database URL nosuchdb://reader:***@host/db")


def test_unreachable_server_gives_one_clear_line():
    with pytest.raises(DatabaseUnavailable) as caught:
        connect_checked("postgresql+psycopg://reader:s3cret@127.0.0.1:1/servicepulse")
    message = str(caught.value)
    assert "\n" not in message
    assert "s3cret" not in message
    assert "Cannot reach database postgresql+psycopg://reader:***@127.0.0.1:1/servicepulse" in \
        message


def test_password_in_query_and_unescaped_at_are_masked():
    assert mask_url("postgresql+psycopg://app@db/x?password=s3cret") == \
        "postgresql+psycopg://app@db/x?password=***"
    with pytest.raises(DatabaseUnavailable) as caught:
        connect_checked("postgresql+psycopg://app:se@cret@127.0.0.1:1/x")
    assert "cret" not in str(caught.value)


def test_malformed_secrets_give_one_line(tmp_path):
    from data_access.config import ConfigError

    broken = tmp_path / "secrets.toml"
    broken.write_text('[database\nurl = "x"\n')
    with pytest.raises(ConfigError, match="cannot be read"):
        resolve_database_url({}, broken)
    broken.write_text('database = "sqlite:///x.db"\n')
    with pytest.raises(ConfigError, match=r"\[database\] must be a table"):
        resolve_database_url({}, broken)


def test_unwritable_sqlite_path_is_one_line():
    with pytest.raises(DatabaseUnavailable, match="Cannot open database sqlite:////proc/nope"):
        create_db_engine("sqlite:////proc/nope/x.db")


def test_users_never_see_error_details_or_developer_menus():
    """Tracebacks stay in the server log; the toolbar has no Deploy or developer items."""
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parent.parent / ".streamlit"
                            / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["toolbarMode"] == "viewer"
    assert config["browser"]["gatherUsageStats"] is False
