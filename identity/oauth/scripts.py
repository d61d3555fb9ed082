"""Introspection scripts (docs/scripts.md), the Python form of Janssen's IntrospectionType.

An operator lists callables in deployment.toml::

    [[oauth.introspect.script]]
    name = "department"
    callable = "mycompany.hooks:add_department"

A script is ``def modify_response(response: dict, context: ScriptContext) -> bool``. Scripts
are operator code: they run in the server's process with its rights, on every introspection of
a token whose client has them bound (or of every token with ``script_backward_compatibility``).

- They run in the order deployment.toml lists them.
- One that returns ``False``, raises, or adds a value JSON cannot hold (or nests deeper than
  ``MAX_NESTING``) discards every script's changes: the unmodified response is sent, and the
  failure logged.
- The claims in ``PROTECTED_CLAIMS`` cannot be changed: such a change is undone and logged; the
  script's other changes stand.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from deployment import Deployment, IntrospectConfig
from tenants.models import Tenant

logger = logging.getLogger(__name__)

PROTECTED_CLAIMS = ("active", "iss", "exp", "iat", "client_id", "token_type")
# How deep a script's objects and arrays may nest: far below Python's recursion limit.
MAX_NESTING = 64

Script = Callable[[dict, "ScriptContext"], bool]


@dataclasses.dataclass(frozen=True)
class ScriptContext:
    """What a script may look at. At token issuance (``run_introspection_script_before_jwt_creation``)
    there is no token row, caller or introspection request yet: those are None."""

    tenant: Any  # tenants.models.Tenant: the token's tenant
    client: Any  # identity.models.Client
    user: Any  # identity.models.User, or None for a client_credentials token without owner
    scopes: tuple[str, ...]
    token: Any = None  # identity.models.AccessToken or RefreshToken
    caller: Any = None  # introspection.authentication.Caller
    request: Any = None  # django.http.HttpRequest of the introspection


def load_scripts(deployment: Deployment) -> dict[str, Script]:
    """Import every configured script, in order; a bad one stops start-up naming it."""
    scripts: dict[str, Script] = {}
    for entry in deployment.oauth.introspect.script:
        module, _, function = entry.callable.partition(":")
        try:
            script = import_string(f"{module}.{function}")
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"[[oauth.introspect.script]] '{entry.name}': cannot import callable "
                f"'{entry.callable}' ({exc}); fix the module path or install the module"
            ) from exc
        except Exception as exc:  # the module itself fails as it is imported: operator code
            raise ImproperlyConfigured(
                f"[[oauth.introspect.script]] '{entry.name}': importing '{entry.callable}' failed "
                f"({type(exc).__name__}: {exc}); fix the module"
            ) from exc
        if not callable(script):
            raise ImproperlyConfigured(
                f"[[oauth.introspect.script]] '{entry.name}': '{entry.callable}' is not callable"
            )
        scripts[entry.name] = script
    return scripts


_loaded: tuple[Deployment, dict[str, Script]] | None = None


def configured_scripts(deployment: Deployment) -> dict[str, Script]:
    """Return the scripts of ``deployment``, imported once per configuration."""
    global _loaded
    if _loaded is None or _loaded[0] is not deployment:
        _loaded = (deployment, load_scripts(deployment))
    return _loaded[1]


def scripts_for(client, deployment: Deployment) -> list[tuple[str, Script]]:
    """Return the scripts to run for ``client``'s tokens, in deployment.toml's order: those bound
    to it (every one, with ``script_backward_compatibility``) that its tenant may use."""
    config: IntrospectConfig = deployment.oauth.introspect
    scripts = configured_scripts(deployment)
    if not scripts:
        return []
    tenant = Tenant.objects.get_by_id(client.tenant_id)
    usable = set(config.usable_scripts(tenant.domain if tenant is not None else ""))
    if not config.script_backward_compatibility:
        usable &= set(client.introspection_scripts or ())
    return [(name, script) for name, script in scripts.items() if name in usable]


def run_scripts(
    response: dict,
    context: ScriptContext,
    scripts: list[tuple[str, Script]],
    problem: Callable[[dict], str | None] | None = None,
) -> dict:
    """Return ``response`` as the scripts modify it (the original when any of them fails).

    ``problem`` says what is wrong with a script's result for its use (a JWT access token's
    claims), or None: a script whose result has one fails."""
    if not scripts:
        return response
    context = _own_copy(context)
    modified = copy.deepcopy(response)
    for name, script in scripts:
        try:
            accepted = script(modified, context)
        except (Exception, SystemExit):  # sys.exit() in a script too: Django's handlers let it by
            logger.exception("introspection script '%s' raised: its and every other change discarded", name)
            return response
        if accepted is False:
            logger.warning("introspection script '%s' returned False: every change discarded", name)
            return response
        if not _is_json(modified):
            # The response is JSON (RFC 7662 §2.2) or a JWT of JSON claims: a value that
            # neither can hold would otherwise fail the request.
            logger.error(
                "introspection script '%s' added a value JSON cannot hold: every change discarded", name
            )
            return response
        _restore_protected(modified, response, name)
        wrong = problem(modified) if problem is not None else None
        if wrong is not None:
            logger.error("introspection script '%s' %s: every change discarded", name, wrong)
            return response
    return modified


def _own_copy(context: ScriptContext) -> ScriptContext:
    """Return ``context`` with copies of its tenant, client, user, token and caller: the process
    cache shares those objects with every later request, and a script that changed one (a
    client's ``client_id``, a token's ``expires``) would change their answers. Copied together,
    they still refer to one another (``token.application is client``). The request is this
    request's own, but for its tenant (the middleware's, from the cache): a shallow copy of it
    carries the tenant's copy."""
    memo: dict[int, Any] = {}
    tenant, client, user, token, caller = copy.deepcopy(
        (context.tenant, context.client, context.user, context.token, context.caller), memo
    )
    request = context.request
    if getattr(request, "tenant", None) is not None:
        request = copy.copy(request)
        request.tenant = copy.deepcopy(request.tenant, memo)
    return dataclasses.replace(
        context, tenant=tenant, client=client, user=user, token=token, caller=caller, request=request
    )


def _is_json(claims: dict) -> bool:
    if _nested_deeper(claims, MAX_NESTING):
        # JSON's encoder recurses: past the interpreter's recursion limit it raises
        # RecursionError, here or where the answer is encoded (a JWT's encoder runs deeper).
        return False
    try:
        json.dumps(claims, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _nested_deeper(value: Any, limit: int) -> bool:
    """Return whether objects and arrays nest more than ``limit`` deep in ``value``, walked
    without recursion (a cycle nests without end, and is found too)."""
    pending = [iter((value,))]
    while pending:
        for item in pending[-1]:
            if isinstance(item, dict):
                children = iter(item.values())
            elif isinstance(item, (list, tuple)):
                children = iter(item)
            else:
                continue
            if len(pending) > limit:
                return True
            pending.append(children)
            break
        else:
            pending.pop()
    return False


def _restore_protected(modified: dict, original: dict, name: str) -> None:
    for claim in PROTECTED_CLAIMS:
        before, after = original.get(claim, _MISSING), modified.get(claim, _MISSING)
        # The type too: 1 == True and 3.0 == 3 in Python, not in the JSON sent.
        if type(after) is not type(before) or after != before:
            logger.warning("introspection script '%s' may not change '%s': change undone", name, claim)
            if claim in original:
                modified[claim] = original[claim]
            else:
                modified.pop(claim, None)


_MISSING = object()
