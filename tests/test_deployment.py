"""The deployment.toml loader (docs/deployment-toml.md): every key and its default, and errors naming key
and line."""

from __future__ import annotations

import dataclasses
import operator
import os
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from deployment import (
    ENV_VAR,
    REPO_ROOT,
    Deployment,
    DeploymentError,
    IdentityDbConfig,
    ScriptConfig,
    StrList,
    check_command,
    default_path,
    load,
    loads,
)
from identity.database import database_settings, postgres_settings

PASSWORD = '[super_admin]\npassword = "pw"\n'
INTROSPECT_VIEW = "/permission/admin/manage/identity/applicationmgt/view"


GOOD_KEY = "Jq3v-Ux8mZ0fT2kLwR7yN4bC6hD1eG9aP5sV8xK2nM7qW3rT0uY"  # [server] secret_key that passes


def with_password(text: str) -> str:
    """Add the one key with no default (``[super_admin] password``) unless ``text`` has that table."""
    return text if "[super_admin]" in text else text + "\n" + PASSWORD


def config_keys(cls: type = Deployment, prefix: str = "") -> list[str]:
    """Return the dotted name of every key the loader reads (arrays of tables as ``table[].key``)."""
    keys = []
    hints = typing.get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        if not spec.init or spec.name in ("pattern", "line", "path"):
            continue
        name, hint = prefix + spec.name, hints[spec.name]
        items = typing.get_args(hint)
        if dataclasses.is_dataclass(hint):
            keys += config_keys(hint, name + ".")
        elif items and dataclasses.is_dataclass(items[0]):
            keys += config_keys(items[0], name + "[].")
        else:
            keys.append(name)
    return keys


def error_of(text: str, path: Path | None = None) -> DeploymentError:
    with pytest.raises(DeploymentError) as caught:
        loads(text, path=path)
    return caught.value


# Every key of the schema and its default, as `loads` fills it in.
DEFAULTS = [
    ("server.hostname", "localhost"),
    ("server.port", 9443),
    ("server.tls", True),
    ("server.debug", False),
    ("server.workers", 4),
    ("server.secret_key", ""),
    ("server.tls_cert", "var/tls/cert.pem"),
    ("server.tls_key", "var/tls/key.pem"),
    ("server.trusted_proxies", ()),
    ("super_admin.username", "admin"),
    ("super_admin.create_admin_account", True),
    ("database.identity_db.type", "sqlite"),
    ("database.identity_db.url", "var/identity.sqlite3"),
    ("database.identity_db.username", ""),
    ("database.identity_db.password", ""),
    ("database.identity_db.pool_min_size", 2),
    ("database.identity_db.pool_max_size", 4),
    ("database.identity_db.pool_timeout", 10.0),
    ("database.identity_db.prepared_statements", True),
    ("tenant.super_tenant_domain", "carbon.super"),
    ("tenant.email_usernames", False),
    ("oauth.validation_response_subject_identifier_format", "fqn"),
    ("oauth.remove_username_from_introspection_response_for_app_tokens", False),
    ("oauth.access_token_validity", 3600),
    ("oauth.refresh_token_validity", 86400),
    ("oauth.refresh_token_max_lifetime", 2592000),
    ("oauth.max_published_signing_keys", 4),
    ("oauth.introspect.allow_cross_tenant", False),
    ("oauth.introspect.allow_get", True),
    ("oauth.introspect.skip_authorization", False),
    ("oauth.introspect.script_backward_compatibility", False),
    ("oauth.introspect.script", ()),
    ("resource_access_control.introspect.permissions", (INTROSPECT_VIEW,)),
    ("resource_access_control.introspect.scopes", ("internal_oauth2_introspect",)),
    ("resource.access_control", ()),
    ("demo.enabled", False),
    ("server.max_body_bytes", 1_048_576),
    ("server.max_form_fields", 1000),
    ("server.max_header_bytes", 8190),
    ("cache.max_entries", 100_000),
    ("cache.max_age", 300),
    ("throttle.enabled", True),
    ("throttle.per_identity", 10),
    ("throttle.per_address", 100),
    ("throttle.window", 300),
    ("throttle.lock_identity", False),
    ("throttle.redis_url", ""),
    ("password.iterations", 1_000_000),
    ("observability.enabled", True),
    ("observability.metrics_allowed", ("127.0.0.0/8", "::1/128")),
    ("logging.format", ""),
    ("logging.level", "INFO"),
    ("logging.audit_file", "var/log/audit.jsonl"),
    ("logging.flush_interval", 0.5),
    ("oauth.dcr.open_registration", False),
]

