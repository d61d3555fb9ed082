"""Signing keys of a tenant (docs/clients-and-grants.md): RS256 by default, ES256 available, each with a
``kid``.

The newest active key signs. ``rotatekeys`` makes a new one; the old ones stay published in
the JWKS until every token they signed has expired (``publish_until``).
"""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.db import models
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tenants.announcing import Announced
from tenants.cache import Tag
from tenants.managers import TenantScopedManager
from tenants.models import Tenant


class SigningKey(Announced):
    class Algorithm(models.TextChoices):
        RS256 = "RS256"
        ES256 = "ES256"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="signing_keys")
    kid = models.CharField(max_length=64, unique=True, editable=False)
    algorithm = models.CharField(max_length=5, choices=Algorithm.choices, default=Algorithm.RS256)
    private_key = models.TextField(editable=False)  # PEM (PKCS#8)
    created = models.DateTimeField(auto_now_add=True)
    active = models.BooleanField(default=True, help_text="Signs new tokens (the newest active key does).")
    publish_until = models.DateTimeField(
        null=True, blank=True, help_text="After rotation: stays in the JWKS until then."
    )

    objects = TenantScopedManager()

    # Never a lookup, filter, search field, ordering or column in the admin (tenants.admin_scoping).
    SECRET_FIELDS = ("private_key",)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.algorithm} key {self.kid} ({self.tenant.domain})"

    def change_tags(self) -> list[Tag]:
        # Signers are cached per tenant: any change to a tenant's keys names them all.
        return [("k", self.tenant_id)]

    @classmethod
    # Every frame from here down holds the private key (the PEM, the INSERT's parameters): an
    # error report shows none of their variables, in debug too (identity.reporting).
    @sensitive_variables()
    def generate(cls, tenant: Tenant, algorithm: str = "RS256") -> SigningKey:
        """Create and save a new key for ``tenant``; its kid is the RFC 7638 thumbprint."""
        if algorithm == cls.Algorithm.ES256:
            private = ec.generate_private_key(ec.SECP256R1())
        elif algorithm == cls.Algorithm.RS256:
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            raise ValueError(f"unsupported algorithm '{algorithm}'; use RS256 or ES256")
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        key = cls(tenant=tenant, algorithm=algorithm, private_key=pem)
        key.kid = _thumbprint(key.public_jwk_members())
        key.save()
        return key

    def load_private_key(self):
        return serialization.load_pem_private_key(self.private_key.encode(), password=None)

    def load_public_key(self):
        # Nothing is signed with what this loads, so the RSA key check (p and q prime and
        # consistent: some 90 ms of CPU, on every JWKS request anyone sends) is left to
        # load_private_key, which signing uses; the key was made here (generate).
        private = serialization.load_pem_private_key(
            self.private_key.encode(), password=None, unsafe_skip_rsa_key_validation=True
        )
        return private.public_key()

    def public_jwk_members(self) -> dict:
        """Return the required members of the public JWK (RFC 7517/7518), no kid."""
        public = self.load_public_key()
        algorithm = ECAlgorithm if self.algorithm == self.Algorithm.ES256 else RSAAlgorithm
        jwk = json.loads(algorithm.to_jwk(public))
        jwk.pop("key_ops", None)  # RFC 7517 §4.3: not together with "use"
        return jwk

    def public_jwk(self) -> dict:
        return {**self.public_jwk_members(), "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    @property
    def is_published(self) -> bool:
        return self.active or (self.publish_until is not None and self.publish_until > timezone.now())


def _thumbprint(jwk: dict) -> str:
    """RFC 7638 §3: SHA-256 of the required members in lexicographic order, base64url."""
    required = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("e", "kty", "n")
    canonical = json.dumps({name: jwk[name] for name in required}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
