"""User passwords: PBKDF2-HMAC-SHA256 with the rounds of ``[password] iterations``, and a
re-hash at the next successful sign-in when the count changes (docs/security.md#passwords)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from django.contrib.auth import hashers
from django.contrib.auth.hashers import check_password, get_hasher

from deployment import PasswordConfig
from identity.models import User
from identity.provisioning import create_user
from tests.support.worlds import oauth_world

pytestmark = pytest.mark.django_db

LOGIN = "/t/foo.com/login/"
CAROL = ("carol", "carol-password")


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(oauth_world)


@pytest.fixture
def rounds(deployment_override):
    """Return ``apply(iterations)``: run on with ``[password] iterations = iterations``."""

    def apply(iterations: int) -> None:
        deployment_override(password=PasswordConfig(iterations=iterations))

    return apply


def stored_rounds(user: User, password: str) -> int:
    """Return the rounds of ``user``'s stored hash, having derived it again to be sure."""
    user.refresh_from_db()
    algorithm, iterations, salt, digest = user.password.split("$")
    assert algorithm == "pbkdf2_sha256"
    derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations))
    assert base64.b64encode(derived).decode() == digest
    return int(iterations)


def sign_in(client, password: str):
    return client.post(LOGIN, {"username": CAROL[0], "password": password}, secure=True)


class TestIterations:
    def test_the_default_is_djangos(self, production_hashers):
        assert get_hasher("pbkdf2_sha256").iterations == hashers.PBKDF2PasswordHasher.iterations == 1_000_000

    def test_the_shipped_hasher_is_ours(self, production_hashers):
        assert type(get_hasher("pbkdf2_sha256")).__module__ == "identity.hashers"

    def test_a_new_hash_uses_the_configured_rounds(self, world, production_hashers, rounds):
        rounds(1000)
        user = create_user(world.foo, *CAROL)
        assert stored_rounds(user, CAROL[1]) == 1000
        rounds(1500)
        user.set_password(CAROL[1])
        user.save()
        assert stored_rounds(user, CAROL[1]) == 1500


class TestChangedCount:
    """A hash made with another count still verifies; the next successful sign-in re-hashes it
    with the configured one (Django's ``must_update``), a failed one does not."""

    @pytest.fixture
    def carol(self, world, production_hashers, rounds):
        rounds(1000)
        user = create_user(world.foo, *CAROL)
        rounds(2000)
        return user

    def test_the_old_hash_still_verifies(self, carol):
        carol.refresh_from_db()
        assert check_password(CAROL[1], carol.password)
        assert get_hasher("pbkdf2_sha256").must_update(carol.password)

    def test_a_failed_sign_in_keeps_the_old_hash(self, client, carol):
        assert sign_in(client, "wrong-password").status_code == 200  # the form again
        assert stored_rounds(carol, CAROL[1]) == 1000

    def test_a_successful_sign_in_rehashes_with_the_configured_count(self, client, carol):
        response = sign_in(client, CAROL[1])
        assert response.status_code == 302, response.content
        assert stored_rounds(carol, CAROL[1]) == 2000
        assert not get_hasher("pbkdf2_sha256").must_update(carol.password)
