"""Errors of the management API as RFC 9457 problem details (``application/problem+json``).

Every exception a view raises, DRF's, Django's or a service's ``ValidationError``, is rendered
here: ``type``, ``title``, ``status``, ``detail`` and, for invalid input, ``invalid-params``
(RFC 9457 §3, the extension member of its example).
"""

from __future__ import annotations

from http import HTTPStatus

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

PROBLEM_JSON = "application/problem+json"


class Conflict(exceptions.APIException):
    """The change conflicts with the resource's state (RFC 9110 §15.5.10)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "the request conflicts with the current state of the resource"
    default_code = "conflict"


def _flatten(detail, prefix: str = "") -> list[dict]:
    """Return ``[{"name": field, "reason": message}]`` from a DRF error detail tree."""
    if isinstance(detail, dict):
        params = []
        for name, value in detail.items():
            if isinstance(name, int):  # an item of a list field
                params += _flatten(value, f"{prefix}[{name}]")
            else:
                params += _flatten(value, f"{prefix}.{name}" if prefix else str(name))
        return params
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [{"name": prefix or "request", "reason": " ".join(str(item) for item in detail)}]
        params = []
        for index, item in enumerate(detail):
            params += _flatten(item, f"{prefix}[{index}]")
        return params
    return [{"name": prefix or "request", "reason": str(detail)}]


def problem(status_code: int, detail: str, *, invalid_params=None, headers=None) -> Response:
    """Return the problem details response for ``status_code``."""
    body = {"type": "about:blank", "title": HTTPStatus(status_code).phrase, "status": status_code}
    body["detail"] = detail
    if invalid_params:
        body["invalid-params"] = invalid_params
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_JSON)


def problem_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: render ``exc`` as problem details."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"request": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's handler500 answers JSON
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    set_rollback()
    if isinstance(exc, exceptions.ValidationError):
        params = _flatten(exc.detail)
        detail = "the request has invalid fields: " + ", ".join(p["name"] for p in params)
        return problem(status.HTTP_400_BAD_REQUEST, detail, invalid_params=params, headers=headers)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return problem(exc.status_code, detail, headers=headers)
