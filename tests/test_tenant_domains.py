"""The syntax of a tenant domain is one rule (deployment/domains.py), asked by the configuration
loader and by the ``Tenant`` model alike.

Regression: the two used to have regexes of their own that disagreed (the loader accepted a
64-letter label that the model refused, and both accepted a trailing newline).
"""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from deployment import DeploymentError, loads
from tenants.models import Tenant, validate_domain

LONG_LABEL = "a" * 64
CASES = [
    ("carbon.super", True),
    ("foo.com", True),
    ("a-b.c1", True),
    ("x" * 63 + ".com", True),
    (LONG_LABEL + ".com", False),
    ("foo.com\n", False),
    ("Foo.com", False),
    ("-foo.com", False),
    ("foo..com", False),
    (".".join(["abc"] * 64), False),  # 255 characters
]


def loader_accepts(domain: str) -> bool:
    toml_string = json.dumps(domain)  # a JSON string is a TOML basic string here
    try:
        loads(f'[tenant]\nsuper_tenant_domain = {toml_string}\n[super_admin]\npassword = "pw"\n')
    except DeploymentError:
        return False
    return True


def model_accepts(domain: str) -> bool:
    try:
        validate_domain(domain)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("domain", "valid"), CASES)
def test_the_loader_and_the_model_agree(domain, valid):
    assert (loader_accepts(domain), model_accepts(domain)) == (valid, valid)


@pytest.mark.django_db
def test_a_lookup_of_a_malformed_domain_makes_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert Tenant.objects.get_by_domain("foo.com\n") is None