# Each key given a value other than its default: (TOML, attribute, value read).
RECOGNISED = [
    ('[server]\nhostname = "id.example.com"', "server.hostname", "id.example.com"),
    ("[server]\nport = 8443", "server.port", 8443),
    ("[server]\ntls = false", "server.tls", False),
    ("[server]\ndebug = true", "server.debug", True),
    ("[server]\nworkers = 9", "server.workers", 9),
    (f'[server]\nsecret_key = "{GOOD_KEY}"', "server.secret_key", GOOD_KEY),
    ('[server]\ntls_cert = "/etc/tls/c.pem"', "server.tls_cert", "/etc/tls/c.pem"),
    ('[server]\ntls_key = "/etc/tls/k.pem"', "server.tls_key", "/etc/tls/k.pem"),
    ('[server]\ntrusted_proxies = ["10.0.0.1", "::1"]', "server.trusted_proxies", ("10.0.0.1", "::1")),
    ('[super_admin]\nusername = "root"\npassword = "pw"', "super_admin.username", "root"),
    ('[super_admin]\npassword = "s3cret"', "super_admin.password", "s3cret"),
    ("[super_admin]\ncreate_admin_account = false", "super_admin.create_admin_account", False),
    ('[super_admin]\ncreate_admin_account = false\nusername = ""', "super_admin.username", ""),  # unused
    (
        '[tenant]\nemail_usernames = true\n[super_admin]\nusername = "me@example.org"\npassword = "pw"',
        "super_admin.username",
        "me@example.org",
    ),
    (
        '[database.identity_db]\ntype = "postgres"\nurl = "postgresql://db:5432/ids"',
        "database.identity_db.type",
        "postgres",
    ),
    ('[database.identity_db]\nurl = "/srv/ids.sqlite3"', "database.identity_db.url", "/srv/ids.sqlite3"),
    ('[database.identity_db]\nusername = "ids"', "database.identity_db.username", "ids"),
    ('[database.identity_db]\npassword = "dbpw"', "database.identity_db.password", "dbpw"),
    ("[database.identity_db]\npool_min_size = 3", "database.identity_db.pool_min_size", 3),
    ("[database.identity_db]\npool_max_size = 20", "database.identity_db.pool_max_size", 20),
    ("[database.identity_db]\npool_timeout = 2.5", "database.identity_db.pool_timeout", 2.5),
    ("[database.identity_db]\npool_timeout = 7", "database.identity_db.pool_timeout", 7.0),
    (
        "[database.identity_db]\nprepared_statements = false",
        "database.identity_db.prepared_statements",
        False,
    ),
    ('[tenant]\nsuper_tenant_domain = "root.example"', "tenant.super_tenant_domain", "root.example"),
    (
        '[oauth]\nvalidation_response_subject_identifier_format = "app_configured"',
        "oauth.validation_response_subject_identifier_format",
        "app_configured",
    ),
    (
        "[oauth]\nremove_username_from_introspection_response_for_app_tokens = true",
        "oauth.remove_username_from_introspection_response_for_app_tokens",
        True,
    ),
    ("[oauth]\naccess_token_validity = 60", "oauth.access_token_validity", 60),
    ("[oauth]\nrefresh_token_validity = 120", "oauth.refresh_token_validity", 120),
    ("[oauth.introspect]\nallow_cross_tenant = true", "oauth.introspect.allow_cross_tenant", True),
    ("[oauth.introspect]\nallow_get = false", "oauth.introspect.allow_get", False),
    ("[oauth.introspect]\nskip_authorization = true", "oauth.introspect.skip_authorization", True),
    (
        "[oauth.introspect]\nscript_backward_compatibility = true",
        "oauth.introspect.script_backward_compatibility",
        True,
    ),
    (
        '[resource_access_control.introspect]\npermissions = ["/permission/admin"]',
        "resource_access_control.introspect.permissions",
        ("/permission/admin",),
    ),
    ("[resource_access_control.introspect]\nscopes = []", "resource_access_control.introspect.scopes", ()),
    ("[server]\ndebug = true\n[demo]\nenabled = true", "demo.enabled", True),
    ("[logging]\nflush_interval = 0", "logging.flush_interval", 0.0),
    ("[logging]\nflush_interval = 0.5", "logging.flush_interval", 0.5),
    ("[password]\niterations = 600000", "password.iterations", 600_000),
    ("[password]\niterations = 1000", "password.iterations", 1000),
]

