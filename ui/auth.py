"""Optional sign-in: when `[auth]` is configured in secrets, the app requires st.login (OIDC).

Without it the app is open, as in local use. `[auth]` with client_id etc. is Streamlit's
default provider; `[auth.<name>]` sections are named providers (the first one is used).

Sign-in never fails open. Streamlit treats every secret as absent when any secrets file cannot
be parsed, `[auth]` included, so a typo elsewhere in the file would silently open the app to
anyone. Before anything is shown, `configuration_problems` reads the secrets files Streamlit
reads (the `secrets.files` option) itself; a broken file, an `[auth]` section with a missing
key or a placeholder `cookie_secret`, or `SERVICEPULSE_REQUIRE_AUTH` without `[auth]` stops the
app with one banner that names the file or the setting (never a secret's value).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit import config
from streamlit.errors import StreamlitSecretNotFoundError

from ui.view_state import message_text

PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
REQUIRED_KEYS = ("redirect_uri", "cookie_secret")
REQUIRE_AUTH_ENV = "SERVICEPULSE_REQUIRE_AUTH"
# The identity provider's name for the user is outside text: shown escaped, never as Markdown.
SIGNED_IN_AS = "Signed in as {name}"
SIGNED_IN = "Signed in"
TRUE_VALUES, FALSE_VALUES = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")
MIN_COOKIE_SECRET_BYTES = 32
GENERATE_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
# Words that only a copied example holds (the README's old example was "a long random string").
PLACEHOLDER_WORDS = ("change", "example", "random string", "…", "...")
PLACEHOLDER_VALUES = ("secret", "cookie_secret", "password")
# An [auth] / [auth.<name>] header, an `auth = {...}` inline table or `auth.key = ...` dotted
# keys: found in the text, so even a file that cannot be parsed says it configures sign-in.
AUTH_IN_TOML = re.compile(r"""^\s*(\[+\s*["']?auth["']?\s*[\].]|["']?auth["']?\s*[.=])""",
                          re.MULTILINE)


@dataclass(frozen=True)
class SecretsFile:
    """One entry of Streamlit's `secrets.files`, as Streamlit would read it."""

    path: str
    found: bool  # the file (or directory) exists
    error: str | None  # why Streamlit cannot load it (then it ignores every secret)
    mentions_auth: bool  # an [auth] section is in it, parseable or not


def secrets_paths() -> list[str]:
    """Where Streamlit looks for secrets, in its order (`secrets.files`)."""
    return [str(path) for path in config.get_option("secrets.files")]


def inspect_secrets_file(path: str) -> SecretsFile:
    """Read `path` the way streamlit.runtime.secrets does, keeping what goes wrong."""
    if path.endswith(".toml"):
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            return SecretsFile(path, found=False, error=None, mentions_auth=False)
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
            return SecretsFile(path, found=True, error=f"cannot be read ({reason})",
                               mentions_auth=False)
        mentions_auth = AUTH_IN_TOML.search(text) is not None
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            # tomllib's message names the position ("... (at line 4, column 7)"), not values.
            return SecretsFile(path, found=True, error=f"is not valid TOML: {error}",
                               mentions_auth=mentions_auth)
        return SecretsFile(path, found=True, error=None, mentions_auth=mentions_auth)
    directory = Path(path)
    if not directory.is_dir():
        return SecretsFile(path, found=False, mentions_auth=False,
                           error="is neither a .toml file nor a directory")
    entries = sorted(directory.iterdir())
    strays = [entry.name for entry in entries if not entry.is_dir()]
    if strays:
        return SecretsFile(path, found=True, mentions_auth=False,
                           error=f"holds {strays[0]!r}, which is not a folder (Kubernetes-style "
                                 "secrets need one folder per secret)")
    return SecretsFile(path, found=True, error=None,
                       mentions_auth=any(entry.name == "auth" for entry in entries))


def require_auth_setting() -> tuple[bool, str | None]:
    """(`SERVICEPULSE_REQUIRE_AUTH` is on, a problem with its value)."""
    raw = os.environ.get(REQUIRE_AUTH_ENV, "")
    value = raw.strip().lower()
    if value in TRUE_VALUES:
        return True, None
    if value in FALSE_VALUES:
        return False, None
    # A security switch with a value nobody can read is taken as on, never as off.
    return True, (f"`{REQUIRE_AUTH_ENV}={raw}` is not one of {', '.join(TRUE_VALUES)} (on) or "
                  f"{', '.join(v for v in FALSE_VALUES if v)} (off).")


def auth_settings() -> Mapping | None:
    """The [auth] section of secrets, or None when sign-in is not configured."""
    try:
        section = st.secrets.get("auth")
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return None
    return section


def provider(settings: Mapping) -> str | None:
    """None for the default provider; else the first named [auth.<name>] section."""
    if all(key in settings for key in PROVIDER_KEYS):
        return None
    named = [name for name, value in settings.items() if isinstance(value, Mapping)]
    return named[0] if named else None


def placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return lowered in PLACEHOLDER_VALUES or any(word in lowered for word in PLACEHOLDER_WORDS)


def settings_problems(settings: object) -> list[str]:
    """What keeps this [auth] section from a safe sign-in; each names the setting."""
    if not isinstance(settings, Mapping):
        return ["`[auth]` must be a section (a TOML table) with redirect_uri, cookie_secret, "
                "client_id, client_secret and server_metadata_url."]

    def missing(section: str, mapping: Mapping, keys: tuple[str, ...]) -> list[str]:
        return [f"`{section} {key}` is missing." for key in keys
                if not isinstance(mapping.get(key), str) or not mapping.get(key).strip()]

    problems = missing("[auth]", settings, REQUIRED_KEYS)
    redirect_uri = settings.get("redirect_uri")
    if (isinstance(redirect_uri, str) and redirect_uri.strip()
            and not redirect_uri.rstrip("/").endswith("/oauth2callback")):
        problems.append("`[auth] redirect_uri` must end with /oauth2callback "
                        "(e.g. https://servicepulse.example.kz/oauth2callback).")
    cookie_secret = settings.get("cookie_secret")
    if isinstance(cookie_secret, str) and cookie_secret.strip():
        if placeholder(cookie_secret):
            problems.append("`[auth] cookie_secret` is a placeholder, not a secret. Generate "
                            f"one with `{GENERATE_SECRET}`.")
        elif len(cookie_secret.encode()) < MIN_COOKIE_SECRET_BYTES:
            problems.append(f"`[auth] cookie_secret` is {len(cookie_secret.encode())} bytes; it "
                            f"needs at least {MIN_COOKIE_SECRET_BYTES}. Generate one with "
                            f"`{GENERATE_SECRET}`.")
    name = provider(settings)
    if name is not None:
        problems += missing(f"[auth.{name}]", settings[name], PROVIDER_KEYS)
    elif not all(key in settings for key in PROVIDER_KEYS):
        problems += [message[:-1] + " (or configure a provider in `[auth.<name>]`)."
                     for message in missing("[auth]", settings, PROVIDER_KEYS)]
    else:
        problems += missing("[auth]", settings, PROVIDER_KEYS)
    return problems


def configuration_problems() -> list[str]:
    """Why the app must not open, or [] when it may (open, or behind a working sign-in)."""
    required, setting_problem = require_auth_setting()
    problems = [setting_problem] if setting_problem else []
    files = [inspect_secrets_file(path) for path in secrets_paths()]
    for broken in (file for file in files if file.error):
        why = ("it has an `[auth]` section, which is ignored with the rest of the file"
               if broken.mentions_auth else "any sign-in settings would be ignored too")
        problems.append(f"The secrets file `{broken.path}` {broken.error}. Streamlit then treats "
                        f"every secret as absent ({why}), so the app stays closed until the "
                        "file is fixed.")
    if any(file.error for file in files):
        return problems
    settings = auth_settings()
    if settings is None:
        if required:
            where = ", ".join(f"`{path}`" for path in secrets_paths())
            problems.append(f"`{REQUIRE_AUTH_ENV}` requires sign-in but no `[auth]` section "
                            f"was found in the secrets files ({where}).")
        return problems
    return problems + settings_problems(settings)


def signed_in() -> bool:
    return bool(st.user.is_logged_in)


def stopped_page(problems: list[str]) -> None:
    """One banner: what is wrong and where, never a secret's value."""
    lines = "\n".join(f"- {problem}" for problem in problems)
    st.error(f"**ServicePulse is stopped: sign-in is not configured safely.**\n\n{lines}\n\n"
             "No page is shown to anyone until this is fixed (see *Optional sign-in* in the "
             "README).", icon=":material/lock:")


def sign_in_page() -> None:
    st.title("ServicePulse")
    st.write("Sign in with your company account to see the dashboards.")
    settings = auth_settings() or {}
    st.button("Sign in", icon=":material/login:", type="primary", on_click=st.login,
              args=(provider(settings),))


def gate(pages: Mapping[str, list]) -> bool:
    """True when the visitor may see the app; otherwise a stop banner or the sign-in page.

    The app's pages are still registered (hidden), so a deep link keeps its path while the
    visitor signs in, and a fresh server's first request does not fall back to the legacy
    pages/ navigation.
    """
    problems = configuration_problems()
    if problems:
        st.navigation(pages, position="hidden")
        stopped_page(problems)
        return False
    if auth_settings() is None:
        return True
    if not signed_in():
        st.navigation(pages, position="hidden")
        sign_in_page()
        return False
    with st.sidebar:
        who = st.user.get("name") or st.user.get("email")
        st.caption(SIGNED_IN_AS.format(name=message_text(who)) if who else SIGNED_IN)
        st.button("Sign out", icon=":material/logout:", on_click=st.logout)
    return True
