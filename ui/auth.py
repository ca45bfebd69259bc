"""Optional sign-in: when `[auth]` is configured in secrets, the app requires st.login (OIDC).

Without it the app is open, as in local use. `[auth]` with client_id etc. is Streamlit's
default provider; `[auth.<name>]` sections are named providers (the first one is used).
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


def auth_settings() -> Mapping | None:
    """The [auth] section of secrets, or None when sign-in is not configured."""
    try:
        section = st.secrets.get("auth")
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return None
    return section or None


def provider(settings: Mapping) -> str | None:
    """None for the default provider; else the first named [auth.<name>] section."""
    if all(key in settings for key in PROVIDER_KEYS):
        return None
    named = [name for name, value in settings.items() if isinstance(value, Mapping)]
    return named[0] if named else None


def signed_in() -> bool:
    return bool(st.user.is_logged_in)


def sign_in_page() -> None:
    st.title("ServicePulse")
    st.write("Sign in with your company account to see the dashboards.")
    settings = auth_settings() or {}
    st.button("Sign in", icon=":material/login:", type="primary", on_click=st.login,
              args=(provider(settings),))


def gate(pages: Mapping[str, list]) -> bool:
    """True when the visitor may see the app; otherwise the sign-in page has been shown.

    The app's pages are still registered (hidden), so a deep link keeps its path while the
    visitor signs in, and a fresh server's first request does not fall back to the legacy
    pages/ navigation.
    """
    if auth_settings() is None:
        return True
    if not signed_in():
        st.navigation(pages, position="hidden")
        sign_in_page()
        return False
    with st.sidebar:
        st.caption(f"Signed in as {st.user.get('name') or st.user.get('email') or 'you'}")
        st.button("Sign out", icon=":material/logout:", on_click=st.logout)
    return True
