"""Read ``deployment.toml`` into one typed, frozen configuration object (docs/deployment-toml.md).

This package is the only code that opens the file: :func:`load` reads it, :mod:`.parsing` turns it
into the dataclasses of :mod:`.schema`, :mod:`.validation` checks it whole. It imports nothing
from Django, so the server's master process (``identity.server``) can validate a file before it
starts or reloads workers (:mod:`.reload`). Every mistake is a :class:`DeploymentError` that
names the key, the line and what to do about it. Running code asks
``deployment.current.get_deployment()`` for the configuration it was started with.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import typing
from pathlib import Path

from deployment.errors import DeploymentError
from deployment.parsing import Reader
from deployment.schema import (
    AUTH_HANDLERS,
    BASIC_CLIENT_HANDLER,
    BASIC_USER_HANDLER,
    BEARER_HANDLER,
    DEFAULT_AUTH_HANDLERS,
    ENV_VAR,
    REPO_ROOT,
    AccessControlEntry,
    CacheConfig,
    DatabaseConfig,
    DcrConfig,
    DemoConfig,
    Deployment,
    IdentityDbConfig,
    IntrospectAccessConfig,
    IntrospectConfig,
    LoggingConfig,
    OAuthConfig,
    ObservabilityConfig,
    PasswordConfig,
    ResourceAccessControlConfig,
    ResourceConfig,
    ScriptConfig,
    ServerConfig,
    StrList,
    SuperAdminConfig,
    TenantConfig,
    ThrottleConfig,
)
from deployment.validation import check

__all__ = [
    "AUTH_HANDLERS",
    "BASIC_CLIENT_HANDLER",
    "BASIC_USER_HANDLER",
    "BEARER_HANDLER",
    "DEFAULT_AUTH_HANDLERS",
    "ENV_VAR",
    "REPO_ROOT",
    "AccessControlEntry",
    "CacheConfig",
    "DatabaseConfig",
    "DcrConfig",
    "DemoConfig",
    "Deployment",
    "DeploymentError",
    "IdentityDbConfig",
    "IntrospectAccessConfig",
    "IntrospectConfig",
    "LoggingConfig",
    "OAuthConfig",
    "ObservabilityConfig",
    "PasswordConfig",
    "ResourceAccessControlConfig",
    "ResourceConfig",
    "ScriptConfig",
    "ServerConfig",
    "StrList",
    "SuperAdminConfig",
    "TenantConfig",
    "ThrottleConfig",
    "check_command",
    "default_path",
    "load",
    "loads",
]


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
    reader = Reader(text, path)
    deployment = dataclasses.replace(reader.read(), path=path)
    check(deployment, reader.fail)
    return deployment


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
