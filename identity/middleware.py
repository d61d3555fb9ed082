"""Input limits and JSON errors for the API and OAuth endpoints (RFC 6749 §5.2, RFC 7009, RFC 7662).

Every error of the product's programmatic endpoints is JSON, even with ``[server] debug = true``:
only the admin, the sign-in page and the authorization endpoint's pages (which people read) keep
HTML. Request bodies are limited by ``[server] max_body_bytes`` (413, decided from
``Content-Length`` before the body is read) and ``max_form_fields``; the form endpoints take
``application/x-www-form-urlencoded`` UTF-8 only. See docs/security.md.
"""

from __future__ import annotations

import functools
from http import HTTPStatus
from urllib.parse import parse_qsl

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.http import parse_header_parameters

from deployment.current import get_deployment
from tenants.errors import ApiError, error_response
from tenants.resolver import split_tenant_path

# The endpoints whose parameters are an RFC 6749 form (application/x-www-form-urlencoded).
FORM_ENDPOINTS = ("/oauth2/token", "/oauth2/revoke", "/oauth2/introspect")
# Pages for people: their own HTML answers stay (the authorization endpoint's 5xx does not).
HTML_PREFIXES = ("/admin/", "/login/", "/static/")
AUTHORIZE = "/oauth2/authorize"
FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"
# A refused body up to this size is read and dropped before the 413 goes out, so that the client,
# still sending, reads the answer instead of a reset connection (TLS makes that reset certain).
DRAIN_LIMIT = 32 * 1024 * 1024
CHUNK = 64 * 1024


class BodyTooLarge(ApiError):
    status = 413
    error = "invalid_request"


class UnsupportedContent(ApiError):
    error = "invalid_request"


def canonical_path(path_info: str) -> str:
    """Return the path the URLconf routes: without its ``/t/<domain>`` prefix."""
    return split_tenant_path(path_info).rest


def is_html_page(path: str, status: int) -> bool:
    if path.startswith(HTML_PREFIXES):
        return True
    return path == AUTHORIZE and status < 500


class RequestLimitsMiddleware:
    """Refuse a too-large body from its ``Content-Length``, and a form Django would misread."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        server = get_deployment().server
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(UnsupportedContent("Content-Length is not a number"))
        if length > server.max_body_bytes:
            _drain(request, length)
            return error_response(
                BodyTooLarge(f"the request body is larger than {server.max_body_bytes} bytes")
            )
        if canonical_path(request.path_info) in FORM_ENDPOINTS:
            try:
                _check_form(request, length, server.max_form_fields)
            except ApiError as exc:
                return error_response(exc)
        return self.get_response(request)


def _drain(request, length: int) -> None:
    """Read and drop a refused body (up to DRAIN_LIMIT), so that the 413 reaches the client."""
    stream = request.META.get("wsgi.input")
    left = min(length, DRAIN_LIMIT)
    while stream is not None and left > 0:
        chunk = stream.read(min(CHUNK, left))
        if not chunk:
            break
        left -= len(chunk)


def _check_form(request, length: int, max_fields: int) -> None:
    """Raise unless the query and the body are UTF-8 forms of at most ``max_fields`` fields."""
    body = request.body if length and request.method == "POST" else None
    meta = request.META
    if read_form(meta.get("QUERY_STRING", ""), meta.get("CONTENT_TYPE", ""), body, max_fields) is None:
        # Not RFC 6749's form, but what many HTTP clients (and Django's test client) send: taken,
        # parsed here so that a bad one is answered here.
        try:
            request.POST  # noqa: B018 (parsed for its errors)
        except (MultiPartParserError, RequestDataTooBig, TooManyFieldsSent):
            raise UnsupportedContent(
                f"the multipart body is unreadable or has over {max_fields} parts"
            ) from None


Form = dict[str, str]  # a form's parameters: the last value of each name, as QueryDict.get reads


def read_form(query: str, content_type: str, body: bytes | None, max_fields: int) -> tuple[Form, Form] | None:
    """Return the parameters of a form endpoint's query and body (None: the request has no
    body), or None for a multipart body, which Django parses; raise UnsupportedContent for what
    the form endpoints refuse.

    Django would decode another charset (``utf-16``) or bad bytes into garbage or a 500, and
    parse a multipart body without its boundary into its HTML 400 page. The layer in front of
    Django that refuses a blocked address (``introspection/throttle_gate.py``) reads the form
    with this function too, so that it answers only a request this middleware lets through.
    """
    parameters = dict(_parse(query, max_fields, "query"))
    if body is None:
        return parameters, {}
    # Read as Django reads it (quoted parameters, RFC 2231), so that the charset checked here is
    # the one Django decodes the body with.
    content_type, params = read_content_type(content_type)
    if params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
        raise UnsupportedContent("the only charset taken is UTF-8 (RFC 6749 Appendix B)")
    if content_type == FORM_TYPE:
        return parameters, dict(_parse(body, max_fields, "body"))
    if content_type == MULTIPART_TYPE and params.get("boundary"):
        return None
    raise UnsupportedContent(f"send the parameters as {FORM_TYPE} (RFC 6749 §3.2)")


@functools.lru_cache(maxsize=256)
def read_content_type(header: str) -> tuple[str, dict[str, str]]:
    """Return the media type and the parameters of a ``Content-Type`` as Django's request reads
    them (not to be changed: one result for each value, parsed once, as clients send the same
    few); raise UnsupportedContent for one Django's parser refuses."""
    try:
        return parse_header_parameters(header)
    except ValueError:  # an RFC 2231 parameter naming an unknown charset
        raise UnsupportedContent("the Content-Type header is unreadable") from None


