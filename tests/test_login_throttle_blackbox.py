"""The tenant sign-in page's throttle against the real server: its gunicorn workers share the
counters, and the 429 is a page with ``Retry-After`` (docs/security.md#throttling)."""

from __future__ import annotations

import re

import pytest
import requests

pytestmark = pytest.mark.blackbox

CONFIG = "[demo]\nenabled = true\n\n[throttle]\nper_identity = 4\nper_address = 1000\nwindow = 120\n"
LOGIN = "/t/foo.com/login/"


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(CONFIG)


def sign_in(server, password: str) -> requests.Response:
    """Open the page and post its form, as a browser does (a new connection each time)."""
    with requests.Session() as browser:
        # verify on each request: requests lets REQUESTS_CA_BUNDLE override a session's verify
        page = browser.get(server.base_url + LOGIN, verify=server.cert, timeout=30)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        return browser.post(
            server.base_url + LOGIN,
            data={"csrfmiddlewaretoken": csrf, "username": "admin", "password": password},
            headers={"Referer": server.base_url + LOGIN},
            allow_redirects=False,
            verify=server.cert,
            timeout=30,
        )


def test_failures_counted_by_every_worker_end_in_a_429_page(server):
    assert [sign_in(server, "wrong").status_code for _ in range(4)] == [200] * 4
    refused = sign_in(server, "admin")
    assert refused.status_code == 429
    assert refused.headers["Content-Type"].startswith("text/html")
    assert "no-store" in refused.headers["Cache-Control"]
    assert 100 <= int(refused.headers["Retry-After"]) <= 120
    assert "Too many failed sign-ins" in refused.text