ENTRY = '[[resource.access_control]]\ncontext = "(.*)/oauth2/introspect(.*)"\n'

# (TOML, dotted key, line, words the message must contain). Lines count from 1.
ERRORS = [
    # Django's security.W009: at least 50 characters, 5 of them different, not its placeholder.
    ('[server]\nsecret_key = "k"\n', "server.secret_key", 2, ["too short", "at least 50", "token_urlsafe"]),
    (f'[server]\nsecret_key = "{"ab" * 30}"\n', "server.secret_key", 2, ["2 different", "at least 5"]),
    (
        f'[server]\nsecret_key = "django-insecure-{GOOD_KEY}"\n',
        "server.secret_key",
        2,
        ["django-insecure-", "token_urlsafe"],
    ),
    ("[logging]\nflush_interval = -1\n", "logging.flush_interval", 2, ["between 0 and 10"]),
    ("[logging]\nflush_interval = 60\n", "logging.flush_interval", 2, ["between 0 and 10"]),
    ('[server]\nhostname = "x"\ncolour = "blue"\n', "server.colour", 3, ["unknown key", "hostname"]),
    ("[nosuch]\nkey = 1\n", "nosuch", 1, ["unknown key", "server"]),
    ("[server]\nport = true\n", "server.port", 2, ["integer", "boolean"]),
    ('[server]\n\nport = "9443"\n', "server.port", 3, ["integer", "string"]),
    ('[server]\ntls = "yes"\n', "server.tls", 2, ["true or false"]),
    ("[server]\nport = 0\n", "server.port", 2, ["1 to 65535"]),
    ("[server]\nport = 70000\n", "server.port", 2, ["1 to 65535"]),
    ("[server]\nworkers = 0\n", "server.workers", 2, ["at least 1"]),
    ("server = 1\n", "server", 1, ["table", "integer"]),
    ('[server]\ntrusted_proxies = "10.0.0.1"\n', "server.trusted_proxies", 2, ["array"]),
    ("[server]\ntrusted_proxies = [1]\n", "server.trusted_proxies[0]", 2, ["string"]),
    # gunicorn reads "*" as every peer (anyone's X-Forwarded-Proto: https makes a request secure)
    ('[server]\ntrusted_proxies = ["*"]\n', "server.trusted_proxies[0]", 2, ["not an IP address", "*"]),
    (
        '[server]\ntrusted_proxies = ["10.0.0.5", "10.0.0.0/8"]\n',
        "server.trusted_proxies[1]",
        2,
        ["not an IP address", "exact"],
    ),
    ("[server]\ndebug = false\n[demo]\nenabled = true\n", "demo.enabled", 4, ["debug = false"]),
    ("[demo]\nenabled = true\n", "demo.enabled", 2, ["debug = false"]),
    ('[database.identity_db]\ntype = "mysql"\n', "database.identity_db.type", 2, ["sqlite, postgres"]),
    (
        '[database.identity_db]\ntype = "postgres"\nurl = "db.example:5432"\n',
        "database.identity_db.url",
        3,
        ["postgresql://"],
    ),
    (
        '[database.identity_db]\ntype = "postgres"\nurl = "postgresql://db:5432/ids?sslmode=maybe"\n',
        "database.identity_db.url",
        3,
        ["sslmode must be one of", "verify-full"],
    ),
    (
        '[database.identity_db]\ntype = "postgres"\nurl = "postgresql://db/ids?options=-c%20x"\n',
        "database.identity_db.url",
        3,
        ["'options'", "host, sslmode"],
    ),
    (
        '[database.identity_db]\ntype = "postgres"\nurl = "postgresql://db:0/ids"\n',
        "database.identity_db.url",
        3,
        ["port '0'", "1 to 65535"],
    ),
    (
        "[database.identity_db]\npool_min_size = 5\npool_max_size = 4\n",
        "database.identity_db.pool_max_size",
        3,
        ["pool_min_size"],
    ),
    ("[database.identity_db]\npool_timeout = true\n", "database.identity_db.pool_timeout", 2, ["number"]),
    ('[tenant]\nsuper_tenant_domain = "Carbon.Super"\n', "tenant.super_tenant_domain", 2, ["lower-case"]),
    # The demo tenant beside the super tenant: bootstrap printed a wrong password for a super
    # tenant named foo.com, and stopped with a traceback on an admin named like its user.
    (
        '[server]\ndebug = true\n[demo]\nenabled = true\n[tenant]\nsuper_tenant_domain = "foo.com"\n',
        "tenant.super_tenant_domain",
        6,
        ["may not be foo.com", "[demo] enabled"],
    ),
    (
        "[server]\ndebug = true\n[demo]\nenabled = true\n[tenant]\nemail_usernames = true\n"
        '[super_admin]\nusername = "me@Foo.com"\npassword = "pw"\n',
        "super_admin.username",
        8,
        ["may not end in @foo.com", "[demo] enabled"],
    ),
    # Regression: bootstrap (make run) stopped with a ValidationError's traceback on these.
    ('[super_admin]\nusername = ""\npassword = "pw"\n', "super_admin.username", 2, ["1 to 150"]),
    ('[super_admin]\nusername = "  "\npassword = "pw"\n', "super_admin.username", 2, ["not all spaces"]),
    (f'[super_admin]\nusername = "{"a" * 151}"\npassword = "pw"\n', "super_admin.username", 2, ["1 to 150"]),
    ('[super_admin]\nusername = "ad@min"\npassword = "pw"\n', "super_admin.username", 2, ["email_usernames"]),
    (
        '[tenant]\nemail_usernames = true\n[super_admin]\nusername = "admin@Carbon.Super"\npassword = "pw"\n',
        "super_admin.username",
        4,
        ["without @carbon.super"],
    ),
    ('[cache]\nmax_age = "5"\n', "cache.max_age", 2, ["integer"]),
    ("[password]\niterations = 999\n", "password.iterations", 2, ["at least 1000", "RFC 8018", "600000"]),
    ("[password]\n\niterations = 0\n", "password.iterations", 3, ["at least 1000"]),
    ('[password]\niterations = "1000000"\n', "password.iterations", 2, ["integer", "string"]),
    ("[password]\niterations = 1e6\n", "password.iterations", 2, ["integer", "float"]),
    ("[password]\nrounds = 1000\n", "password.rounds", 2, ["unknown key", "iterations"]),
    (
        '[oauth]\nvalidation_response_subject_identifier_format = "email"\n',
        "oauth.validation_response_subject_identifier_format",
        2,
        ["fqn, app_configured"],
    ),
    ("[oauth]\naccess_token_validity = 0\n", "oauth.access_token_validity", 2, ["positive"]),
    ("[oauth]\nrefresh_token_validity = -1\n", "oauth.refresh_token_validity", 2, ["positive"]),
    ("[oauth]\nrefresh_token_max_lifetime = 0\n", "oauth.refresh_token_max_lifetime", 2, ["positive"]),
    (
        "[oauth]\nmax_published_signing_keys = 1\n",
        "oauth.max_published_signing_keys",
        2,
        ["at least 2", "current key"],
    ),
    ("[oauth.introspect]\nallow_get = 1\n", "oauth.introspect.allow_get", 2, ["true or false"]),
    (
        '[[oauth.introspect.script]]\nname = "a"\ncallable = "m:f"\n\n'
        '[[oauth.introspect.script]]\nname = "a"\ncallable = "m:g"\n',
        "oauth.introspect.script[1].name",
        6,
        ["duplicate", "'a'"],
    ),
    (
        '[[oauth.introspect.script]]\nname = "a"\ncallable = "mycompany.hooks.add"\n',
        "oauth.introspect.script[0].callable",
        3,
        ["module.path:function"],
    ),
    (
        '[[oauth.introspect.script]]\nname = "a"\ncallable = "mycompany hooks:add"\n',
        "oauth.introspect.script[0].callable",
        3,
        ["module.path:function"],
    ),
    ('[[oauth.introspect.script]]\nname = "a"\n', "oauth.introspect.script[0].callable", 1, ["required"]),
    (
        '[resource_access_control.introspect]\npermissions = "/permission/admin"\n',
        "resource_access_control.introspect.permissions",
        2,
        ["array"],
    ),
    (
        '[resource_access_control.introspect]\npermissions = ["/permission/admin", 3]\n',
        "resource_access_control.introspect.permissions[1]",
        2,
        ["string"],
    ),
    (
        '[resource_access_control.introspect]\npermissions = ["admin"]\n',
        "resource_access_control.introspect.permissions",
        2,
        ["/permission path"],
    ),
    (
        ENTRY + '\n[[resource.access_control]]\ncontext = "/oauth2/(token"\n',
        "resource.access_control[1].context",
        5,
        ["regular expression"],
    ),
    (
        ENTRY + 'allowed_auth_handlers = "BasicAuthentication,KerberosAuthentication"\n',
        "resource.access_control[0].allowed_auth_handlers",
        3,
        ["KerberosAuthentication", "BasicClientAuthentication"],
    ),
    (
        ENTRY + "allowed_auth_handlers = []\n",
        "resource.access_control[0].allowed_auth_handlers",
        3,
        ["names no handler"],
    ),
    (ENTRY + 'http_method = "FETCH"\n', "resource.access_control[0].http_method", 3, ["'FETCH'"]),
    (ENTRY + 'secure = "true"\n', "resource.access_control[0].secure", 3, ["true or false"]),
    (ENTRY + "cross_tenant = 1\n", "resource.access_control[0].cross_tenant", 3, ["true or false"]),
    (ENTRY + "colour = 1\n", "resource.access_control[0].colour", 3, ["unknown key", "context"]),
    ("[[resource.access_control]]\nsecure = false\n", "resource.access_control[0].context", 1, ["required"]),
]


