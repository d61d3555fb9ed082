"""Throttling of failed authentications: 429 + ``Retry-After`` (RFC 6585 §4, RFC 9110 §10.2.3).

Failures are counted per client address and per (identity, client address); with
``[throttle] lock_identity`` also per identity from any address. An identity is a tenant and a
username, a tenant and a client id, or a Bearer token's SHA-256 digest. Past ``per_address`` or
``per_identity`` failures within ``window`` seconds, :func:`check` refuses the attempt before
any password is hashed, until the window ends. Counters live in the database (one small table)
or in Redis (``[throttle] redis_url``), so every process and instance shares them.

Usage, around any credential check::

    attempt = throttle.check(request, throttle.user_identity(tenant.domain, username))
    ...  # raises Throttled (a 429 ApiError) before this line when over the limits
    if ok: attempt.succeeded() else: attempt.failed()

A success forgets the failures of the identities that succeeded (a user who mistyped is not
left near the limit), never the address's: an attacker's interleaved successes must not reset
its count. See docs/security.md.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from deployment import ThrottleConfig
from deployment.current import get_deployment
from identity import audit, metrics
from identity.addresses import client_address
from identity.models.throttle_counters import ThrottleCounter
from identity.usernames import resolve_login
from tenants.cache import cache
from tenants.errors import ApiError

logger = logging.getLogger(__name__)

PURGE_PROBABILITY = 0.01  # share of failures that also delete the expired rows
REDIS_PREFIX = "identity:throttle:"
AUDITED_NAME = 150  # a typed name is the caller's input: keep the audit line bounded


class Throttled(ApiError):
    """Too many failed authentications (RFC 6585 §4); ``Retry-After`` says when to try again."""

    status = 429
    error = "too_many_requests"

    def __init__(self, retry_after: int):
        super().__init__(
            "too many failed authentications; try again later",
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


# --- identities ---------------------------------------------------------------------------


def user_identity(tenant_domain: str, username: str) -> str:
    """Return the throttling identity of a user."""
    return f"user\0{tenant_domain.lower()}\0{username}"


def login_identity(login: str, default_tenant=None) -> str:
    """Return the throttling identity of a sign-in name (``alice``, ``alice@foo.com``), resolved
    as the authentication backend reads it: a bare name is ``default_tenant``'s (else the super
    tenant's); a name whose tenant is unknown or inactive counts under no tenant."""
    resolved = resolve_login(login, default_tenant=default_tenant)
    return user_identity(*(resolved[0].domain, resolved[1]) if resolved else ("", login))


def client_identity(tenant_domain: str, client_id: str) -> str:
    """Return the throttling identity of a client."""
    return f"client\0{tenant_domain.lower()}\0{client_id}"


