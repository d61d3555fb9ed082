"""The address of the client a request came from (docs/security.md#the-client-address): what
throttling counts and ``[observability] metrics_allowed`` admits."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from deployment.current import get_deployment


def client_address(environ: Mapping[str, Any]) -> str:
    """Return the client's address: the peer, or, from a ``[server] trusted_proxies`` peer, the
    rightmost ``X-Forwarded-For`` entry that is not itself a trusted proxy. ``environ`` is the
    WSGI environment (a Django request's ``META``)."""
    peer = environ.get("REMOTE_ADDR", "")
    trusted = get_deployment().server.trusted_proxies
    if peer not in trusted:
        return peer
    hops = [hop.strip() for hop in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return _valid_address(hop) or peer
    return peer


def _valid_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return ""