@pytest.fixture(scope="module")
def defaults() -> Deployment:
    return loads(PASSWORD)


class TestDefaults:
    """Every key of deployment.toml (docs/deployment-toml.md) is filled in with its default."""

    @pytest.mark.parametrize(("key", "default"), DEFAULTS, ids=[key for key, _ in DEFAULTS])
    def test_default(self, defaults, key, default):
        assert operator.attrgetter(key)(defaults) == default

    def test_the_table_above_covers_every_key(self):
        covered = {key for key, _ in DEFAULTS} | {"super_admin.password"}
        schema = {key.split("[]")[0] for key in config_keys()}
        assert schema == covered

    def test_super_admin_password_has_no_default(self):
        error = error_of("")
        assert error.key == "super_admin.password"
        assert "create_admin_account" in error.message

    def test_no_password_needed_without_an_admin_account(self):
        assert loads("[super_admin]\ncreate_admin_account = false\n").super_admin.password == ""

    def test_access_control_entry_defaults(self):
        (entry,) = loads(with_password(ENTRY)).resource.access_control
        assert entry.http_method == ("all",)
        assert entry.secure is True
        assert entry.allowed_auth_handlers == ("BasicAuthentication", "OAuthAuthentication")
        assert entry.cross_tenant is False
        assert entry.cross_access_allowed_tenants == ()
        assert entry.line == 1

    def test_the_configuration_is_frozen(self, defaults):
        with pytest.raises(dataclasses.FrozenInstanceError):
            defaults.server.port = 1  # type: ignore[misc]


