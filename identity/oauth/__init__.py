"""OAuth 2.0 endpoints of a tenant, on django-oauth-toolkit (RFC 6749, 7009, 8414, 7517)."""
