"""The floor of the flood benchmark: the least any WSGI application served by gunicorn can do.

No Django, no throttle, no database: a request from the flooding address
(``bench.flood.FLOOD_ADDRESS`` in ``X-Forwarded-For``) is answered 429, any other 200, after its
body is read. A correct caller's median under the flood against this application is what no
server in Python behind the same gunicorn settings can beat on the machine: the flood's
connections and its client's CPU alone slow the caller that much (docs/security.md).
``python -m bench flood`` starts it (bench.server.FloorServer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

FLOOD_ADDRESS = "203.0.113.66"
REFUSED = b'{"error": "too_many_requests", "error_description": "Too many failed attempts."}'


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
    if environ.get("HTTP_X_FORWARDED_FOR") == FLOOD_ADDRESS:
        start_response("429 Too Many Requests", [*headers, ("Retry-After", "300")])
        return [REFUSED]
    start_response("200 OK", headers)
    return [b'{"active": true}']
