"""Optional sign-in: a configured [auth] gates every page behind st.login; else the app is open.

The visitor is simulated through `st.user` itself: AppTest's `user` dict is what the script run
reads as `st.user`, so `ui.auth.signed_in` runs for real and reads `st.user.is_logged_in`. The
dict must say `is_logged_in` explicitly: `st.user` defaults it to False only when the `[auth]`
section is in the secrets file, which `at.secrets` does not reach.
"""

from __future__ import annotations

import secrets
import textwrap
from pathlib import Path

import pytest
import streamlit as st
from streamlit import config
from streamlit.testing.v1 import AppTest

from ui import auth

APP = str(Path(__file__).resolve().parent.parent / "app.py")
COOKIE_SECRET = "Zq3" * 16  # 48 bytes, no placeholder word
CLIENT_SECRET = "provider-client-secret-VALUE"
DEFAULT_PROVIDER = {"redirect_uri": "http://localhost:8501/oauth2callback",
                    "cookie_secret": COOKIE_SECRET, "client_id": "servicepulse",
                    "client_secret": CLIENT_SECRET,
                    "server_metadata_url": "https://sso.example.kz/.well-known/openid-configuration"}
REQUIRE_AUTH = "SERVICEPULSE_REQUIRE_AUTH"
SIGNED_OUT = {"is_logged_in": False}
SIGNED_IN = {"is_logged_in": True, "name": "Aigerim Sadykova", "email": "aigerim@example.kz"}


@pytest.fixture(autouse=True)
def own_secrets_files(tmp_path, monkeypatch):
    """Streamlit reads secrets from `secrets.files`; point it at this test's own files.

    A developer's ~/.streamlit/secrets.toml must not change the results, and secrets parsed
    from a file by one test (Streamlit caches them in its singleton) must not leak into the
    next.
    """
    monkeypatch.delenv(REQUIRE_AUTH, raising=False)
    before = config.get_option("secrets.files")
    config.set_option("secrets.files", [str(tmp_path / "none" / "secrets.toml")])
    st.secrets._reset()
    yield
    st.secrets._reset()
    config.set_option("secrets.files", before)


def secrets_file(tmp_path: Path, text: str) -> Path:
    """Make `text` the only secrets file, found the way Streamlit finds it."""
    path = tmp_path / ".streamlit" / "secrets.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    config.set_option("secrets.files", [str(path)])
    st.secrets._reset()
    return path


def auth_toml(**changes: str | None) -> str:
    """The [auth] section as TOML; a change of None drops the key."""
    settings = {**DEFAULT_PROVIDER, **changes}
    return "[auth]\n" + "".join(f'{key} = "{value}"\n' for key, value in settings.items()
                                 if value is not None)


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
    assert "Signed in as ` 'Aigerim Sadykova' `" in [c.value for c in at.sidebar.caption]


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


# --- Sign-in never fails open ---------------------------------------------------------------

SECRET_VALUES = (COOKIE_SECRET, CLIENT_SECRET)
BROKEN_DATABASE = '\n[database]\nurl = postgresql://reader:hunter2@db/servicepulse\n'


def assert_stopped(at: AppTest, *named: str) -> str:
    """One banner that names `named`, shows no secret value, and nothing else of the app."""
    assert len(at.error) == 1, [e.value for e in at.error]
    banner = at.error[0].value
    for name in named:
        assert name in banner, banner
    for value in (*SECRET_VALUES, "hunter2"):
        assert value not in banner
    assert not at.title and not at.metric and not at.dataframe and not at.button
    assert not at.sidebar.children, "the sidebar (filters, navigation) must stay empty"
    return banner


@pytest.mark.parametrize("page", [None, "pages/nps.py"])
def test_broken_secrets_file_with_auth_stops_the_app(monkeypatch, seeded_sqlite_url, tmp_path,
                                                       page):
    path = secrets_file(tmp_path, auth_toml() + BROKEN_DATABASE)
    # What made it fail open: Streamlit drops every secret, [auth] included.
    assert not st.secrets.load_if_toml_exists()
    at = run(monkeypatch, seeded_sqlite_url, None, SIGNED_OUT, page=page)
    banner = assert_stopped(at, str(path), "line 9", "[auth]")
    assert "not valid TOML" in banner
    path.write_text(path.read_text().replace(BROKEN_DATABASE, "\n[database]\nurl = 'x'\n"))
    at.run()  # fixed on disk: the next run asks for sign-in
    assert_sign_in_page_only(at)


def test_broken_secrets_file_without_auth_stops_the_app(monkeypatch, seeded_sqlite_url,
                                                          tmp_path):
    """A file that cannot be parsed may have held [auth]: it never opens the app."""
    path = secrets_file(tmp_path, BROKEN_DATABASE)
    at = run(monkeypatch, seeded_sqlite_url, None, SIGNED_OUT)
    assert_stopped(at, str(path), "line 3")


def test_unparseable_auth_header_is_found_in_the_text(tmp_path):
    path = secrets_file(tmp_path, auth_toml().replace("[auth]", "[auth.microsoft") + "x = 1\n")
    found = auth.inspect_secrets_file(str(path))
    assert found.error and "line 1" in found.error and found.mentions_auth
    assert not auth.inspect_secrets_file(str(tmp_path / "absent.toml")).found


@pytest.mark.parametrize("text", ["auth = {cookie_secret = 'x'}\n", "[ auth ]\n",
                                  'auth.redirect_uri = "x"\n', "[[auth]]\n"])
