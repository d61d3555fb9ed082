"""``POST /t/<tenant>/oauth2/introspect`` and ``/oauth2/introspect`` (RFC 7662,
docs/introspection.md), answering JSON or, on request, a JWT (RFC 9701), after the
introspection scripts (docs/scripts.md).

The product's hot path: the caller, the tenants and the token's state come from the cache
(the token is one indexed read by its digest at first sight), and an answer that may be
replayed is handed to ``introspection/replay.py``, which answers the same request next time
before Django.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt

from deployment import Deployment
from deployment.current import get_deployment
from identity.models import AccessToken, RefreshToken
from identity.oauth.issuer import server_origin
from identity.oauth.scripts import ScriptContext, run_scripts, scripts_for
from identity.request_id import endpoint_of
from identity.throttle import Throttled
from introspection import audit as decision
from introspection import gates, replay, throttle_gate
from introspection.authentication import Caller, authenticate_caller, challenge
from introspection.errors import (
    AuthenticationFailed,
    CallerTenantRefused,
    InvalidInput,
    MethodNotAllowed,
    UnreadableRequest,
)
from introspection.jwt_response import jwt_response
from introspection.lookup import find_token
from introspection.negotiation import wants_jwt
from introspection.responses import INACTIVE, active_claims, json_response
from introspection.throttling import caller_blocks, check_caller
from tenants import get_current_tenant
from tenants.access_control import allowed_auth_handlers, matched_entry
from tenants.errors import ApiError, error_response
from tenants.models import Tenant


@csrf_exempt
def introspect(request: HttpRequest) -> HttpResponse:
    """Answer whether a token is active, and what it is, to an authorized caller."""
    deployment = get_deployment()
    config = deployment.oauth.introspect
    methods = ("GET", "POST") if config.allow_get else ("POST",)
    caller = found = path_tenant = None
    gate = decision.METHOD  # the step being taken: on an error, the gate that decided
    try:
        if request.method not in methods:
            raise MethodNotAllowed(methods)
        gate = decision.INPUT
        params = _parameters(request)
        path_tenant = get_current_tenant(request)
        entry = matched_entry(request)
        handlers = allowed_auth_handlers(entry)
        # Before any hash: a throttled address or identity costs one counter read, no PBKDF2.
        attempt, claimed = check_caller(request, handlers)
        try:
            gate = decision.AUTHENTICATION
            caller = authenticate_caller(request, handlers, skip_authorization=config.skip_authorization)
            gate = decision.CALLER_VS_PATH
            gates.caller_vs_path(caller, path_tenant, entry)
        except (AuthenticationFailed, CallerTenantRefused):
            if attempt is not None:
                attempt.failed()
            raise
        if attempt is not None:
            attempt.succeeded()
        gate = decision.PERMISSION_OR_SCOPE
        gates.permission_or_scope(caller, deployment.resource_access_control.introspect)
        gate = decision.INPUT
        token = params.get("token", "")
        if not token:
            raise InvalidInput()
        found = find_token(token, params.get("token_type_hint", ""))
    except CallerTenantRefused as exc:
        # RFC 7235 §3.1: a 401 names the schemes that could succeed here, as for bad credentials.
        exc.headers.setdefault("WWW-Authenticate", challenge(request, handlers))
        _decided(caller, path_tenant, None, gate, str(exc.status), deployment)
        return error_response(exc)
    except ApiError as exc:
        decided = _decided(caller, path_tenant, None, gate, str(exc.status), deployment)
        if isinstance(exc, Throttled) and path_tenant is not None:
            # The next refusal of this address is answered before Django, from this answer.
            throttle_gate.keep(
                request,
                endpoint=endpoint_of(request),
                decision_fields=decided,
                handlers=handlers,
                path_tenant=path_tenant,
            )
        return error_response(exc)
    inactive_by = gates.inactive_by(found, path_tenant, config)
    replayable = found is not None  # an unknown token may be issued a moment later
    origin = server_origin(request)
    claims: dict[str, Any]
    if found is None or inactive_by is not None:
        claims = INACTIVE
        decided = _decided(caller, path_tenant, found, inactive_by or decision.LOOKUP, "inactive", deployment)
    else:
        decided = _decided(caller, path_tenant, found, decision.PASSED, "active", deployment)
        claims = active_claims(found, deployment, origin)
        scripts = scripts_for(found.application, deployment)
        if scripts:
            replayable = False  # a script's code may read anything
            context = ScriptContext(
                tenant=Tenant.objects.get_by_id(found.tenant_id),
                client=found.application,
                user=found.user,
                scopes=tuple(str(claims.get("scope", "")).split()),
                token=found,
                caller=caller,
                request=request,
            )
            claims = run_scripts(claims, context, scripts)
    if wants_jwt(request):
        return jwt_response(claims, path_tenant, caller, request)
    if replayable:
        blocks = caller_blocks(request, caller, claimed)
        replay.keep(
            request,
            endpoint=endpoint_of(request),
            decision_fields=decided,
            blocks=blocks,
            caller=caller,
            path_tenant=path_tenant,
            origin=origin,
        )
    return json_response(claims)


def _decided(
    caller: Caller | None,
    path_tenant: Tenant | None,
    found: AccessToken | RefreshToken | None,
    gate: str,
    outcome: str,
    deployment: Deployment,
) -> decision.Decision:
    """Audit and count the decision (with ``[observability] enabled``); return its fields."""
    fields = decision.fields(caller=caller, path_tenant=path_tenant, found=found, gate=gate, outcome=outcome)
    if deployment.observability.enabled:
        decision.record(fields)
    return fields


def _parameters(request: HttpRequest) -> QueryDict:
    """Return the form of a POST or the query of a GET, parsed before anything reads them."""
    try:
        query: QueryDict = request.GET  # a POST's query may hold appTenant
        form: QueryDict = request.POST
        return form if request.method == "POST" else query
    except (RequestDataTooBig, TooManyFieldsSent):
        # Django would answer its HTML 400 page; the endpoint's errors are JSON.
        raise UnreadableRequest() from None
