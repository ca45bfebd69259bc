"""Optional sign-in: a configured [auth] gates every page behind st.login; else the app is open.

The visitor is simulated through `st.user` itself: AppTest's `user` dict is what the script run
reads as `st.user`, so `ui.auth.signed_in` runs for real and reads `st.user.is_logged_in`. The
dict must say `is_logged_in` explicitly: `st.user` defaults it to False only when the `[auth]`
section is in the secrets file, which `at.secrets` does not reach.
"""

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
SIGNED_OUT = {"is_logged_in": False}
SIGNED_IN = {"is_logged_in": True, "name": "Aigerim Sadykova", "email": "aigerim@example.kz"}


def run(monkeypatch, url: str, secrets: dict | None, user: dict, page: str | None = None
        ) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=120)
    at.user = dict(user)  # what the run reads as st.user
    for name, value in (secrets or {}).items():
        at.secrets[name] = value
    at.query_params.update({"from": "2022-06-01", "to": "2022-07-31"})
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def assert_sign_in_page_only(at: AppTest) -> None:
    assert [button.label for button in at.button] == ["Sign in"]
    assert at.title[0].value == "ServicePulse"
    assert [title.value for title in at.title] == ["ServicePulse"]
    assert not at.metric and not at.sidebar.multiselect and not at.dataframe


@pytest.mark.parametrize("page", [None, "pages/nps.py", "pages/simulator.py"])
def test_configured_auth_shows_only_the_sign_in_page(monkeypatch, seeded_sqlite_url, page):
    at = run(monkeypatch, seeded_sqlite_url, {"auth": DEFAULT_PROVIDER}, SIGNED_OUT, page=page)
    assert_sign_in_page_only(at)


def test_signed_in_user_sees_the_dashboards_and_a_sign_out(monkeypatch, seeded_sqlite_url):
    at = run(monkeypatch, seeded_sqlite_url, {"auth": DEFAULT_PROVIDER}, SIGNED_IN)
    assert at.title[0].value == "ServicePulse overview"
    assert at.metric
    assert "Sign in" not in [button.label for button in at.button]
    assert "Sign out" in [button.label for button in at.sidebar.button]
    assert "Signed in as Aigerim Sadykova" in [caption.value for caption in at.sidebar.caption]


@pytest.mark.parametrize("page", ["pages/nps.py", "pages/simulator.py"])
def test_signed_in_user_reaches_every_page(monkeypatch, seeded_sqlite_url, page):
    at = run(monkeypatch, seeded_sqlite_url, {"auth": DEFAULT_PROVIDER}, SIGNED_IN, page=page)
    assert at.title and at.title[0].value != "ServicePulse"
    assert "Sign in" not in [button.label for button in at.button]


def test_sign_out_returns_to_the_sign_in_page(monkeypatch, seeded_sqlite_url):
    at = run(monkeypatch, seeded_sqlite_url, {"auth": DEFAULT_PROVIDER}, SIGNED_IN)
    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.user == SIGNED_OUT  # st.logout cleared st.user
    assert_sign_in_page_only(at)


def test_without_auth_the_app_is_open(monkeypatch, seeded_sqlite_url):
    at = run(monkeypatch, seeded_sqlite_url, None, SIGNED_OUT)
    assert at.title[0].value == "ServicePulse overview"
    assert at.metric
    assert "Sign in" not in [button.label for button in at.button]
    assert "Sign out" not in [button.label for button in at.sidebar.button]


def test_provider_choice():
    assert auth.provider(DEFAULT_PROVIDER) is None
    named = {"redirect_uri": "x", "cookie_secret": "y",
             "microsoft": {"client_id": "a", "client_secret": "b", "server_metadata_url": "c"}}
    assert auth.provider(named) == "microsoft"
