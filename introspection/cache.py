"""A small process-local cache with expiry, for verified introspection callers (§6.2, §10).

Keys are digests of whole credentials (never the credential itself), so a changed password or
secret simply misses. Saving or deleting a user or client clears this process's entries at
once; other server processes forget them within ``CALLER_CACHE_SECONDS``.
"""

from __future__ import annotations

from identity.caching import ExpiringCache

CALLER_CACHE_SECONDS = 10

callers = ExpiringCache(ttl=CALLER_CACHE_SECONDS)
