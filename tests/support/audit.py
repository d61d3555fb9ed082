"""Telling the service layer's audit records from those of the HTTP layer."""

# Written by the endpoints and the admin around a change (identity/audit_events.py,
# introspection): tests of the service layer look past them.
HTTP_LAYER_EVENTS = ("token.issued", "auth.failed", "introspection.decision")


def is_change(event: dict) -> bool:
    """Whether an audit record is a change made through the service layer."""
    return event["event"] not in HTTP_LAYER_EVENTS and not event["event"].startswith("admin.")
