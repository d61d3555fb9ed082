"""The password hashers of deployment.toml's choosing: PBKDF2 for user passwords, with the
rounds of ``[password] iterations`` (docs/security.md#passwords), and one for client secrets,
fit for the hot path (docs/clients-and-grants.md).

Client secrets are generated with full entropy (128 characters of 62 symbols, ~760 bits):
nobody can guess one, so a slow key-derivation function (PBKDF2 with a million rounds, tens
of milliseconds a check) buys no security and would cost every client-authenticated request
that time. A salted SHA-256 keeps the secret unrecoverable from the database, and the check
takes microseconds. User passwords, which people choose, keep a slow one.
"""

import hashlib
import secrets

from django.contrib.auth import hashers
from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare

from deployment.current import get_deployment


class PBKDF2PasswordHasher(hashers.PBKDF2PasswordHasher):
    """Django's PBKDF2-HMAC-SHA256 (RFC 8018 §5.2), with the rounds ``[password] iterations`` sets.

    The algorithm keeps Django's name, ``pbkdf2_sha256``, and each hash records its own rounds, so
    hashes made with another count still verify; Django's ``must_update`` then re-hashes a
    password with the configured count at its next successful check (a sign-in).
    """

    @property  # type: ignore[override]
    def iterations(self) -> int:
        return get_deployment().password.iterations


class ClientSecretHasher(BasePasswordHasher):
    algorithm = "sha256_secret"

    def salt(self) -> str:
        return secrets.token_hex(8)

    def encode(self, password: str, salt: str) -> str:
        self._check_encode_args(password, salt)
        digest = hashlib.sha256(f"{salt}${password}".encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded: str) -> dict:
        algorithm, salt, digest = encoded.split("$", 2)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def verify(self, password: str, encoded: str) -> bool:
        decoded = self.decode(encoded)
        return constant_time_compare(encoded, self.encode(password, decoded["salt"]))

    def safe_summary(self, encoded: str) -> dict:
        decoded = self.decode(encoded)
        return {
            "algorithm": decoded["algorithm"],
            "salt": mask_hash(decoded["salt"]),
            "hash": mask_hash(decoded["hash"]),
        }

    def must_update(self, encoded: str) -> bool:
        return False

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass  # one SHA-256: nothing to even out
