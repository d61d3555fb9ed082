"""Wait for something to become true, by polling: never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(
    predicate: Callable[[], object],
    timeout: float = 20.0,
    interval: float = 0.05,
    errors: tuple[type[BaseException], ...] = (),
) -> bool:
    """Poll ``predicate`` until it is true (return True) or ``timeout`` seconds pass (False).

    An exception of ``errors`` raised by ``predicate`` counts as "not yet".
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return True
        except errors:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