class TestRecognisedKeys:
    @pytest.mark.parametrize(("text", "key", "value"), RECOGNISED, ids=[row[1] for row in RECOGNISED])
    def test_key_is_read(self, text, key, value):
        read = operator.attrgetter(key)(loads(with_password(text)))
        assert read == value
        assert type(read) is type(value)

    def test_introspection_scripts_keep_their_order(self):
        deployment = loads(
            with_password(
                '[[oauth.introspect.script]]\nname = "b"\ncallable = "hooks:second"\n'
                '[[oauth.introspect.script]]\nname = "a"\ncallable = "pkg.hooks:first"\n'
            )
        )
        assert deployment.oauth.introspect.script == (
            ScriptConfig(name="b", callable="hooks:second"),
            ScriptConfig(name="a", callable="pkg.hooks:first"),
        )

    def test_every_access_control_key(self):
        deployment = loads(
            with_password(
                ENTRY + 'http_method = ["GET", "POST"]\nsecure = false\n'
                'allowed_auth_handlers = ["BasicClientAuthentication"]\ncross_tenant = true\n'
                'cross_access_allowed_tenants = "carbon.super, foo.com"\n'
                '[[resource.access_control]]\ncontext = "/health"\n'
            )
        )
        first, second = deployment.resource.access_control
        assert first.context == "(.*)/oauth2/introspect(.*)"
        assert first.http_method == ("GET", "POST")
        assert first.secure is False
        assert first.allowed_auth_handlers == ("BasicClientAuthentication",)
        assert first.cross_tenant is True
        assert first.cross_access_allowed_tenants == ("carbon.super", "foo.com")
        assert (first.line, second.line) == (1, 8)


