"""The admin in a real browser against the real server (docs/admin.md).

Playwright drives Debian's Chromium (``apt-get install chromium``; never a downloaded browser).
With ``SCREENSHOTS=1`` (``make screenshots``) the tests also save the pictures of
docs/admin.md to docs/img/admin-*.png; a normal run leaves those files alone.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect, sync_playwright

from deployment import REPO_ROOT
from tests.support.polling import wait_for

pytestmark = [pytest.mark.blackbox, pytest.mark.long(22)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = os.environ.get("SCREENSHOTS") == "1"
IMAGES = REPO_ROOT / "docs" / "img"

DEMO_CLIENT_ID = "rgfKVdnMQnJSSr_pKFTxj3apiwYa"


@pytest.fixture(scope="module")
def server(server_factory):
    server = server_factory()
    server.manage("createtenant", "bar.com", "--admin", "admin", "--password", "bar-admin-pw")
    return server


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (as .ci/run does)")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """Return a function that opens a page in a fresh browser context (its own cookies)."""
    contexts = []

    def open_page():
        context = browser.new_context(ignore_https_errors=True, viewport={"width": 1440, "height": 900})
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> None:
    """Save docs/img/admin-<name>.png, when asked to (SCREENSHOTS=1)."""
    if SCREENSHOTS:
        IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(IMAGES / f"admin-{name}.png"), full_page=True)


def sign_in(page, server, username: str, password: str, *, picture: str = "") -> None:
    page.goto(server.base_url + "/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    if picture:
        screenshot(page, picture)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text(username if "@" in username else f"{username}@")
    assert "/admin/login/" not in page.url


def introspect(server, token: str) -> dict:
    response = server.post(
        "/t/foo.com/oauth2/introspect", data={"token": token}, auth=("admin@foo.com", "admin")
    )
    assert response.status_code == 200, response.text
    return response.json()


class TestTenantAdmin:
    def test_create_a_client_get_a_token_revoke_it(self, server, new_page):
        page = new_page()
        sign_in(page, server, "admin@foo.com", "admin", picture="login")
        screenshot(page, "index-tenant-admin")

        # A client, its secret shown once.
        page.goto(server.base_url + "/admin/identity/client/add/")
        page.fill("#id_name", "Billing service")
        page.fill("#id_client_id", "billing-service")
        page.check("input[name=grant_types][value=client_credentials]")
        page.fill("#id_allowed_scopes", "read write")
        screenshot(page, "client-add")
        page.click("input[name=_save]")
        client_id = page.inner_text("#client-id")
        secret = page.inner_text("#client-secret")
        assert client_id == "billing-service" and len(secret) > 30
        screenshot(page, "client-secret")
        page.click("text=Done: back to the client")
        assert secret not in page.content()

        # The client gets a token; the admin lists it without its value.
        response = server.post(
            "/t/foo.com/oauth2/token",
            data={"grant_type": "client_credentials", "scope": "read"},
            auth=(client_id, secret),
        )
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        assert introspect(server, token)["active"] is True

        page.goto(server.base_url + "/admin/identity/accesstoken/?q=billing-service")
        rows = page.locator("#result_list tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("active")
        assert token not in page.content()

        # Revoked in the admin: inactive at the introspection endpoint at once.
        page.check("#result_list tbody input[name=_selected_action]")
        page.select_option("select[name=action]", "revoke_tokens")
        page.click("button[name=index]")
        expect(page.locator(".messagelist")).to_contain_text("Revoked 1 token")
        expect(page.locator("#result_list tbody tr").first).to_contain_text("revoked")
        screenshot(page, "tokens")
        assert introspect(server, token) == {"active": False}

    def test_roles_show_the_permission_tree_and_users_their_permissions(self, server, new_page):
        page = new_page()
        sign_in(page, server, "admin@foo.com", "admin")
        page.goto(server.base_url + "/admin/identity/role/add/")
        page.fill("#id_name", "token auditors")
        page.check("input[value='/permission/admin/manage/identity/tokenmgt/view']")
        page.fill("#id_other_permissions", "/permission/admin/manage/custom/audit")
        screenshot(page, "role-add")
        page.click("input[name=_save]")
        expect(page.locator(".messagelist")).to_contain_text("token auditors")

        page.goto(server.base_url + "/admin/identity/user/?q=admin")
        page.click("#result_list tbody a:text-is('admin')")
        expect(page.locator(".field-held_permissions")).to_contain_text("/permission/admin")
        screenshot(page, "user")

    def test_another_tenants_admin_sees_none_of_it(self, server, new_page):
        foo = new_page()
        sign_in(foo, server, "admin@foo.com", "admin")
        foo.goto(server.base_url + f"/admin/identity/client/?q={DEMO_CLIENT_ID}")
        foo_client_url = foo.locator("#result_list tbody th a").first.get_attribute("href")
        assert foo_client_url.startswith("/admin/identity/client/")

        bar = new_page()
        sign_in(bar, server, "admin@bar.com", "bar-admin-pw")
        for model in ("client", "accesstoken", "user", "role", "signingkey"):
            bar.goto(server.base_url + f"/admin/identity/{model}/")
            content = bar.content()
            assert "foo.com" not in content and "billing-service" not in content, model
            if model == "client":
                screenshot(bar, "other-tenant")
        response = bar.goto(server.base_url + foo_client_url)
        assert response.status == 404
        bar.goto(server.base_url + f"/admin/identity/client/?q={DEMO_CLIENT_ID}")
        expect(bar.locator("#result_list tbody tr")).to_have_count(0)
        response = bar.goto(
            server.base_url
            + "/admin/autocomplete/?app_label=identity&model_name=client&field_name=user&term="
        )
        results = json.loads(bar.inner_text("body"))["results"]
        assert results and all(result["text"].endswith("@bar.com") for result in results)
        assert bar.goto(server.base_url + "/admin/tenants/tenant/").status == 403


class TestOperator:
    def test_create_and_deactivate_a_tenant(self, server, new_page):
        page = new_page()
        sign_in(page, server, "admin", "admin")
        page.goto(server.base_url + "/admin/tenants/tenant/add/")
        page.fill("#id_domain", "shop.example")
        page.fill("#id_name", "Shop")
        page.fill("#id_admin_username", "admin")
        page.fill("#id_password1", "Shop-admin-pw-1")
        page.fill("#id_password2", "Shop-admin-pw-1")
        screenshot(page, "tenant-add")
        page.click("input[name=_save]")
        expect(page.locator(".messagelist")).to_contain_text("shop.example")
        screenshot(page, "tenants")
        assert wait_for(lambda: server.get("/t/shop.example/health").status_code == 200)

        page.locator("#result_list tbody tr", has_text="shop.example").locator("input[type=checkbox]").check()
        page.select_option("select[name=action]", "deactivate")
        page.click("button[name=index]")
        expect(page.locator(".messagelist")).to_contain_text("Deactivated: shop.example")
        # Every worker hears the change (the change bus) before the next request.
        assert wait_for(lambda: server.get("/t/shop.example/health").status_code == 404)

    def test_operator_sees_every_tenants_tokens(self, server, new_page):
        page = new_page()
        sign_in(page, server, "admin", "admin")
        page.goto(server.base_url + "/admin/identity/client/")
        content = page.content()
        assert "foo.com" in content and "carbon.super" in content
        screenshot(page, "clients-operator")


class TestNoEscalation:
    """Finding 1 of the security audit, in a browser: a staff admin of the super tenant who is not
    a superuser could set the superuser's password, and so take over every tenant."""

    def test_a_deputy_cannot_take_over_the_superuser(self, server, new_page):
        operator = new_page()
        sign_in(operator, server, "admin", "admin")
        operator.goto(server.base_url + "/admin/identity/user/add/")
        operator.select_option("#id_tenant", label="carbon.super")
        operator.fill("#id_username", "deputy")
        operator.fill("#id_password1", "Deputy-pw-123")
        operator.fill("#id_password2", "Deputy-pw-123")
        operator.check("#id_is_staff")
        operator.locator("label", has_text="admin@carbon.super").locator("input[name=roles]").check()
        operator.click("input[name=_save]")
        expect(operator.locator(".messagelist")).to_contain_text("deputy")
        operator.goto(server.base_url + "/admin/identity/user/?q=admin")
        row = operator.locator("#result_list tbody tr", has_text="carbon.super")
        link = row.locator("a:text-is('admin')").first.get_attribute("href")
        admin_url = link.split("?")[0]  # /admin/identity/user/<pk>/change/

        deputy = new_page()
        sign_in(deputy, server, "deputy", "Deputy-pw-123")
        # The superuser's page is read-only, and its password page refused.
        deputy.goto(server.base_url + admin_url)
        expect(deputy.locator("input[name=_save]")).to_have_count(0)
        assert deputy.goto(server.base_url + admin_url.replace("/change/", "/password/")).status == 403
        # No staff or superuser flag to give, no permission it does not hold.
        deputy.goto(server.base_url + "/admin/identity/user/add/")
        expect(deputy.locator("#id_is_staff")).to_have_count(0)
        expect(deputy.locator("#id_is_superuser")).to_have_count(0)
        deputy.goto(server.base_url + "/admin/identity/role/add/")
        deputy.fill("#id_name", "everything")
        deputy.fill("#id_other_permissions", "/permission")
        deputy.click("input[name=_save]")
        expect(deputy.locator(".errornote, .errorlist").first).to_be_visible()
        expect(deputy.locator("body")).to_contain_text(
            "you may grant only permissions you hold, not /permission"
        )
        screenshot(deputy, "no-escalation")

        response = server.post("/oauth2/introspect", data={"token": "x"}, auth=("admin", "admin"))
        assert response.status_code == 200  # the superuser's password is still its own
