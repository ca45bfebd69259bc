"""Optional sign-in: a configured [auth] gates every page behind st.login; else the app is open."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui import auth

APP = str(Path(__file__).resolve().parent.parent / "app.py")
DEFAULT_PROVIDER = {"redirect_uri": "http://localhost:8501/oauth2callback",
                    "cookie_secret": "not-a-real-secret", "client_id": "servicepulse",
                    "client_secret": "not-a-real-secret",
                    "server_metadata_url": "https://sso.example.kz/.well-known/openid-configuration"}


def run(monkeypatch, url: str, secrets: dict | None, signed_in: bool, page: str | None = None
        ) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setattr(auth, "signed_in", lambda: signed_in)
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in (secrets or {}).items():
        at.secrets[name] = value
    at.query_params.update({"from": "2022-06-01", "to": "2022-07-31"})
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("page", [None, "pages/nps.py", "pages/simulator.py"])
def test_configured_auth_shows_only_the_sign_in_page(monkeypatch, seeded_sqlite_url, page):
    at = run(monkeypatch, seeded_sqlite_url, {"auth": DEFAULT_PROVIDER}, signed_in=False,
             page=page)
    assert [button.label for button in at.button] == ["Sign in"]
    assert at.title[0].value == "ServicePulse"
    assert not at.metric and not at.sidebar.multiselect


def test_signed_in_user_sees_the_dashboards_and_a_sign_out(monkeypatch, seeded_sqlite_url):
    at = run(monkeypatch, seeded_sqlite_url, {"auth": DEFAULT_PROVIDER}, signed_in=True)
    assert at.title[0].value == "ServicePulse overview"
    assert at.metric
    assert "Sign out" in [button.label for button in at.sidebar.button]


def test_without_auth_the_app_is_open(monkeypatch, seeded_sqlite_url):
    at = run(monkeypatch, seeded_sqlite_url, None, signed_in=False)
    assert at.title[0].value == "ServicePulse overview"
    assert "Sign in" not in [button.label for button in at.button]


def test_provider_choice():
    assert auth.provider(DEFAULT_PROVIDER) is None
    named = {"redirect_uri": "x", "cookie_secret": "y",
             "microsoft": {"client_id": "a", "client_secret": "b", "server_metadata_url": "c"}}
    assert auth.provider(named) == "microsoft"
