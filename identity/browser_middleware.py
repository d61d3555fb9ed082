"""Middleware that only browser pages need, skipped on the machine-to-machine endpoints.

Sessions, authentication by session, CSRF, messages and clickjacking protection serve the admin
and the login and consent pages. Introspection, token, revocation, JWKS and discovery requests
carry their credentials in each request and render no page: on those paths each wrapper below
hands the request straight to the next layer (docs/performance.md measures what it saves).
"""

from __future__ import annotations

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.csrf import CsrfViewMiddleware

# Paths as routed, after the tenant prefix (/t/<domain>) was stripped.
MACHINE_PATHS = ("/oauth2/introspect", "/oauth2/token", "/oauth2/revoke", "/oauth2/jwks", "/.well-known/")


def is_machine_path(request) -> bool:
    return request.path_info.startswith(MACHINE_PATHS)


class BrowserOnly:
    """Mixed into a Django middleware: run it for every path but the machine endpoints."""

    def __call__(self, request):
        if is_machine_path(request):
            return self.get_response(request)
        return super().__call__(request)


class Sessions(BrowserOnly, SessionMiddleware):
    pass


class Csrf(BrowserOnly, CsrfViewMiddleware):
    def process_view(self, request, view_func, view_args, view_kwargs):
        # Django calls process_view itself, outside __call__.
        if is_machine_path(request):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class Authentication(BrowserOnly, AuthenticationMiddleware):
    pass


class Messages(BrowserOnly, MessageMiddleware):
    pass


class Clickjacking(BrowserOnly, XFrameOptionsMiddleware):
    pass
