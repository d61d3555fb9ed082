"""The token endpoint's own error (RFC 6749 §5.2); the rest are in ``tenants.errors``."""

from tenants.errors import ApiError


class UnsupportedGrantType(ApiError):
    error = "unsupported_grant_type"  # RFC 6749 §5.2
