"""The audit trail: one JSON object per event on the ``audit`` logger (docs/operations.md).

The ``audit`` logger writes to ``[logging] audit_file`` (``var/log/audit.jsonl`` by default,
owner-only) through :class:`identity.logs.AuditFormatter`, which adds the time and the request
id. Callers name the event and who did what; never pass a secret, a token or a password (the
names of changed fields are fine).
"""

from __future__ import annotations

import logging

from deployment.current import get_deployment
from identity import logs

logger = logging.getLogger("audit")


def record(event: str, **fields) -> None:
    """Write one audit event (``event`` like ``"client.created"``) with its ``fields``.

    Nothing is written when ``[observability] enabled = false``.
    """
    if not get_deployment().observability.enabled:
        return
    logs.info(logger, event, {"audit": {"event": event, **fields}})


def prepare(event: str, **fields) -> logs.PreparedLine | None:
    """Return the line :func:`record` would write, made ahead of time (its time and request id
    left open): the audit event of a replayed answer."""
    return logs.prepare(logger, event, {"audit": {"event": event, **fields}}, None)
