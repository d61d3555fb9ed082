"""Read ``deployment.toml`` into one typed, frozen configuration object (SPEC §7).

This module is the only one that opens the file. It imports nothing from Django, so the
server's master process (``identity.server``) can validate a file before it starts or
reloads workers. Every mistake is a :class:`DeploymentError` that names the key, the line
and what to do about it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import re
import sys
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_VAR = "IDENTITY_DEPLOYMENT_TOML"

AUTH_HANDLERS = ("BasicAuthentication", "BasicClientAuthentication", "OAuthAuthentication")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
SUBJECT_FORMATS = ("fqn", "app_configured")
DATABASE_TYPES = ("sqlite", "postgres")
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

_ENV_REFERENCE = re.compile(r"\$env\{([^}]*)\}")
_CALLABLE_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


class DeploymentError(Exception):
    """A deployment.toml that cannot be used, with where and why."""

    def __init__(
        self, message: str, *, path: Path | str | None = None, key: str = "", line: int | None = None
    ):
        self.message, self.path, self.key, self.line = message, path, key, line
        where = str(path or "deployment.toml")
        if line:
            where += f", line {line}"
        if key:
            where += f", key '{key}'"
        super().__init__(f"{where}: {message}")


class StrList(tuple):
    """A list of strings that the file may also give as one comma-separated string."""


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
class ObservabilityConfig:
    enabled: bool = True  # false: no request ids, access lines, metrics or audit (to measure their cost)
    metrics_allowed: tuple[str, ...] = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True)
class LoggingConfig:
    format: str = ""  # "json" or "text"; unset: json when [server] debug = false, else text
    level: str = "INFO"
    audit_file: str = "var/log/audit.jsonl"  # "-" writes audit lines to stderr


@dataclass(frozen=True)
class ScriptConfig:
    name: str
    callable: str


@dataclass(frozen=True)
class IntrospectConfig:
    allow_cross_tenant: bool = False
    allow_get: bool = True
    skip_authorization: bool = False
    script_backward_compatibility: bool = False
    script: tuple[ScriptConfig, ...] = ()


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
    introspect: IntrospectConfig = field(default_factory=IntrospectConfig)
    dcr: DcrConfig = field(default_factory=DcrConfig)


@dataclass(frozen=True)
class IntrospectAccessConfig:
    permissions: tuple[str, ...] = ("/permission/admin/manage/identity/applicationmgt/view",)
    scopes: tuple[str, ...] = ("internal_oauth2_introspect",)


@dataclass(frozen=True)
class ResourceAccessControlConfig:
    introspect: IntrospectAccessConfig = field(default_factory=IntrospectAccessConfig)


@dataclass(frozen=True)
class AccessControlEntry:
    context: str
    http_method: StrList = ("all",)
    secure: bool = True
    allowed_auth_handlers: StrList = ("BasicAuthentication", "OAuthAuthentication")
    cross_tenant: bool = False
    cross_access_allowed_tenants: StrList = ()
    # Set by the loader: the compiled `context` and the line the entry starts on.
    pattern: re.Pattern = field(default=None, compare=False, repr=False)  # type: ignore[assignment]
    line: int | None = field(default=None, compare=False)

    def matches(self, path: str, method: str) -> bool:
        """Return whether this entry governs ``method path`` (path with /t/<tenant>, no query)."""
        # The file may spell methods in any case (validation accepts "post").
        if "all" not in self.http_method and method.upper() not in {m.upper() for m in self.http_method}:
            return False
        return self.pattern.fullmatch(path) is not None

    def allows_caller_tenant(self, caller_domain: str) -> bool:
        """Gate 1 of §6.3 for a caller of another tenant than the path's."""
        if not self.cross_tenant:
            return False
        return not self.cross_access_allowed_tenants or caller_domain in self.cross_access_allowed_tenants


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


# --- loading -------------------------------------------------------------------------------


def default_path() -> Path:
    """Return the file the server reads: $IDENTITY_DEPLOYMENT_TOML, else the repository's."""
    return Path(os.environ.get(ENV_VAR) or REPO_ROOT / "deployment.toml").resolve()


def load(path: Path | str | None = None) -> Deployment:
    """Read, validate and return the deployment configuration at ``path``."""
    path = Path(path).resolve() if path else default_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DeploymentError(
            f"cannot read the file ({exc.strerror}); set {ENV_VAR} to its path", path=path
        ) from exc
    return loads(text, path=path)


def loads(text: str, path: Path | str | None = None) -> Deployment:
    """Validate the TOML ``text`` and return its configuration."""
    path = Path(path) if path else REPO_ROOT / "deployment.toml"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
        raise DeploymentError(f"not valid TOML: {exc}", path=path, line=line) from exc
    reader = _Reader(text, path)
    deployment = reader.build(Deployment, raw, ())
    deployment = dataclasses.replace(deployment, path=path)
    _check_whole(deployment, reader)
    return deployment


