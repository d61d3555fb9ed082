"""The schema of deployment.toml: one frozen dataclass per table, every default filled in
(docs/deployment-toml.md lists the keys)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_VAR = "IDENTITY_DEPLOYMENT_TOML"

# The caller-authentication handlers an [[resource.access_control]] entry may name
# (docs/introspection.md): a user's Basic credentials, a client's, an access token.
BASIC_USER_HANDLER = "BasicAuthentication"
BASIC_CLIENT_HANDLER = "BasicClientAuthentication"
BEARER_HANDLER = "OAuthAuthentication"
AUTH_HANDLERS = (BASIC_USER_HANDLER, BASIC_CLIENT_HANDLER, BEARER_HANDLER)
# Accepted where no entry says otherwise.
DEFAULT_AUTH_HANDLERS = (BASIC_USER_HANDLER, BEARER_HANDLER)
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
SUBJECT_FORMATS = ("fqn", "app_configured")
DATABASE_TYPES = ("sqlite", "postgres")
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MAX_FLUSH_INTERVAL = 10.0  # seconds: [logging] flush_interval
# RFC 8018 §4.2: "a minimum of 1,000 iterations is recommended".
MIN_PASSWORD_ITERATIONS = 1000
MAX_USERNAME_LENGTH = 150  # identity.models.User.username
# [server] secret_key: Django's own minimum (its check security.W009), refused at load.
MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_CHARACTERS = 5
INSECURE_SECRET_KEY_PREFIX = "django-insecure-"
# [oauth] max_published_signing_keys: the current key and the one a rotation retires.
MIN_PUBLISHED_SIGNING_KEYS = 2
# [demo] enabled: the tenant of the source documents' /t/foo.com/ commands (identity/bootstrap.py).
DEMO_TENANT = "foo.com"


class StrList(tuple):
    """A list of strings that the file may also give as one comma-separated string."""


_NO_TENANTS = StrList()  # the default of the lists of tenants: none named


# --- the schema: one frozen dataclass per table --------------------------------------------


@dataclass(frozen=True)
class ServerConfig:
    hostname: str = "localhost"
    port: int = 9443
    tls: bool = True
    debug: bool = False
    workers: int = 4
    secret_key: str = ""
    tls_cert: str = "var/tls/cert.pem"
    tls_key: str = "var/tls/key.pem"
    trusted_proxies: tuple[str, ...] = ()
    # Input limits (answered with JSON errors before the request is read): body bytes, form
    # fields, and bytes of one request header line.
    max_body_bytes: int = 1_048_576
    max_form_fields: int = 1000
    max_header_bytes: int = 8190


@dataclass(frozen=True)
class SuperAdminConfig:
    username: str = "admin"
    password: str = ""
    create_admin_account: bool = True


@dataclass(frozen=True)
class IdentityDbConfig:
    type: str = "sqlite"
    url: str = "var/identity.sqlite3"
    username: str = ""
    password: str = ""
    pool_min_size: int = 2
    pool_max_size: int = 4
    pool_timeout: float = 10.0
    # The token's read on a first sight runs as a server-side prepared statement (parsed and
    # planned once a connection); off for a proxy that loses them (docs/deployment-toml.md).
    prepared_statements: bool = True


@dataclass(frozen=True)
class DatabaseConfig:
    identity_db: IdentityDbConfig = field(default_factory=IdentityDbConfig)


@dataclass(frozen=True)
class TenantConfig:
    super_tenant_domain: str = "carbon.super"
    email_usernames: bool = False  # usernames may contain "@" (never "@<a tenant's domain>")


@dataclass(frozen=True)
class CacheConfig:
    """The one in-process cache, kept coherent by the change bus (docs/architecture.md)."""

    max_entries: int = 100_000  # per process, all kinds together; least recently used go first
    max_age: int = 300  # seconds an entry may live even when no change names it


@dataclass(frozen=True)
class ThrottleConfig:
    """Counting failed authentications (docs/security.md)."""

    enabled: bool = True
    per_identity: int = 10  # failures of one identity from one address within the window
    per_address: int = 100  # failures from one address within the window
    window: int = 300  # seconds
    lock_identity: bool = False  # also refuse an identity past per_identity from any address
    redis_url: str = ""  # share counters through Redis instead of the database


@dataclass(frozen=True)
class PasswordConfig:
    """How user passwords are hashed (docs/security.md#passwords)."""

    iterations: int = 1_000_000  # PBKDF2-HMAC-SHA256 rounds, Django 5.2's default


@dataclass(frozen=True)
class ObservabilityConfig:
    enabled: bool = True  # false: no request ids, access lines, metrics or audit (to measure their cost)
    metrics_allowed: tuple[str, ...] = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True)