def bearer_identity(token: str) -> str:
    """Return the throttling identity of a Bearer token: its SHA-256 digest, never the token."""
    return "bearer\0" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _key(*parts: str) -> str:
    return hashlib.sha256("\0\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


# --- the attempt ----------------------------------------------------------------------------


@dataclass
class Attempt:
    """One authentication attempt of ``identities`` from ``address``, already checked."""

    config: ThrottleConfig
    address: str
    identities: tuple[str, ...]
    # Identities that already had failures when checked: only those are reset on success.
    seen_failures: set[str] = field(default_factory=set)

    def failed(self, *identities: str) -> None:
        """Count a failure of ``identities`` (default: all of this attempt's) and of the address."""
        if not self.config.enabled:
            return
        keys = [_key("address", self.address)]
        for identity in identities or self.identities:
            keys.append(_key("identity+address", identity, self.address))
            if self.config.lock_identity:
                keys.append(_key("identity", identity))
        _store(self.config).increment(keys, self.config.window)

    def succeeded(self, *identities: str) -> None:
        """Forget the failures of ``identities`` (default: all), never the address's."""
        stale = [identity for identity in identities or self.identities if identity in self.seen_failures]
        if not self.config.enabled or not stale:
            return
        keys = [_key("identity+address", identity, self.address) for identity in stale]
        keys += [_key("identity", identity) for identity in stale]
        _store(self.config).reset(keys)


def check(request, *identities: str) -> Attempt:
    """Refuse with :class:`Throttled` when the address or an identity is over its limit.

    Call it before computing any password hash; it reads the counters, it writes nothing. An
    address, or an identity from it, found over its limit is refused from the process's cache
    until its window ends (its count is not counted while refused, and no success can reset it,
    so the block cannot end sooner): a flood from it costs no counter read.
    """
    config = get_deployment().throttle
    attempt = Attempt(config, client_address(request.META), tuple(identities))
    if not config.enabled:
        return attempt
    identity_limits = _identity_limits(config, attempt.address, identities)
    _refuse_known_blocks(request.path, attempt.address, attempt.identities, identity_limits)
    address_key = _key("address", attempt.address)
    limits = {address_key: (config.per_address, None, "per_address"), **identity_limits}
    waits = {}
    for key, (count, seconds_left) in _store(config).read(list(limits)).items():
        limit, identity, name = limits[key]
        if identity is not None and count:
            attempt.seen_failures.add(identity)
        if count >= limit:
            waits[name] = max(seconds_left, waits.get(name, 0))
            # Refused from this process's memory until the window ends (refuse_blocked), pinned:
            # neither [cache] max_age nor a flood of other entries may end it sooner.
            blocked = ("throttled-address", attempt.address) if key == address_key else ("throttled", key)
            cache.pin(blocked, time.time() + seconds_left)
    if waits:
        raise refusal(request.path, attempt.address, attempt.identities, waits)
    return attempt


def refuse_blocked(request, address: str | None = None, identities: Sequence[str] = ()) -> None:
    """Raise :class:`Throttled` when this process found the request's address (or ``address``)
    over ``per_address``, or one of ``identities`` over its limit from it; no counter read.

    Also for a credential that needs no check (a verified caller in the cache): past the limits
    every attempt is refused until the window ends (SPEC §11), or an address would go on
    guessing, free (refused attempts are not counted), until a guess of a credential in use was
    answered.
    """
    config = get_deployment().throttle
    if not config.enabled:
        return
    address = client_address(request.META) if address is None else address
    _refuse_known_blocks(request.path, address, identities, _identity_limits(config, address, identities))


def _refuse_known_blocks(path: str, address: str, identities: Sequence[str], identity_limits: dict) -> None:
    """Raise :class:`Throttled` for the blocks of ``address`` and of ``identity_limits``'s counters
    that this process keeps (``check`` found them over their limits)."""
    waits = _known_waits(address, identity_limits)
    if waits:
        raise refusal(path, address, identities, waits)


def known_waits(address: str, identities: Sequence[str]) -> dict[str, float]:
    """Return the seconds left of each block this process keeps of ``address``, and of
    ``identities`` from it, by the name of the limit: the waits :func:`refusal` takes, as
    Django's path finds them (no counter read)."""
    return _known_waits(address, _identity_limits(get_deployment().throttle, address, identities))


def _known_waits(address: str, identity_limits: dict) -> dict[str, float]:
    waits = {}
    blocked = blocked_for(address)
    if blocked is not None:
        waits["per_address"] = blocked
    for key, (_, _, name) in identity_limits.items():
        left = _block_left(("throttled", key))
        if left is not None:
            waits[name] = max(left, waits.get(name, 0))
    return waits


def _identity_limits(config: ThrottleConfig, address: str, identities: Sequence[str]) -> dict:
    """The counters of ``identities`` from ``address``: ``{key: (limit, identity, name)}``."""
    limits = {}
    for identity in identities:
        limits[_key("identity+address", identity, address)] = (config.per_identity, identity, "per_identity")
        if config.lock_identity:
            limits[_key("identity", identity)] = (config.per_identity, identity, "lock_identity")
    return limits


def block_keys(address: str, identities: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Return the cache keys of the blocks that refuse ``identities`` from ``address``, as
    :func:`refuse_blocked` finds them, to be checked later with :func:`any_blocked` (by an
    answer given before Django, introspection/replay.py): the address's, each identity's from
    it, and with ``lock_identity`` each identity's from any address."""
    config = get_deployment().throttle
    if not config.enabled:
        return ()
    identity_blocks = (("throttled", key) for key in _identity_limits(config, address, identities))
    return (("throttled-address", address), *identity_blocks)


def any_blocked(keys: Iterable[tuple[str, str]]) -> bool:
    """Return whether this process keeps a block under one of ``keys`` (no counter read)."""
    return any(_block_left(key) is not None for key in keys)


def blocked_for(address: str) -> float | None:
    """Return the seconds left of ``address``'s block when this process found it over
    ``per_address`` (no counter read), else None."""
    return _block_left(("throttled-address", address))


def _block_left(blocked: tuple[str, str]) -> float | None:
    """The seconds left of a block this process found (``check``) and pins in its cache."""
    blocked_until = cache.pinned(blocked)
    return None if blocked_until is None else blocked_until - time.time()


def refusal(path: str, address: str, identities: Sequence[str], waits: dict[str, float]) -> Throttled:
    """Count and audit the refusal of ``identities`` from ``address`` at ``path``; return the
    error to answer, for the longest of ``waits`` (seconds, by the name of the limit).

    Django's path raises it; ``introspection/throttle_gate.py`` answers it before Django.
    """
    for name in waits:
        metrics.count(metrics.THROTTLED, name)
    retry_after = max(1, math.ceil(max(waits.values())))
    audit.record(
        "auth.throttled",
        limits=sorted(waits),
        identities=[_audited(identity) for identity in identities],
        address=address,
        path=path,
        retry_after=retry_after,
    )
    return Throttled(retry_after=retry_after)


def _audited(identity: str) -> dict[str, str]:
    """Return how the audit trail names an identity: a Bearer token by its kind alone."""
    kind, _, rest = identity.partition("\0")
    if kind == "bearer":
        return {"kind": kind}
    tenant, _, name = rest.partition("\0")
    return {"kind": kind, "tenant": tenant, "identity": name[:AUDITED_NAME]}


def failed(request, *identities: str) -> None:
    """Count a failure of ``identities`` from the request's address (no check first)."""
    config = get_deployment().throttle
    Attempt(config, client_address(request.META), tuple(identities)).failed()


# --- where counters live --------------------------------------------------------------------


def _store(config: ThrottleConfig):
    return RedisCounters(config.redis_url) if config.redis_url else DatabaseCounters()


class DatabaseCounters:
    """Counters in the ``ThrottleCounter`` table, through the ORM, on SQLite and PostgreSQL."""

    def read(self, keys: list[str]) -> dict[str, tuple[int, float]]:
        """Return ``{key: (count, seconds left)}`` for the keys counting in a live window."""
        now = timezone.now()
        rows = ThrottleCounter.objects.filter(key__in=keys, expires__gt=now).values_list(
            "key", "count", "expires"
        )
        return {key: (count, (expires - now).total_seconds()) for key, count, expires in rows}

    def increment(self, keys: list[str], window: int) -> None:
        """Add one to each key's count, starting a new window where the old one ended."""
        with transaction.atomic():
            for key in keys:
                for _ in range(3):  # only a concurrent first failure makes a second pass
                    now = timezone.now()
                    live = ThrottleCounter.objects.filter(key=key, expires__gt=now)
                    if live.update(count=F("count") + 1):
                        break
                    # The WHERE is checked again on the locked row: of two processes renewing
                    # one expired window, the second updates nothing and increments instead.
                    renew = dict(count=1, expires=now + timedelta(seconds=window))
                    if ThrottleCounter.objects.filter(key=key, expires__lte=now).update(**renew):
                        break
                    try:
                        with transaction.atomic():
                            ThrottleCounter.objects.create(key=key, **renew)
                        break
                    except IntegrityError:
                        continue
            if random.random() < PURGE_PROBABILITY:  # noqa: S311 (not for security)
                ThrottleCounter.objects.filter(expires__lte=timezone.now()).delete()

    def reset(self, keys: list[str]) -> None:
        ThrottleCounter.objects.filter(key__in=keys).delete()


class RedisCounters:
    """Counters in Redis: ``INCR`` on a key whose expiry is the window (set by its first failure)."""

    def __init__(self, url: str):
        self.client = _redis_client(url)

    def read(self, keys: list[str]) -> dict[str, tuple[int, float]]:
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.get(REDIS_PREFIX + key)
            pipe.pttl(REDIS_PREFIX + key)
        try:
            answers = pipe.execute()
        except _redis_errors() as exc:
            # Refusing every caller while Redis is away would be an outage of its own.
            logger.warning("throttle: Redis unavailable, not throttling (%s)", type(exc).__name__)
            return {}
        found = {}
        for key, count, ttl_ms in zip(keys, answers[::2], answers[1::2], strict=True):
            if count is not None and ttl_ms > 0:
                found[key] = (int(count), ttl_ms / 1000)
        return found

    def increment(self, keys: list[str], window: int) -> None:
        pipe = self.client.pipeline(transaction=True)
        for key in keys:
            pipe.set(REDIS_PREFIX + key, 0, ex=window, nx=True)  # the window starts at the first failure
            pipe.incr(REDIS_PREFIX + key)  # INCR keeps the expiry
        try:
            pipe.execute()
        except _redis_errors() as exc:
            logger.warning("throttle: Redis unavailable, failure not counted (%s)", type(exc).__name__)

    def reset(self, keys: list[str]) -> None:
        try:
            self.client.delete(*(REDIS_PREFIX + key for key in keys))
        except _redis_errors() as exc:
            logger.warning("throttle: Redis unavailable, counters not reset (%s)", type(exc).__name__)


# One connection pool per process and URL: it holds sockets, never counters or rows.
_redis_pools: dict = {}


def _redis_client(url: str):
    import redis

    pool = _redis_pools.get(url)
    if pool is None:
        pool = _redis_pools.setdefault(
            url, redis.ConnectionPool.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        )
    return redis.Redis(connection_pool=pool)


def _redis_errors() -> tuple[type[Exception], ...]:
    import redis

    return (redis.ConnectionError, redis.TimeoutError)