def _line_from_message(message: str) -> int | None:
    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else None


class _Reader:
    """Turn the parsed TOML into the dataclasses above, naming key and line on every error."""

    def __init__(self, text: str, path: Path):
        self.path = path
        self.lines = _KeyLines(text)

    def fail(self, keypath: tuple, message: str) -> typing.NoReturn:
        raise DeploymentError(message, path=self.path, key=_dotted(keypath), line=self.lines.find(keypath))

    def build(self, cls: type, raw: object, keypath: tuple):
        if not isinstance(raw, dict):
            self.fail(keypath, f"must be a table, not {_toml_type(raw)}")
        hints = typing.get_type_hints(cls)
        known = {
            f.name: f for f in dataclasses.fields(cls) if f.init and f.name not in ("pattern", "line", "path")
        }
        for key in raw:
            if key not in known:
                choices = ", ".join(sorted(known))
                self.fail((*keypath, key), f"unknown key; the keys here are: {choices}")
        values = {}
        for name, spec in known.items():
            if name in raw:
                values[name] = self.convert(hints[name], raw[name], (*keypath, name))
            elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                self.fail((*keypath, name), "is required")
        if cls is AccessControlEntry:
            values["pattern"] = self.compile_context(values["context"], (*keypath, "context"))
            values["line"] = self.lines.find(keypath)
        return cls(**values)

    def convert(self, hint, value, keypath: tuple):
        if dataclasses.is_dataclass(hint):
            return self.build(hint, value, keypath)
        if hint is StrList:
            if isinstance(value, str):
                value = self.substitute_env(value, keypath)
                return StrList(part.strip() for part in value.split(",") if part.strip())
            return StrList(self.convert(tuple[str, ...], value, keypath))
        origin = typing.get_origin(hint)
        if origin is tuple:
            item_type = typing.get_args(hint)[0]
            if not isinstance(value, list):
                self.fail(keypath, f"must be an array, not {_toml_type(value)}")
            return tuple(self.convert(item_type, item, (*keypath, index)) for index, item in enumerate(value))
        if origin in (types.UnionType, typing.Union):  # `int | None` and the like
            hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        # bool is a subclass of int: `port = true` must not pass as 1.
        if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
            self.fail(keypath, f"must be {_toml_name(hint)}, not {_toml_type(value)}")
        if isinstance(value, str):
            value = self.substitute_env(value, keypath)
        return value

    def substitute_env(self, value: str, keypath: tuple) -> str:
        """Replace WSO2's ``$env{NAME}`` references with the environment's values."""

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name not in os.environ:
                self.fail(keypath, f"refers to $env{{{name}}}, but the environment has no variable {name}")
            return os.environ[name]

        return _ENV_REFERENCE.sub(replace, value)

    def compile_context(self, regex: str, keypath: tuple) -> re.Pattern:
        try:
            return re.compile(regex, re.IGNORECASE)
        except re.error as exc:
            self.fail(keypath, f"is not a valid regular expression: {exc}")


def _check_whole(deployment: Deployment, reader: _Reader) -> None:
    """Checks that span keys, or restrict a value to a few choices."""
    fail = reader.fail
    server, db, oauth = deployment.server, deployment.database.identity_db, deployment.oauth
    if not 0 < server.port < 65536:
        fail(("server", "port"), "must be a TCP port, 1 to 65535")
    if server.workers < 1:
        fail(("server", "workers"), "must be at least 1")
    for key in ("max_body_bytes", "max_form_fields", "max_header_bytes"):
        if getattr(server, key) < 1:
            fail(("server", key), "must be a positive number")
    _check_operations(deployment, fail)
    if deployment.demo.enabled and not server.debug:
        fail(
            ("demo", "enabled"),
            "demo data (admin/admin) is refused when [server] debug = false; set it to false",
        )
    if db.type not in DATABASE_TYPES:
        fail(("database", "identity_db", "type"), f"must be one of {', '.join(DATABASE_TYPES)}")
    if db.type == "postgres" and not db.url.startswith(("postgresql://", "postgres://")):
        fail(
            ("database", "identity_db", "url"),
            "must look like postgresql://host:port/dbname for type postgres",
        )
    if not 1 <= db.pool_min_size <= db.pool_max_size:
        fail(("database", "identity_db", "pool_max_size"), "needs 1 <= pool_min_size <= pool_max_size")
    if not _DOMAIN.match(deployment.tenant.super_tenant_domain):
        fail(("tenant", "super_tenant_domain"), "must be a lower-case domain name such as carbon.super")
    if deployment.super_admin.create_admin_account and not deployment.super_admin.password:
        fail(
            ("super_admin", "password"),
            "is required while create_admin_account = true (it may be $env{NAME})",
        )
    if oauth.validation_response_subject_identifier_format not in SUBJECT_FORMATS:
        fail(
            ("oauth", "validation_response_subject_identifier_format"),
            f"must be one of {', '.join(SUBJECT_FORMATS)}",
        )
    for key in ("access_token_validity", "refresh_token_validity", "refresh_token_max_lifetime"):
        if getattr(oauth, key) <= 0:
            fail(("oauth", key), "must be a positive number of seconds")
    names: set[str] = set()
    for index, script in enumerate(oauth.introspect.script):
        keypath = ("oauth", "introspect", "script", index)
        if script.name in names:
            fail((*keypath, "name"), f"duplicate script name '{script.name}'")
        names.add(script.name)
        if not _CALLABLE_PATH.match(script.callable):
            fail((*keypath, "callable"), "must be 'module.path:function'")
    for permission in deployment.resource_access_control.introspect.permissions:
        if not permission.startswith("/permission"):
            fail(
                ("resource_access_control", "introspect", "permissions"),
                f"'{permission}' is not a /permission path",
            )
    for index, entry in enumerate(deployment.resource.access_control):
        keypath = ("resource", "access_control", index)
        for method in entry.http_method:
            if method != "all" and method.upper() not in HTTP_METHODS:
                fail((*keypath, "http_method"), f"'{method}' is not 'all' or an HTTP method")
        if not entry.allowed_auth_handlers:
            fail(
                (*keypath, "allowed_auth_handlers"),
                f"names no handler; use some of {', '.join(AUTH_HANDLERS)}",
            )
        for handler in entry.allowed_auth_handlers:
            if handler not in AUTH_HANDLERS:
                fail(
                    (*keypath, "allowed_auth_handlers"),
                    f"unknown handler '{handler}'; use {', '.join(AUTH_HANDLERS)}",
                )