class LoggingConfig:
    format: str = ""  # "json" or "text"; unset: json when [server] debug = false, else text
    level: str = "INFO"
    audit_file: str = "var/log/audit.jsonl"  # "-" writes audit lines to stderr
    flush_interval: float = 0.5  # seconds lines may wait to be written together; 0: each at once


@dataclass(frozen=True)
class ScriptConfig:
    name: str
    callable: str
    # The tenants whose clients may bind and run it; empty: every tenant.
    tenants: StrList = _NO_TENANTS


@dataclass(frozen=True)
class IntrospectConfig:
    allow_cross_tenant: bool = False
    allow_get: bool = True
    skip_authorization: bool = False
    script_backward_compatibility: bool = False
    script: tuple[ScriptConfig, ...] = ()

    def usable_scripts(self, domain: str) -> list[str]:
        """Return the names of the scripts that clients of tenant ``domain`` may bind and run,
        in the file's order: a script's ``tenants``, when set, lists the only tenants it is for."""
        return [entry.name for entry in self.script if not entry.tenants or domain in entry.tenants]


@dataclass(frozen=True)
class DcrConfig:
    """Dynamic client registration (RFC 7591)."""

    open_registration: bool = False


@dataclass(frozen=True)
class OAuthConfig:
    validation_response_subject_identifier_format: str = "fqn"
    remove_username_from_introspection_response_for_app_tokens: bool = False
    access_token_validity: int = 3600
    refresh_token_validity: int = 86400
    # RFC 9700 §4.14.2: a refresh-token family (a grant and all its rotations) ends this many
    # seconds after its first refresh token, however often it is refreshed.
    refresh_token_max_lifetime: int = 2592000
    # The most signing keys a tenant's JWKS lists at once, its current key included: a rotation
    # that would publish more is refused (docs/keys.md#how-many-keys).
    max_published_signing_keys: int = 4
    introspect: IntrospectConfig = field(default_factory=IntrospectConfig)
    dcr: DcrConfig = field(default_factory=DcrConfig)


@dataclass(frozen=True)
class IntrospectAccessConfig:
    permissions: tuple[str, ...] = ("/permission/admin/manage/identity/applicationmgt/view",)
    scopes: tuple[str, ...] = ("internal_oauth2_introspect",)


@dataclass(frozen=True)
class ResourceAccessControlConfig:
    introspect: IntrospectAccessConfig = field(default_factory=IntrospectAccessConfig)


# Defaults of the entry's lists (StrList values, as the loader makes them).
_ALL_METHODS = StrList(("all",))
_DEFAULT_HANDLERS = StrList(DEFAULT_AUTH_HANDLERS)


@dataclass(frozen=True)
class AccessControlEntry:
    context: str
    http_method: StrList = _ALL_METHODS
    secure: bool = True
    allowed_auth_handlers: StrList = _DEFAULT_HANDLERS
    cross_tenant: bool = False
    cross_access_allowed_tenants: StrList = _NO_TENANTS
    # Set by the loader: the compiled `context` and the line the entry starts on.
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    line: int | None = field(default=None, compare=False)

    def matches(self, path: str, method: str) -> bool:
        """Return whether this entry governs ``method path`` (path with /t/<tenant>, no query)."""
        # The file may spell methods in any case (validation accepts "post").
        if "all" not in self.http_method and method.upper() not in {m.upper() for m in self.http_method}:
            return False
        return self.pattern is not None and self.pattern.fullmatch(path) is not None


@dataclass(frozen=True)
class ResourceConfig:
    access_control: tuple[AccessControlEntry, ...] = ()


@dataclass(frozen=True)
class DemoConfig:
    enabled: bool = False


@dataclass(frozen=True)
class Deployment:
    """The whole of deployment.toml, with every default filled in."""

    server: ServerConfig = field(default_factory=ServerConfig)
    super_admin: SuperAdminConfig = field(default_factory=SuperAdminConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    tenant: TenantConfig = field(default_factory=TenantConfig)
    oauth: OAuthConfig = field(default_factory=OAuthConfig)
    resource_access_control: ResourceAccessControlConfig = field(default_factory=ResourceAccessControlConfig)
    resource: ResourceConfig = field(default_factory=ResourceConfig)
    demo: DemoConfig = field(default_factory=DemoConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    throttle: ThrottleConfig = field(default_factory=ThrottleConfig)
    password: PasswordConfig = field(default_factory=PasswordConfig)
    observability: ObservabilityConfig = field(default_factory=ObservabilityConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    # Where the file was read from; relative paths in it are relative to its folder.
    path: Path = field(default=REPO_ROOT / "deployment.toml", compare=False)

    def resolve_path(self, value: str) -> Path:
        """Return ``value`` as an absolute path, relative to the file's folder."""
        candidate = Path(value)
        return candidate if candidate.is_absolute() else self.path.parent / candidate

    @property
    def scheme(self) -> str:
        return "https" if self.server.tls else "http"
