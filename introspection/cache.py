"""Process-local caches with expiry for the introspection hot path (§6.2, §10): verified
callers, and the clients and users tokens belong to.

Keys are digests of whole credentials (never the credential itself), so a changed password or
secret simply misses. Saving or deleting a user or client clears this process's entries at
once; other server processes forget them within ``CALLER_CACHE_SECONDS``.
"""

from __future__ import annotations

from identity.caching import ExpiringCache

CALLER_CACHE_SECONDS = 10

# Verified callers. Their expiries are spread, so the workers do not all re-check a password
# (a slow hash) in the same instant.
callers = ExpiringCache(ttl=CALLER_CACHE_SECONDS, jitter=0.2)
# The client and user of introspected tokens, by primary key: the token itself is then read
# from its own table alone, the hot path's one query (docs/performance.md).
clients = ExpiringCache(ttl=CALLER_CACHE_SECONDS)
users = ExpiringCache(ttl=CALLER_CACHE_SECONDS)


def clear_all() -> None:
    """Forget every cached caller, client and user of this process."""
    for cache in (callers, clients, users):
        cache.clear()
