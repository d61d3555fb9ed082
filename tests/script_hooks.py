"""Introspection scripts for the tests (docs/scripts.md), configured as ``tests.script_hooks:<name>``.

Each records its call in ``CALLS`` (``tests/test_introspection_scripts.py`` empties it).
"""

from __future__ import annotations

import sys

from identity.oauth.scripts import PROTECTED_CLAIMS

CALLS: list[tuple[str, object]] = []  # (script, context)


def _ran(name: str, response: dict, context) -> None:
    CALLS.append((name, context))
    response.setdefault("ran", []).append(name)


def first(response: dict, context) -> bool:
    _ran("first", response, context)
    return True


def second(response: dict, context) -> bool:
    _ran("second", response, context)
    return True


def third(response: dict, context) -> bool:
    _ran("third", response, context)
    return True


def refuse(response: dict, context) -> bool:
    """Change the response, then refuse: no change may stand."""
    _ran("refuse", response, context)
    response["refused"] = True
    return False


def explode(response: dict, context) -> bool:
    """Change the response, then raise: no change may stand."""
    _ran("explode", response, context)
    response["exploded"] = True
    raise RuntimeError("the script's own bug")


def exit_process(response: dict, context) -> bool:
    """Change the response, then call ``sys.exit`` (as a command-line helper might)."""
    _ran("exit_process", response, context)
    response["exited"] = True
    sys.exit(1)


def not_json(response: dict, context) -> bool:
    """Add a value that JSON cannot hold."""
    _ran("not_json", response, context)
    response["when"] = context
    return True


def nest_deep(response: dict, context) -> bool:
    """Add a value nested deeper than Python's recursion limit (JSON's encoder recurses)."""
    _ran("nest_deep", response, context)
    value: list = []
    for _ in range(100_000):
        value = [value]
    response["nested"] = value
    return True


def no_audience(response: dict, context) -> bool:
    """Delete ``aud``, which RFC 9068 requires of a JWT access token."""
    _ran("no_audience", response, context)
    del response["aud"]
    return True


def numbered_audience(response: dict, context) -> bool:
    """Make ``aud`` a list of numbers: JSON holds it, an audience is strings."""
    _ran("numbered_audience", response, context)
    response["aud"] = [1, 2]
    return True


def nul_audience(response: dict, context) -> bool:
    """Put a NUL in ``aud``: JSON holds it, PostgreSQL's jsonb (the token row's audience) does not."""
    _ran("nul_audience", response, context)
    response["aud"] = "https://api.example.com/\x00"
    return True


def no_subject(response: dict, context) -> bool:
    """Delete ``sub``, which RFC 9068 requires of a JWT access token."""
    _ran("no_subject", response, context)
    del response["sub"]
    return True


def numbered_scope(response: dict, context) -> bool:
    """Make ``scope`` a number: RFC 9068 (and RFC 7662) make it a space-separated string."""
    _ran("numbered_scope", response, context)
    response["scope"] = 7
    return True


def no_return(response: dict, context):
    """Forget to return: only False refuses, so the change stands."""
    _ran("no_return", response, context)


def tamper(response: dict, context) -> bool:
    """Change every protected claim, and ``jti``; add one claim of its own."""
    _ran("tamper", response, context)
    for claim in (*PROTECTED_CLAIMS, "jti"):
        response[claim] = "tampered"
    response["extra"] = "stands"
    return True


def retype(response: dict, context) -> bool:
    """Give protected claims values equal in Python but of another JSON type (``1 == True``)."""
    _ran("retype", response, context)
    for claim in ("active", "exp", "iat"):
        if claim in response:
            response[claim] = 1 if response[claim] is True else float(response[claim])
    return True


def strip(response: dict, context) -> bool:
    """Delete every protected claim; add one claim of its own."""
    _ran("strip", response, context)
    for claim in PROTECTED_CLAIMS:
        response.pop(claim, None)
    response["extra"] = "stands"
    return True


def vandalize(response: dict, context) -> bool:
    """Change every object the context gives, and what hangs off them; the response not at all."""
    _ran("vandalize", response, context)
    context.tenant.domain = "vandal.example"
    context.client.client_id = "vandal"
    context.client.token_format = "vandal"
    if context.user is not None:
        context.user.username = "vandal"
    if context.token is not None:
        context.token.scope = "vandal"
        context.token.expires = context.token.expires.replace(year=2000)
        context.token.application.client_id = "vandal"
        context.token.user.username = "vandal"
    if context.caller is not None:
        context.caller.tenant.domain = "vandal.example"
    if context.request is not None:
        context.request.tenant.domain = "vandal.example"
    return True


NOT_CALLABLE = "a string"
