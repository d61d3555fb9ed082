"""Choose JSON or JWT for an introspection response (RFC 9701 §4, RFC 9110 §12.5.1).

``response_as_jwt=true`` asks for a JWT, ``=false`` for JSON. Without it the ``Accept`` header
decides, with real content negotiation: each type gets the quality of the most specific range
that matches it; ``q=0`` refuses a type; the higher quality wins and a tie goes to the type
whose range is listed first (a tie on one shared range, such as ``*/*``, goes to JSON).
"""

from __future__ import annotations

from django.http import HttpRequest

JSON = "application/json"
JWT = "application/token-introspection+jwt"


def wants_jwt(request: HttpRequest) -> bool:
    """Return whether the introspection response should be a JWT (RFC 9701)."""
    params = request.POST if request.method == "POST" else request.GET
    explicit = str(params.get("response_as_jwt", "")).strip().lower()
    if explicit in ("true", "false"):
        return explicit == "true"
    return preferred(str(request.META.get("HTTP_ACCEPT", "")), (JSON, JWT)) == JWT


def preferred(accept: str, offers: tuple[str, ...]) -> str:
    """Return the offer ``accept`` prefers; the first offer when it prefers none over it."""
    ranges = _parse(accept)
    if not ranges:
        return offers[0]
    best, best_key = offers[0], None
    for offer in offers:
        match = _best_match(offer, ranges)
        if match is None or match[1] <= 0:
            continue
        quality, position = match[1], match[2]
        key = (quality, -position)
        if best_key is None or key > best_key:
            best, best_key = offer, key
    return best


def _parse(accept: str) -> list[tuple[str, float, int]]:
    """Return ``(media range, quality, position)`` for each entry of an Accept header."""
    ranges = []
    for position, item in enumerate(accept.split(",")):
        media_range, *params = (part.strip() for part in item.split(";"))
        if "/" not in media_range:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        ranges.append((media_range.lower(), quality, position))
    return ranges


def _best_match(offer: str, ranges: list[tuple[str, float, int]]) -> tuple[str, float, int] | None:
    """Return the most specific range matching ``offer`` (type/subtype > type/* > */*)."""
    kind = offer.split("/")[0]
    for pattern in (offer, f"{kind}/*", "*/*"):
        for entry in ranges:
            if entry[0] == pattern:
                return entry
    return None
