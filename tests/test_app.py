"""app.py smoke tests with Streamlit's AppTest on real temp databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from data_access.engine import create_db_engine
from data_access.schema import Contact

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _run(monkeypatch, url: str, scale: str = "0.01") -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SERVICEPULSE_DEMO_SCALE", scale)
    return AppTest.from_file(APP, default_timeout=180).run()


def test_first_start_seeds_an_empty_database_and_shows_the_overview(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'first.db'}"
    at = _run(monkeypatch, url)
    assert not at.exception
    assert [m.label for m in at.metric][:2] == ["NPS", "Survey responses"]
    assert at.title[0].value == "ServicePulse overview"
    with create_db_engine(url).connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Contact)) > 1000
    # A second start finds data and does not seed again.
    again = _run(monkeypatch, url)
    assert not again.exception
    with create_db_engine(url).connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Contact)) < 40_000


def test_unreachable_database_shows_one_masked_banner(monkeypatch):
    at = _run(monkeypatch, "postgresql+psycopg://reader:s3cret@127.0.0.1:1/sp")
    assert not at.exception
    assert len(at.error) == 1
    assert "reader:***@127.0.0.1:1/sp" in at.error[0].value
    assert "s3cret" not in at.error[0].value


def test_an_interrupted_first_start_is_redone(monkeypatch, tmp_path):
    """Closing the tab mid-seed stops the script; the next start must not keep half a demo."""
    from data_access.demo import DemoConfig, generate_demo, needs_demo

    url = f"sqlite:///{tmp_path / 'half.db'}"
    engine = create_db_engine(url)

    def interrupt(fraction: float, _message: str) -> None:
        if fraction > 0.3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_demo(engine, DemoConfig.ending(scale=0.01), interrupt)
    assert needs_demo(engine)  # some months are in, but the load never finished
    at = _run(monkeypatch, url)
    assert not at.exception
    assert not needs_demo(engine)
    with engine.connect() as connection:
        contacts = connection.scalar(select(func.count()).select_from(Contact))
    fresh = create_db_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    generate_demo(fresh, DemoConfig.ending(scale=0.01))
    with fresh.connect() as connection:
        assert contacts == connection.scalar(select(func.count()).select_from(Contact))


def test_bad_setting_is_named_and_the_default_used(monkeypatch, seeded_sqlite_url):
    monkeypatch.setenv("SERVICEPULSE_NPS_TARGET", "lots")
    at = _run(monkeypatch, seeded_sqlite_url)
    assert not at.exception
    assert any("SERVICEPULSE_NPS_TARGET='lots'" in w.value for w in at.warning)
