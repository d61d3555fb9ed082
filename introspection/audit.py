"""Record each introspection decision: one audit event and one count (docs/operations.md).

The event names who asked (caller kind, identity and tenant), the tenants of the path and of the
token, the token's id (its ``jti``, never the token), the gate that decided and the outcome.
"""

from __future__ import annotations

import time

from identity import audit, logs, metrics
from identity.models import AccessToken, RefreshToken
from introspection.authentication import Caller
from tenants.models import Tenant

# The gate that decided, for each step of the endpoint (introspection/gates.py).
METHOD, INPUT, AUTHENTICATION, CALLER_VS_PATH, PERMISSION_OR_SCOPE = (
    "method",
    "input",
    "authentication",
    "caller_vs_path",
    "permission_or_scope",
)
LOOKUP, TOKEN_VS_PATH, TOKEN_STATE, PASSED = "lookup", "token_vs_path", "token_state", "passed"


Decision = dict[str, str | None]  # the audit fields of one decision
EVENT = "introspection.decision"


def fields(
    *,
    caller: Caller | None,
    path_tenant: Tenant | None,
    found: AccessToken | RefreshToken | None,
    gate: str,
    outcome: str,
) -> Decision:
    """Return the audit fields of a decision (``outcome``: active, inactive or an error status)."""
    token_tenant = None
    if found is not None:
        if path_tenant is not None and found.tenant_id == path_tenant.pk:
            token_tenant = path_tenant.domain
        else:
            other = Tenant.objects.get_by_id(found.tenant_id)
            token_tenant = other.domain if other is not None else None
    return {
        "caller_kind": caller.kind if caller is not None else None,
        "caller": caller.name if caller is not None else None,
        "caller_tenant": caller.tenant.domain if caller is not None else None,
        "path_tenant": path_tenant.domain if path_tenant is not None else None,
        "token_tenant": token_tenant,
        "token_id": str(found.jti) if found is not None else None,
        "gate": gate,
        "outcome": outcome,
    }


def record(decision: Decision) -> None:
    """Count one decision by its outcome and write its audit event (made by :func:`fields`)."""
    metrics.count(metrics.INTROSPECTIONS, str(decision["outcome"]))
    write(decision)


def write(decision: Decision, prepared: logs.PreparedLine | None = None) -> None:
    """Write the audit event of ``decision``; ``prepared``: that event's line made ahead by
    :func:`prepare`, for a replayed answer."""
    if prepared is None or not prepared.write(time.time(), logs.request_id.get() or ""):
        audit.record(EVENT, **decision)


def prepare(decision: Decision) -> logs.PreparedLine | None:
    """Return the audit line of ``decision``, made ahead of time."""
    return audit.prepare(EVENT, **decision)
