"""The caller modes of the benchmark (docs/performance.md) and the deployment.toml each is served with.

Each mode enables only its own caller handler, as an operator serving that kind of caller
would; the baseline view is reachable under every configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote_plus

from bench.data import TENANT, Callers
from tests.support.auth import basic

INTROSPECT_PATH = f"/t/{TENANT}/oauth2/introspect"
BASELINE_PATH = f"/t/{TENANT}/bench/lookup"


def _access_control(handlers: str) -> str:
    # secure = false: the benchmark talks plain HTTP on loopback (see bench/server.py).
    return (
        "[[resource.access_control]]\n"
        f"context = '/t/{TENANT.replace('.', '[.]')}/oauth2/introspect'\n"
        "secure = false\n"
        f"allowed_auth_handlers = {handlers}\n"
    )


@dataclass(frozen=True)
class Mode:
    name: str
    title: str
    config: str  # deployment.toml lines
    authorization: Callable[[Callers], str]


MODES = {
    mode.name: mode
    for mode in (
        Mode(
            "client",
            "client credentials (Basic client_id:secret)",
            _access_control('["BasicClientAuthentication"]'),
            # RFC 6749 §2.3.1: the id and secret are form-encoded before Basic encoding.
            lambda c: basic(quote_plus(c.client_id), quote_plus(c.client_secret)),
        ),
        Mode(
            "bearer",
            "Bearer token with internal_oauth2_introspect",
            _access_control('["OAuthAuthentication"]'),
            lambda c: f"Bearer {c.bearer}",
        ),
        Mode(
            "user",
            "Basic user with the applicationmgt/view permission",
            _access_control('["BasicAuthentication"]'),
            lambda c: basic(c.username, c.password),
        ),
        Mode(
            "skip",
            "no caller authentication (skip_authorization = true)",
            _access_control('["BasicClientAuthentication"]')
            + "\n[oauth.introspect]\nskip_authorization = true\n",
            lambda c: "",
        ),
    )
}
