"""The issuer of a tenant (docs/architecture.md): ``https://<host>[:port]/t/<domain>``, or without the
``/t/<domain>`` part for the super tenant. Host and port come from ``[server]``, or from the
request when it came through a trusted proxy (``X-Forwarded-Proto`` / ``X-Forwarded-Host``)."""

from __future__ import annotations

from deployment.current import get_deployment
from tenants.models import Tenant

DEFAULT_PORTS = {"https": 443, "http": 80}


def server_origin(request=None) -> str:
    """Return ``scheme://host[:port]`` of this server, as clients reach it."""
    deployment = get_deployment()
    if request is not None and request.META.get("REMOTE_ADDR") in deployment.server.trusted_proxies:
        forwarded_host = _proxys_own(request.META.get("HTTP_X_FORWARDED_HOST", ""))
        forwarded_proto = _proxys_own(request.META.get("HTTP_X_FORWARDED_PROTO", "")).lower()
        if forwarded_host and forwarded_proto in DEFAULT_PORTS:
            return f"{forwarded_proto}://{forwarded_host}"
    scheme, server = deployment.scheme, deployment.server
    port = "" if DEFAULT_PORTS[scheme] == server.port else f":{server.port}"
    return f"{scheme}://{server.hostname}{port}"


def _proxys_own(header: str) -> str:
    """Return the last value of a forwarded header: the trusted proxy's own. A proxy that
    appends (Apache's mod_proxy) leaves before it what the client sent, as for
    ``X-Forwarded-For`` (and RFC 7239 §4's ``Forwarded``, to which each proxy appends)."""
    return header.rsplit(",", 1)[-1].strip()


def issuer(tenant: Tenant, request=None) -> str:
    """Return the issuer identifier of ``tenant``."""
    return issuer_at(server_origin(request), tenant)


def issuer_at(origin: str, tenant: Tenant) -> str:
    """Return the issuer identifier of ``tenant`` at ``origin`` (:func:`server_origin`)."""
    return origin + tenant.path_prefix


def endpoint(tenant: Tenant, path: str, request=None) -> str:
    """Return the absolute URL of ``tenant``'s endpoint at ``path`` (``/oauth2/token``)."""
    return issuer(tenant, request) + path
