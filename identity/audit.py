"""The audit trail: one JSON object per event on the ``audit`` logger (docs/operations.md).

Callers name the event and who did what; never pass a secret, a token or a password.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("audit")


def record(event: str, **fields) -> None:
    """Write one audit event (``event`` like ``"client.created"``) with its ``fields``."""
    logger.info(event, extra={"audit": {"event": event, **fields}})