def test_every_way_toml_spells_an_auth_section_is_noticed(text):
    assert auth.AUTH_IN_TOML.search(text)


def test_directory_secrets_are_read_like_streamlit(tmp_path):
    (tmp_path / "auth").mkdir()
    assert auth.inspect_secrets_file(str(tmp_path)).mentions_auth
    (tmp_path / "stray.txt").write_text("x")
    assert "not a folder" in auth.inspect_secrets_file(str(tmp_path)).error
    assert "neither" in auth.inspect_secrets_file(str(tmp_path / "nowhere")).error


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes"])
def test_require_auth_without_auth_section_stops(monkeypatch, seeded_sqlite_url, value):
    monkeypatch.setenv(REQUIRE_AUTH, value)
    at = run(monkeypatch, seeded_sqlite_url, None, SIGNED_OUT)
    assert_stopped(at, REQUIRE_AUTH, "no `[auth]` section")


def test_require_auth_with_an_unreadable_value_stays_closed(monkeypatch, seeded_sqlite_url):
    monkeypatch.setenv(REQUIRE_AUTH, "please")
    at = run(monkeypatch, seeded_sqlite_url, None, SIGNED_OUT)
    assert_stopped(at, f"{REQUIRE_AUTH}=please")


@pytest.mark.parametrize("value", ["0", "false", ""])
def test_require_auth_off_leaves_the_app_open(monkeypatch, seeded_sqlite_url, value):
    monkeypatch.setenv(REQUIRE_AUTH, value)
    at = run(monkeypatch, seeded_sqlite_url, None, SIGNED_OUT)
    assert at.title[0].value == "ServicePulse overview"


def test_require_auth_with_auth_shows_the_sign_in_page(monkeypatch, seeded_sqlite_url):
    monkeypatch.setenv(REQUIRE_AUTH, "1")
    at = run(monkeypatch, seeded_sqlite_url, {"auth": DEFAULT_PROVIDER}, SIGNED_OUT)
    assert_sign_in_page_only(at)


def test_auth_from_a_secrets_file_shows_the_sign_in_page(monkeypatch, seeded_sqlite_url,
                                                          tmp_path):
    secrets_file(tmp_path, auth_toml())
    at = run(monkeypatch, seeded_sqlite_url, None, SIGNED_OUT)
    assert_sign_in_page_only(at)


def test_an_empty_auth_section_stops_the_app(monkeypatch, seeded_sqlite_url, tmp_path):
    secrets_file(tmp_path, "[auth]\n")
    at = run(monkeypatch, seeded_sqlite_url, None, SIGNED_OUT)
    assert_stopped(at, "`[auth] redirect_uri`", "`[auth] cookie_secret`", "`[auth] client_id`")


@pytest.mark.parametrize("cookie_secret", [
    "a long random string",  # the README's old example
    "change-me-to-something-long-and-unguessable-0123456789",
    "an-example-cookie-secret-that-is-long-enough-to-pass",
    "secret", "…", "short-but-real-Zq3",
])
def test_a_placeholder_or_short_cookie_secret_stops_the_app(monkeypatch, seeded_sqlite_url,
                                                            tmp_path, cookie_secret):
    secrets_file(tmp_path, auth_toml(cookie_secret=cookie_secret))
    at = run(monkeypatch, seeded_sqlite_url, None, SIGNED_OUT)
    banner = assert_stopped(at, "`[auth] cookie_secret`", "secrets.token_urlsafe(48)")
    if len(cookie_secret) > 8:  # "secret" itself is a word of the message
        assert cookie_secret not in banner


@pytest.mark.parametrize("key", ["redirect_uri", "cookie_secret", "client_id", "client_secret",
                                 "server_metadata_url"])
def test_a_missing_key_stops_the_app_naming_it(monkeypatch, seeded_sqlite_url, tmp_path, key):
    secrets_file(tmp_path, auth_toml(**{key: None}))
    at = run(monkeypatch, seeded_sqlite_url, None, SIGNED_OUT)
    assert_stopped(at, f"`[auth] {key}` is missing")


def test_a_named_provider_missing_a_key_is_named(monkeypatch, seeded_sqlite_url):
    settings = {"redirect_uri": DEFAULT_PROVIDER["redirect_uri"], "cookie_secret": COOKIE_SECRET,
                "microsoft": {"client_id": "a", "server_metadata_url": "https://sso/x"}}
    at = run(monkeypatch, seeded_sqlite_url, {"auth": settings}, SIGNED_OUT)
    assert_stopped(at, "`[auth.microsoft] client_secret` is missing")


def test_a_generated_cookie_secret_passes():
    generated = secrets.token_urlsafe(48)
    assert auth.settings_problems({**DEFAULT_PROVIDER, "cookie_secret": generated}) == []
    assert auth.GENERATE_SECRET == 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


def test_a_redirect_uri_that_streamlit_would_refuse_is_named():
    problems = auth.settings_problems({**DEFAULT_PROVIDER, "redirect_uri": "http://x/login"})
    assert problems == [problems[0]] and "`[auth] redirect_uri`" in problems[0]


def test_st_login_dependencies_are_required_and_installed():
    """st.login runs Authlib's Starlette client, which imports httpx: without it, HTTP 500."""
    requirements = (Path(APP).parent / "requirements.txt").read_text().lower().split()
    assert any(line.startswith("httpx==") for line in requirements)
    assert any(line.startswith("authlib==") for line in requirements)
    from authlib.integrations import starlette_client  # noqa: F401  (imports httpx)
