"""The OpenAPI page (Swagger UI) in a real browser, offline: every asset from the server itself."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.test_admin_browser import browser, new_page  # noqa: F401 (the shared Chromium fixtures)

pytestmark = pytest.mark.blackbox


@pytest.fixture(scope="module")
def server(demo_server):
    return demo_server


def test_the_page_lists_the_operations_without_leaving_the_server(server, new_page):  # noqa: F811
    page = new_page()
    elsewhere = []

    def only_the_server(route):
        if urlsplit(route.request.url).netloc == urlsplit(server.base_url).netloc:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_server)
    page.goto(server.base_url + "/api/v1/docs/")
    expect(page.locator(".opblock").first).to_be_visible(timeout=20000)
    summaries = page.locator(".opblock-summary-path").all_inner_texts()
    for path in ("/api/v1/clients", "/api/v1/users/{username}/lock", "/oauth2/token", "/oauth2/register"):
        assert path in {summary.replace("\u200b", "") for summary in summaries}, path
    assert elsewhere == []
