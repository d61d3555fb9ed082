"""HTTP credentials: Basic (RFC 7617) and Bearer (RFC 6750)."""

from __future__ import annotations

import base64


def basic(name: str, secret: str) -> str:
    """Return the ``Authorization`` value of HTTP Basic (RFC 7617 section 2); ids and secrets
    here need no form-encoding."""
    return "Basic " + base64.b64encode(f"{name}:{secret}".encode()).decode()


def bearer(token: str) -> str:
    """Return the ``Authorization`` value of a Bearer token (RFC 6750 section 2.1)."""
    return f"Bearer {token}"


def basic_auth(name: str, secret: str) -> dict[str, str]:
    """Return the headers of a request with HTTP Basic credentials."""
    return {"Authorization": basic(name, secret)}


def bearer_auth(token: str) -> dict[str, str]:
    """Return the headers of a request with a Bearer token."""
    return {"Authorization": bearer(token)}