def _check_operations(deployment: Deployment, fail) -> None:
    """Checks of the [cache], [throttle], [observability] and [logging] tables."""
    cache, throttle, logs = deployment.cache, deployment.throttle, deployment.logging
    if cache.max_entries < 100:
        fail(("cache", "max_entries"), "must be at least 100")
    if cache.max_age < 1:
        fail(("cache", "max_age"), "must be a positive number of seconds")
    for key in ("per_identity", "per_address", "window"):
        if getattr(throttle, key) < 1:
            fail(("throttle", key), "must be a positive number")
    if throttle.redis_url and not throttle.redis_url.startswith(("redis://", "rediss://", "unix://")):
        fail(("throttle", "redis_url"), "must look like redis://host:port/0")
    for index, network in enumerate(deployment.observability.metrics_allowed):
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            fail(("observability", "metrics_allowed", index), f"'{network}' is not an address or network")
    if logs.format and logs.format not in LOG_FORMATS:
        fail(("logging", "format"), f"must be one of {', '.join(LOG_FORMATS)}")
    if logs.level not in LOG_LEVELS:
        fail(("logging", "level"), f"must be one of {', '.join(LOG_LEVELS)}")


def _dotted(keypath: tuple) -> str:
    text = ""
    for part in keypath:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _toml_type(value: object) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _toml_name(hint: type) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))


class _KeyLines:
    """Find the line of a key path in the TOML text, for error messages (tomllib gives none)."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_.\"' -]+?)\s*=")

    def __init__(self, text: str):
        self.places: dict[tuple, int] = {}
        counts: dict[tuple, int] = {}
        table: tuple = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(line)
            if header:
                table = _split_key(header.group(2))
                if header.group(1) == "[[":
                    index = counts.get(table, -1) + 1
                    counts[table] = index
                    table = (*table, index)
                self.places.setdefault(table, number)
                continue
            key = self._KEY.match(line)
            if key:
                self.places.setdefault((*table, *_split_key(key.group(1))), number)

    def find(self, keypath: tuple) -> int | None:
        """Return the line of ``keypath``, or of the nearest enclosing table that has one."""
        for end in range(len(keypath), 0, -1):
            if keypath[:end] in self.places:
                return self.places[keypath[:end]]
        return None


def _split_key(dotted: str) -> tuple:
    return tuple(part.strip().strip("\"'") for part in dotted.split("."))


def check_command(argv: list[str], problem: typing.Callable[[Deployment], str] | None = None) -> int:
    """``manage.py checkdeployment [PATH]``: validate a file without Django; return the exit code.

    It runs before Django loads its settings, so it can also diagnose the file the server reads.
    ``problem`` returns why a valid file still cannot serve ("" when it can).
    """
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        print("usage: manage.py checkdeployment [PATH]", file=sys.stderr)
        return 2
    path = Path(argv[0]).resolve() if argv else default_path()
    try:
        deployment = load(path)
    except DeploymentError as exc:
        print(exc, file=sys.stderr)
        return 1
    why = problem(deployment) if problem is not None else ""
    if why:
        print(f"{path}: {why}", file=sys.stderr)
        return 1
    print(f"{path}: OK")
    return 0