class ContentTypeGuard:
    """The WSGI layer in front of Django's handler (``identity/wsgi.py``) that answers a request
    whose ``Content-Type`` Django cannot read: Django's request object raises ``ValueError``
    before any middleware runs, and the WSGI server answered its HTML 500."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        try:
            read_content_type(environ.get("CONTENT_TYPE", ""))
        except UnsupportedContent as exc:
            response = error_response(exc)
            start_response(f"{response.status_code} {response.reason_phrase}", [*response.items()])
            return [response.content]
        return self.application(environ, start_response)


def _parse(data: bytes | str, max_fields: int, where: str) -> list[tuple[str, str]]:
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        pairs = parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=max_fields
        )
    except UnicodeDecodeError:
        raise UnsupportedContent(f"the {where} is not UTF-8 (RFC 6749 Appendix B)") from None
    except ValueError:
        raise UnsupportedContent(f"the {where} has more than {max_fields} parameters") from None
    # No identifier, secret or token holds a NUL, and PostgreSQL refuses one in a query.
    if any("\x00" in name or "\x00" in value for name, value in pairs):
        raise UnsupportedContent(f"the {where} holds a NUL character")
    return pairs


class JsonErrorsMiddleware:
    """Turn any error answer of an API or OAuth endpoint that is not JSON into JSON.

    Django's own answers (its 400 for a request it refuses, a view's 405, its 404 and 500 pages,
    the debug page) are HTML; the clients of these endpoints are programs (RFC 6749 §5.2).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = canonical_path(request.path_info)
        response = self.get_response(request)
        if response.status_code < 400 or is_html_page(path, response.status_code):
            return response
        if _is_json(response):
            response.headers.setdefault("Cache-Control", "no-store")
            return response
        return json_error(response)


def _is_json(response: HttpResponse) -> bool:
    """JSON, or a JSON-based type such as RFC 9457's ``application/problem+json``: kept as it is."""
    media_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def json_error(response: HttpResponse) -> HttpResponse:
    """Return the JSON answer standing for the error ``response``, with its status and ``Allow``."""
    status = response.status_code
    exc = ApiError(_description(status))
    exc.status = status
    exc.error = "server_error" if status >= 500 else _ERRORS.get(status, "invalid_request")
    if status >= 500:
        exc.description = ""  # never details
    if response.has_header("Allow"):
        exc.headers["Allow"] = response["Allow"]
    if response.has_header("Retry-After"):
        exc.headers["Retry-After"] = response["Retry-After"]
    return error_response(exc)


_ERRORS = {401: "invalid_client", 403: "access_denied", 404: "not_found"}


def _description(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return ""
