"""Django settings, derived from deployment.toml (docs/deployment-toml.md).

The deployment file is read here, once per process, by ``deployment.load``; every
other module reads the result as ``settings.DEPLOYMENT`` through ``deployment.current``.
"""

import secrets

from django.core.exceptions import ImproperlyConfigured

from deployment import REPO_ROOT, DeploymentError, load
from identity.database import database_settings
from identity.logs import logging_config
from identity.private_files import make_private

BASE_DIR = REPO_ROOT

try:
    DEPLOYMENT = load()
except DeploymentError as exc:
    raise ImproperlyConfigured(str(exc)) from None

# Before anything is written to var/ (the secret key below, the SQLite database): owner only.
make_private(DEPLOYMENT)


def _secret_key() -> str:
    """Return ``[server] secret_key``, else a random key kept in var/ beside the database."""
    if DEPLOYMENT.server.secret_key:
        return DEPLOYMENT.server.secret_key
    key_file = DEPLOYMENT.resolve_path("var/secret_key")
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = DEPLOYMENT.server.debug
# the tenant middleware routes by path; issuers come from [server] (docs/architecture.md)
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "identity.apps.IdentityAdminConfig",  # django.contrib.admin, with our AdminSite
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "tenants",
    "identity",  # before oauth2_provider: our `cleartokens` replaces the toolkit's
    "introspection",
    "oauth2_provider",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    # First, so that every log line of the request carries its id ([observability] enabled).
    *(["identity.request_id.RequestIdMiddleware"] if DEPLOYMENT.observability.enabled else []),
    "identity.outage.DatabaseUnavailableMiddleware",  # a database outage is a 503
    "django.middleware.security.SecurityMiddleware",
    "identity.middleware.JsonErrorsMiddleware",
    "identity.middleware.RequestLimitsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tenants.middleware.TenantMiddleware",
    "tenants.middleware.AccessControlMiddleware",
    # Browser-only middleware is skipped on the machine endpoints (identity/browser_middleware.py).
    "identity.browser_middleware.Sessions",
    "django.middleware.common.CommonMiddleware",
    "identity.browser_middleware.Csrf",
    "identity.browser_middleware.Authentication",
    "identity.browser_middleware.Messages",
    "identity.browser_middleware.Clickjacking",
]

ROOT_URLCONF = "identity.urls"
WSGI_APPLICATION = "identity.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": database_settings(DEPLOYMENT)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "identity.User"
AUTHENTICATION_BACKENDS = ["identity.backends.TenantUserBackend"]
SILENCED_SYSTEM_CHECKS = [
    # Usernames are unique per tenant, not globally (docs/admin.md); TenantUserBackend resolves user@tenant.
    "auth.W004",
]

PASSWORD_HASHERS = [
    # Django's PBKDF2 with the rounds of [password] iterations (docs/security.md#passwords).
    "identity.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    # Client secrets only (full-entropy, generated): see identity/hashers.py.
    "identity.hashers.ClientSecretHasher",
]

# django-oauth-toolkit, with the project's own tenant-aware models (docs/clients-and-grants.md).
OAUTH2_PROVIDER_APPLICATION_MODEL = "identity.Client"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "identity.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "identity.RefreshToken"
OAUTH2_PROVIDER_GRANT_MODEL = "identity.Grant"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "identity.IDToken"
OAUTH2_PROVIDER = {
    "OAUTH2_VALIDATOR_CLASS": "identity.oauth.validator.TenantOAuth2Validator",
    "OAUTH2_SERVER_CLASS": "identity.oauth.oauthlib_server.TenantServer",
    "APPLICATION_ADMIN_CLASS": "identity.admin.ClientAdmin",
    "ACCESS_TOKEN_ADMIN_CLASS": "identity.admin.TokenAdmin",
    "REFRESH_TOKEN_ADMIN_CLASS": "identity.admin.RefreshTokenAdmin",
    "GRANT_ADMIN_CLASS": "identity.admin.GrantAdmin",
    "ID_TOKEN_ADMIN_CLASS": "identity.admin.GrantAdmin",
    "SCOPES_BACKEND_CLASS": "identity.oauth.scopes.ClientScopes",
    "CLIENT_SECRET_HASHER": "sha256_secret",
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,  # replaced by identity.oauth.lifetimes (per client)
    "REFRESH_TOKEN_EXPIRE_SECONDS": None,  # absolute expiry on each refresh token instead
    "ROTATE_REFRESH_TOKEN": True,
    "PKCE_REQUIRED": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    "REFRESH_TOKEN_REUSE_PROTECTION": True,  # a replayed rotated refresh token revokes its family
    # RFC 9700 gates: store digests, never tokens; no implicit grant; S256 PKCE only; no
    # bearer tokens in query strings. The password grant stays (the WSO2 document uses it).
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
}

# The management API (docs/api.md): JSON only, RFC 9457 errors, limit/offset pages.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "identity.api.authentication.BearerAuthentication",
        "identity.api.authentication.BasicUserAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "identity.api.permissions.IsAuthenticatedCaller",
        "identity.api.permissions.CallerOfPathTenant",
        "identity.api.permissions.HoldsResourcePermission",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["identity.api.parsers.Utf8JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "identity.api.pagination.LimitOffsetPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "identity.api.errors.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Identity server",
    "DESCRIPTION": "The management API of a tenant and the OAuth 2.0 endpoints (docs/api.md).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "identity.api.schema.add_error_responses",
        "identity.api.schema.add_oauth_endpoints",
    ],
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
WHITENOISE_USE_FINDERS = True  # the admin's assets without a collectstatic step

# Input limits of [server] (docs/security.md): RequestLimitsMiddleware answers 413 and 400 first.
DATA_UPLOAD_MAX_MEMORY_SIZE = DEPLOYMENT.server.max_body_bytes
DATA_UPLOAD_MAX_NUMBER_FIELDS = DEPLOYMENT.server.max_form_fields

# Error pages never show a secret of deployment.toml or of the environment, even in debug.
DEFAULT_EXCEPTION_REPORTER = "identity.reporting.SecretMaskingReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "identity.reporting.SecretMaskingFilter"

# Browsers reach the server over TLS: its own, or that of the TLS-terminating proxy it trusts
# (``tls = false`` behind [server] trusted_proxies, docs/deployment-toml.md).
BROWSERS_ON_TLS = DEPLOYMENT.server.tls or bool(DEPLOYMENT.server.trusted_proxies)
# Over TLS, browsers must come back over TLS only (RFC 6797); SecurityMiddleware sends it on
# requests that came over TLS (or through a trusted proxy that saw TLS).
SECURE_HSTS_SECONDS = 31_536_000 if BROWSERS_ON_TLS else 0
SECURE_CONTENT_TYPE_NOSNIFF = True

SESSION_COOKIE_SECURE = BROWSERS_ON_TLS
CSRF_COOKIE_SECURE = BROWSERS_ON_TLS
SESSION_COOKIE_HTTPONLY = True

# JSON lines or text, with request ids; the audit trail to [logging] audit_file (identity/logs.py).
LOGGING = logging_config(DEPLOYMENT)