class TestStrList:
    """Keys WSO2 writes as one comma-separated string also take a TOML array."""

    @pytest.mark.parametrize(
        ("literal", "expected"),
        [
            ('"a,b"', ("a", "b")),
            ('"a, b ,"', ("a", "b")),
            ('["a", "b"]', ("a", "b")),
            ('"a"', ("a",)),
            ('""', ()),
            ("[]", ()),
        ],
    )
    def test_string_or_array(self, literal, expected):
        text = ENTRY + f"cross_access_allowed_tenants = {literal}\n"
        (entry,) = loads(with_password(text)).resource.access_control
        assert entry.cross_access_allowed_tenants == expected
        assert isinstance(entry.cross_access_allowed_tenants, StrList)

    def test_array_items_must_be_strings(self):
        error = error_of(with_password(ENTRY + "cross_access_allowed_tenants = [1]\n"))
        assert error.key == "resource.access_control[0].cross_access_allowed_tenants[0]"
        assert error.line == 3


class TestErrors:
    """Unknown keys, wrong types, bad regexes and bad values name the key and its line
    (docs/deployment-toml.md)."""

    def test_a_weak_secret_key_is_not_repeated_in_the_error(self):
        """Regression: any secret_key was taken, one character too; the error names the key,
        never its value (it may be a real key, one character short)."""
        weak = GOOD_KEY[:49]
        assert weak not in str(error_of(with_password(f'[server]\nsecret_key = "{weak}"\n')))

    @pytest.mark.parametrize(("text", "key", "line", "words"), ERRORS, ids=[row[1] for row in ERRORS])
    def test_error_names_key_and_line(self, text, key, line, words):
        error = error_of(with_password(text), path=Path("/etc/identity/deployment.toml"))
        assert (error.key, error.line) == (key, line)
        message = str(error)
        assert message.startswith(f"/etc/identity/deployment.toml, line {line}, key '{key}': ")
        for word in words:
            assert word in message

    def test_missing_password_points_at_its_table(self):
        error = error_of('[server]\nport = 1\n\n[super_admin]\nusername = "root"\n')
        assert (error.key, error.line) == ("super_admin.password", 4)

    @pytest.mark.parametrize(
        ("text", "line"),
        [
            ("[server]\nport = \n", 2),
            ("[server]\nport = 1\nport = 2\n", 3),
            ('[server\nhostname = "x"\n', 1),
            ('\n\n\nhostname = "unterminated\n', 4),
        ],
    )
    def test_invalid_toml_reports_its_line(self, text, line):
        error = error_of(text)
        assert error.line == line
        assert f"line {line}" in str(error)
        assert "not valid TOML" in str(error)

    def test_unreadable_file_names_the_variable(self, tmp_path):
        missing = tmp_path / "nowhere.toml"
        with pytest.raises(DeploymentError) as caught:
            load(missing)
        assert str(missing) in str(caught.value)
        assert ENV_VAR in str(caught.value)


class TestEnvironmentSubstitution:
    """WSO2's ``$env{NAME}`` form, for secrets (docs/deployment-toml.md)."""

    def test_value_comes_from_the_environment(self, monkeypatch):
        monkeypatch.setenv("IDS_ADMIN_PASSWORD", "from-env")
        monkeypatch.setenv("IDS_DB_HOST", "db.internal")
        deployment = loads(
            '[super_admin]\npassword = "$env{IDS_ADMIN_PASSWORD}"\n'
            '[database.identity_db]\ntype = "postgres"\nurl = "postgresql://$env{IDS_DB_HOST}:5432/ids"\n'
        )
        assert deployment.super_admin.password == "from-env"
        assert deployment.database.identity_db.url == "postgresql://db.internal:5432/ids"

    def test_inside_arrays(self, monkeypatch):
        monkeypatch.setenv("IDS_PROXY", "10.1.2.3")
        deployment = loads(with_password('[server]\ntrusted_proxies = ["$env{IDS_PROXY}"]\n'))
        assert deployment.server.trusted_proxies == ("10.1.2.3",)

    def test_inside_a_comma_separated_string(self, monkeypatch):
        """Regression: a StrList given as a string skipped $env{} substitution."""
        monkeypatch.setenv("IDS_TENANTS", "carbon.super,foo.com")
        text = ENTRY + 'cross_access_allowed_tenants = "$env{IDS_TENANTS}"\n'
        (entry,) = loads(with_password(text)).resource.access_control
        assert entry.cross_access_allowed_tenants == ("carbon.super", "foo.com")

    def test_missing_variable_is_named(self, monkeypatch):
        monkeypatch.delenv("IDS_NOT_SET", raising=False)
        error = error_of('[server]\nport = 1\n[super_admin]\npassword = "$env{IDS_NOT_SET}"\n')
        assert (error.key, error.line) == ("super_admin.password", 4)
        assert "IDS_NOT_SET" in error.message

    def test_substituted_value_is_not_substituted_again(self, monkeypatch):
        monkeypatch.setenv("IDS_PW", "$env{IDS_OTHER}")
        assert loads('[super_admin]\npassword = "$env{IDS_PW}"\n').super_admin.password == "$env{IDS_OTHER}"


