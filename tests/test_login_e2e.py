"""End to end: the real st.login redirect in Chromium, against an OIDC provider run by the test.

The app runs as `streamlit run app.py` with a secrets file of its own, found the way Streamlit
finds secrets (`STREAMLIT_SECRETS_FILES`, the `secrets.files` option). The provider
(tests/oidc_provider.py) is a local HTTP server; the browser goes app → /auth/login →
provider /authorize → /oauth2callback (where Streamlit's Authlib client calls /token over
httpx and checks the RS256 id_token against /jwks) → back to the app, signed in.

A second server gets a secrets file with a valid [auth] but a TOML error elsewhere: Streamlit
then ignores every secret, and the app must stop instead of opening.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.oidc_provider import OidcProvider
from tests.test_e2e import RENDER_TIMEOUT_MS, AppServer, chromium_launched, playwright_api

pytestmark = pytest.mark.browser

CLIENT_ID, CLIENT_SECRET = "servicepulse", secrets.token_urlsafe(24)
USER_NAME = "Aigerim Sadykova"
VIEW_WITH_DATA = "?from=2022-06-01&to=2022-07-31"  # inside the seeded story


def auth_toml(server: AppServer, provider: OidcProvider, cookie_secret: str) -> str:
    return (f'[auth]\nredirect_uri = "{server.base_url}/oauth2callback"\n'
            f'cookie_secret = "{cookie_secret}"\nclient_id = "{CLIENT_ID}"\n'
            f'client_secret = "{CLIENT_SECRET}"\n'
            f'server_metadata_url = "{provider.metadata_url}"\n')


@contextmanager
def app_with_secrets(database_url: str, secrets_path: Path, server: AppServer
                     ) -> Iterator[AppServer]:
    with pytest.MonkeyPatch.context() as patch:  # AppServer passes os.environ on
        patch.setenv("STREAMLIT_SECRETS_FILES", str(secrets_path))
        patch.delenv("SERVICEPULSE_REQUIRE_AUTH", raising=False)
        try:
            server.start()
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def signed_in_setup(seeded_sqlite_url, tmp_path_factory
                    ) -> Iterator[tuple[AppServer, OidcProvider]]:
    server = AppServer(seeded_sqlite_url)  # its port is chosen here: the redirect_uri needs it
    with OidcProvider(CLIENT_ID, CLIENT_SECRET, f"{server.base_url}/oauth2callback") as provider:
        path = tmp_path_factory.mktemp("signin") / "secrets.toml"
        path.write_text(auth_toml(server, provider, secrets.token_urlsafe(36)), encoding="utf-8")
        with app_with_secrets(seeded_sqlite_url, path, server):
            yield server, provider


@pytest.fixture
def chromium_browser(chromium):
    with chromium_launched(chromium) as launched:
        yield launched


def explain(page, server: AppServer, provider: OidcProvider | None = None) -> str:
    return (f"\n--- url ---\n{page.url}\n--- page text ---\n{page.inner_text('body')[:2000]}"
            + (f"\n--- provider requests ---\n{provider.requests}" if provider else "")
            + f"\n--- server stderr ---\n{server.stderr()}")


def settled(page) -> None:
    playwright_api.expect(page.get_by_test_id("stStatusWidget")).to_have_count(
        0, timeout=RENDER_TIMEOUT_MS)


def assert_sign_in_only(page) -> None:
    expect = playwright_api.expect
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="ServicePulse", exact=True)).to_be_visible()
    settled(page)
    assert page.get_by_test_id("stMetric").count() == 0
    assert page.get_by_test_id("stSidebarNav").count() == 0
    assert page.get_by_test_id("stDataFrame").count() == 0
    assert page.get_by_role("button", name="Sign in").count() == 1
    assert page.get_by_role("button", name="Sign out").count() == 0
    assert page.get_by_text("Signed in as").count() == 0


def test_sign_in_through_a_real_oidc_redirect(signed_in_setup, chromium_browser):
    server, provider = signed_in_setup
    expect = playwright_api.expect
    context = chromium_browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{server.base_url}/nps{VIEW_WITH_DATA}")  # a deep link, signed out
        try:
            assert_sign_in_only(page)
        except AssertionError as error:
            raise AssertionError(f"{error}{explain(page, server, provider)}") from error
        assert "/authorize" not in provider.requests

        # st.login sends the browser to /auth/login, which redirects to the provider; without
        # httpx (Authlib's Starlette client needs it) it answered HTTP 500 here.
        with page.expect_response(lambda reply: "/auth/login" in reply.url,
                                  timeout=RENDER_TIMEOUT_MS) as login:
            page.get_by_role("button", name="Sign in").click()
        assert login.value.status == 302, (f"/auth/login answered HTTP {login.value.status}"
                                           f"{explain(page, server, provider)}")
        assert login.value.headers["location"].startswith(f"{provider.issuer}/authorize?")
        try:
            expect(page.get_by_role("heading", name="ServicePulse overview", exact=True)
                   ).to_be_visible(timeout=RENDER_TIMEOUT_MS)
            sidebar = page.get_by_test_id("stSidebar")
            expect(sidebar.get_by_text(f"Signed in as '{USER_NAME}'")).to_be_visible(
                timeout=RENDER_TIMEOUT_MS)
            expect(sidebar.get_by_role("button", name="Sign out")).to_be_visible()
            expect(page.get_by_test_id("stSidebarNav")).to_be_visible()
        except AssertionError as error:
            raise AssertionError(f"{error}{explain(page, server, provider)}") from error
        # The browser really went through the provider, and the app fetched a token there.
        assert provider.requests.count("/authorize") == 1, provider.requests
        assert provider.requests.count("/token") == 1, provider.requests
        assert page.url.startswith(server.base_url)

        # Signed in, the figures are there (the seeded story ends 2022-07-31).
        page.goto(f"{server.base_url}/{VIEW_WITH_DATA}")
        nps = page.get_by_test_id("stMetric").filter(
            has=page.get_by_test_id("stMetricLabel").get_by_text("NPS", exact=True)).first
        expect(nps).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        value = nps.get_by_test_id("stMetricValue").inner_text()
        assert any(character.isdigit() for character in value), value
        expect(page.get_by_test_id("stSidebar").get_by_text(f"Signed in as '{USER_NAME}'")
               ).to_be_visible(timeout=RENDER_TIMEOUT_MS)

        # Another browser has no cookie: it still sees only the Sign in button.
        stranger = chromium_browser.new_context().new_page()
        stranger.goto(f"{server.base_url}/{VIEW_WITH_DATA}")
        assert_sign_in_only(stranger)
        stranger.context.close()

        page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
        assert_sign_in_only(page)
    finally:
        context.close()


def test_broken_secrets_file_stops_the_app_in_the_browser(seeded_sqlite_url, tmp_path,
                                                          chromium_browser):
    """A valid [auth] plus an unquoted URL elsewhere: Streamlit drops all secrets."""
    server = AppServer(seeded_sqlite_url)
    path = tmp_path / "secrets.toml"
    cookie_secret = secrets.token_urlsafe(36)
    path.write_text(
        f'[auth]\nredirect_uri = "{server.base_url}/oauth2callback"\n'
        f'cookie_secret = "{cookie_secret}"\nclient_id = "{CLIENT_ID}"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        'server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"\n'
        "\n[database]\nurl = postgresql://x\n", encoding="utf-8")
    with app_with_secrets(seeded_sqlite_url, path, server):
        context = chromium_browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            for route in (f"/nps{VIEW_WITH_DATA}", f"/{VIEW_WITH_DATA}"):  # first: a deep link
                page = context.new_page()
                page.goto(f"{server.base_url}{route}")
                alert = page.get_by_test_id("stAlertContentError")
                try:
                    playwright_api.expect(alert).to_be_visible(timeout=RENDER_TIMEOUT_MS)
                    settled(page)
                except AssertionError as error:
                    raise AssertionError(f"{error}{explain(page, server)}") from error
                banner = alert.inner_text()
                assert str(path) in banner and "line 9" in banner, banner
                assert cookie_secret not in banner and CLIENT_SECRET not in banner
                body = page.inner_text("body")
                assert cookie_secret not in body and CLIENT_SECRET not in body
                assert page.get_by_test_id("stAlertContentError").count() == 1
                assert page.get_by_test_id("stMetric").count() == 0
                assert page.get_by_test_id("stSidebarNav").count() == 0
                assert page.get_by_role("button", name="Sign in").count() == 0
                assert page.get_by_test_id("stHeading").count() == 0
            # Fixed on disk, the next page load asks for sign-in: no restart needed.
            path.write_text(path.read_text().replace("postgresql://x", '"postgresql://x"'),
                            encoding="utf-8")
            page.reload()
            assert_sign_in_only(page)
        finally:
            context.close()