class TestPaths:
    def test_default_path_is_the_repository_file(self, monkeypatch):
        monkeypatch.delenv(ENV_VAR, raising=False)
        assert default_path() == (REPO_ROOT / "deployment.toml").resolve()

    def test_environment_variable_names_another_file(self, monkeypatch, tmp_path):
        other = tmp_path / "elsewhere.toml"
        other.write_text('[server]\nport = 8443\n[super_admin]\npassword = "pw"\n')
        monkeypatch.setenv(ENV_VAR, str(other))
        assert default_path() == other.resolve()
        deployment = load()
        assert deployment.server.port == 8443
        assert deployment.path == other.resolve()

    def test_empty_environment_variable_means_the_default(self, monkeypatch):
        monkeypatch.setenv(ENV_VAR, "")
        assert default_path() == (REPO_ROOT / "deployment.toml").resolve()

    def test_relative_paths_are_relative_to_the_files_folder(self, tmp_path):
        conf = tmp_path / "conf" / "deployment.toml"
        conf.parent.mkdir()
        conf.write_text(PASSWORD + '[server]\ntls_cert = "tls/c.pem"\ntls_key = "/abs/k.pem"\n')
        deployment = load(conf)
        assert deployment.resolve_path(deployment.server.tls_cert) == conf.parent / "tls" / "c.pem"
        assert deployment.resolve_path(deployment.server.tls_key) == Path("/abs/k.pem")
        assert database_settings(deployment)["NAME"] == str(conf.parent / "var" / "identity.sqlite3")

    def test_shipped_file_is_valid(self):
        deployment = load(REPO_ROOT / "deployment.toml")
        assert deployment.demo.enabled and deployment.server.debug

    def test_shipped_file_serves_the_documents_as_written(self):
        """The first run serves https://localhost:9443 with carbon.super's admin / admin, as the
        source documents' commands expect (docs/quickstart.md)."""
        deployment = load(REPO_ROOT / "deployment.toml")
        server, admin = deployment.server, deployment.super_admin
        assert (server.hostname, server.port, server.tls) == ("localhost", 9443, True)
        assert (admin.username, admin.password, admin.create_admin_account) == ("admin", "admin", True)
        assert deployment.tenant.super_tenant_domain == "carbon.super"


class TestDatabaseSettings:
    def test_postgres_url_and_pool(self):
        db = IdentityDbConfig(
            type="postgres",
            url="postgresql://db.example:5433/ids",
            username="ids",
            password="p@ss",
            pool_min_size=1,
            pool_max_size=8,
            pool_timeout=3.0,
        )
        assert postgres_settings(db) == {
            "ENGINE": "identity.postgresql",
            "NAME": "ids",
            "USER": "ids",
            "PASSWORD": "p@ss",
            "HOST": "db.example",
            "PORT": "5433",
            "OPTIONS": {
                "pool": {"min_size": 1, "max_size": 8, "timeout": 3.0, "reconnect_timeout": 5},
                "connect_timeout": 5,
                "keepalives": 1,
                "keepalives_idle": 10,
                "keepalives_interval": 5,
                "keepalives_count": 3,
                "tcp_user_timeout": 15_000,
                "prepare_threshold": 0,
            },
        }

    @pytest.mark.parametrize(
        ("url", "host", "port", "dbname"),
        [
            ("postgresql://db.example/ids", "db.example", 5432, "ids"),
            ("postgres://10.0.0.7:6432/ids", "10.0.0.7", 6432, "ids"),
            ("postgresql://[2001:db8::1]:5433/ids", "2001:db8::1", 5433, "ids"),
            ("postgresql://[::1]/ids", "::1", 5432, "ids"),
            # a Unix socket's directory, as libpq reads it: percent-encoded, or the host parameter
            ("postgresql://%2Fvar%2Frun%2FPostgreSQL/ids", "/var/run/PostgreSQL", 5432, "ids"),
            ("postgresql:///ids?host=/run/postgresql", "/run/postgresql", 5432, "ids"),
            ("postgresql://:5433/ids?host=%2Frun%2Fpg", "/run/pg", 5433, "ids"),
            ("postgresql://db.example?host=/run/pg", "/run/pg", 5432, "identity"),
        ],
    )
    def test_postgres_hosts(self, url, host, port, dbname):
        settings = postgres_settings(IdentityDbConfig(type="postgres", url=url))
        assert (settings["HOST"], settings["PORT"], settings["NAME"]) == (host, str(port), dbname)

    def test_postgres_tls_parameters_reach_libpq(self):
        url = "postgresql://db.example/ids?sslmode=verify-full&sslrootcert=/etc/ssl/db-ca.pem"
        options = postgres_settings(IdentityDbConfig(type="postgres", url=url))["OPTIONS"]
        assert (options["sslmode"], options["sslrootcert"]) == ("verify-full", "/etc/ssl/db-ca.pem")

    def test_prepared_statements_switch_psycopgs_threshold(self):
        """0: psycopg prepares the server-bound read at its first run; None: never."""
        settings = {
            enabled: postgres_settings(
                IdentityDbConfig(type="postgres", url="postgresql://db/ids", prepared_statements=enabled)
            )["OPTIONS"]["prepare_threshold"]
            for enabled in (True, False)
        }
        assert settings == {True: 0, False: None}

    def test_postgres_credentials_in_the_url(self):
        db = IdentityDbConfig(type="postgres", url="postgresql://u%40x:secret@127.0.0.1/")
        settings = postgres_settings(db)
        assert (settings["USER"], settings["PASSWORD"], settings["NAME"]) == ("u@x", "secret", "identity")
        assert settings["PORT"] == "5432"


class TestCheckCommand:
    """``manage.py checkdeployment [PATH]`` validates without starting (docs/deployment-toml.md,
    docs/commands.md)."""

    @staticmethod
    def run(*args: str) -> subprocess.CompletedProcess:
        env = {key: value for key, value in os.environ.items() if key != ENV_VAR}
        return subprocess.run(
            [sys.executable, "manage.py", "checkdeployment", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def test_good_file(self, tmp_path):
        good = tmp_path / "deployment.toml"
        good.write_text(PASSWORD)
        done = self.run(str(good))
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"{good}: OK"

    def test_bad_file_names_key_and_line(self, tmp_path):
        bad = tmp_path / "deployment.toml"
        bad.write_text(PASSWORD + "\n[server]\nport = true\n")
        done = self.run(str(bad))
        assert done.returncode == 1
        assert re.search(r"line 5, key 'server\.port': must be an integer", done.stderr)
        assert "Traceback" not in done.stderr
        assert done.stdout == ""

    def test_shipped_file(self):
        done = self.run()
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"{(REPO_ROOT / 'deployment.toml').resolve()}: OK"

    @pytest.mark.parametrize("argv", [["a.toml", "b.toml"], ["--help"]])
    def test_usage(self, argv, capsys):
        assert check_command(argv) == 2
        assert "usage: manage.py checkdeployment [PATH]" in capsys.readouterr().err


class TestDocumentation:
    """docs/deployment-toml.md documents exactly the keys the loader reads."""

    @staticmethod
    def documented() -> dict[str, set[str]]:
        """Return each documented table's key names, from its section's table rows."""
        text = (REPO_ROOT / "docs" / "deployment-toml.md").read_text()
        sections = re.split(r"^### `\[+([\w.]+)\]+`$", text, flags=re.MULTILINE)
        return {
            table: set(re.findall(r"^\| `(\w+)` \|", body, flags=re.MULTILINE))
            for table, body in zip(sections[1::2], sections[2::2], strict=True)
        }

    def test_every_key_is_documented_in_its_table(self):
        expected: dict[str, set[str]] = {}
        for key in config_keys():
            table, _, name = key.replace("[]", "").rpartition(".")
            expected.setdefault(table, set()).add(name)
        assert self.documented() == expected
