"""The OpenAPI 3 description of the whole HTTP surface, served at ``/api/v1/openapi.json``.

drf-spectacular describes the management API from its viewsets. The OAuth endpoints are plain
Django and django-oauth-toolkit views it cannot see, so :func:`add_oauth_endpoints` (a
postprocessing hook) adds them; :func:`add_error_responses` gives every operation the error
answers it can give (RFC 9457 problem details under the API, RFC 6749 §5.2 errors elsewhere).
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension

PROBLEM = {"$ref": "#/components/schemas/Problem"}
OAUTH_ERROR = {"$ref": "#/components/schemas/OAuthError"}
API_ERRORS = {
    "400": "Invalid input (the invalid fields in `invalid-params`).",
    "401": "No credentials, or wrong ones.",
    "403": "The caller lacks the permission or scope.",
    "404": "No such row in this tenant, or no such tenant.",
    "406": "The request accepts no JSON.",
    "413": "The request body is too large.",
    "415": "The body is not JSON.",
    "429": "Too many failed authentications from this address.",
    "503": "The database is unavailable; try again after `Retry-After`.",
}
OAUTH_ERRORS = {
    "400": "RFC 6749 §5.2 error.",
    "401": "Client or caller authentication failed.",
    "403": "Refused (permission, or plain HTTP where HTTPS is required).",
    "404": "Unknown tenant.",
    "405": "Method not allowed.",
    "413": "The request body is too large.",
    "415": "Unsupported content type.",
    "429": "Too many failed authentications from this address.",
    "503": "The database is unavailable; try again after `Retry-After`.",
}


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "identity.api.authentication.BearerAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An access token of the tenant carrying the internal_*_mgt_* scope the "
            "operation needs, whose user holds the permission behind it.",
        }


class BasicUserAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "identity.api.authentication.BasicUserAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "`user@tenant` and password of a user holding the permission path.",
        }


def _error_content(schema: dict, media_type: str) -> dict:
    return {media_type: {"schema": schema}}


def add_error_responses(result, generator, request, public):
    """Give every management-API operation its problem-details error responses."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "invalid-params": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "reason": {"type": "string"}},
                    "required": ["name", "reason"],
                },
            },
        },
        "required": ["type", "title", "status"],
    }
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in API_ERRORS.items():
                responses.setdefault(code, {"description": description})
            for code, response in responses.items():
                if code.startswith("4") or code.startswith("5"):
                    response.setdefault("content", _error_content(PROBLEM, "application/problem+json"))
    return result


def _oauth_operation(summary: str, tag: str, *, form: dict | None = None, ok: dict, security=None) -> dict:
    operation: dict = {"summary": summary, "tags": [tag], "operationId": summary.lower().replace(" ", "_")}
    if form is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": form}},
        }
    operation["responses"] = {"200": ok}
    for code, description in OAUTH_ERRORS.items():
        operation["responses"][code] = {
            "description": description,
            "content": _error_content(OAUTH_ERROR, "application/json"),
        }
    if security is not None:
        operation["security"] = security
    return operation


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


STRING = {"type": "string"}
STRINGS = {"type": "array", "items": STRING}
TOKEN_REQUEST = {
    "type": "object",
    "properties": {
        "grant_type": {
            "type": "string",
            "enum": ["client_credentials", "password", "authorization_code", "refresh_token"],
        },
        "scope": STRING,
        "username": STRING,
        "password": STRING,
        "code": STRING,
        "redirect_uri": STRING,
        "code_verifier": STRING,
        "refresh_token": STRING,
        "client_id": STRING,
        "client_secret": STRING,
        "resource": STRING,
    },
    "required": ["grant_type"],
}
TOKEN_RESPONSE = {
    "type": "object",
    "properties": {
        "access_token": STRING,
        "token_type": STRING,
        "expires_in": {"type": "integer"},
        "refresh_token": STRING,
        "scope": STRING,
        "id_token": STRING,
    },
    "required": ["access_token", "token_type"],
}
INTROSPECT_REQUEST = {
    "type": "object",
    "properties": {
        "token": STRING,
        "token_type_hint": STRING,
        "response_as_jwt": {"type": "string", "enum": ["true", "false"]},
        "appTenant": STRING,
    },
    "required": ["token"],
}
INTROSPECT_RESPONSE = {
    "type": "object",
    "description": 'RFC 7662 §2.2; inactive tokens answer only {"active": false}.',
    "properties": {"active": {"type": "boolean"}},
    "required": ["active"],
    "additionalProperties": True,
}
REVOKE_REQUEST = {
    "type": "object",
    "properties": {"token": STRING, "token_type_hint": STRING, "client_id": STRING, "client_secret": STRING},
    "required": ["token"],
}
CLIENT_METADATA = {
    "type": "object",
    "description": "RFC 7591 §2 client metadata (and the token_format extension).",
    "properties": {
        "client_name": STRING,
        "redirect_uris": STRINGS,
        "grant_types": STRINGS,
        "response_types": STRINGS,
        "scope": STRING,
        "token_endpoint_auth_method": {
            "type": "string",
            "enum": ["client_secret_basic", "client_secret_post", "none"],
        },
        "token_format": {"type": "string", "enum": ["opaque", "jwt"]},
    },
}
CLIENT_INFORMATION = {
    "type": "object",
    "description": "RFC 7591 §3.2.1 client information response.",
    "properties": {
        **CLIENT_METADATA["properties"],
        "client_id": STRING,
        "client_secret": STRING,
        "client_id_issued_at": {"type": "integer"},
        "client_secret_expires_at": {"type": "integer"},
        "registration_access_token": STRING,
        "registration_client_uri": STRING,
    },
    "required": ["client_id"],
}
METADATA = {
    "type": "object",
    "properties": {"issuer": STRING},
    "required": ["issuer"],
    "additionalProperties": True,
}
JWKS = {
    "type": "object",
    "properties": {"keys": {"type": "array", "items": {"type": "object", "additionalProperties": True}}},
    "required": ["keys"],
}
CLIENT_AUTH = [{"clientBasic": []}, {}]
CALLER_AUTH = [{"basicAuth": []}, {"clientBasic": []}, {"bearerAuth": []}]


def add_oauth_endpoints(result, generator, request, public):
    """Describe the OAuth 2.0 endpoints, which are not DRF views."""
    result.setdefault("components", {}).setdefault("schemas", {})["OAuthError"] = {
        "type": "object",
        "description": "RFC 6749 §5.2 error response.",
        "properties": {"error": STRING, "error_description": STRING},
        "required": ["error"],
    }
    result["components"].setdefault("securitySchemes", {})["clientBasic"] = {
        "type": "http",
        "scheme": "basic",
        "description": "client_id and client_secret, form-encoded (RFC 6749 §2.3.1).",
    }
    jwt = {"schema": {"type": "string", "description": "RFC 9701 JWT"}}
    introspect_ok = {
        "description": "RFC 7662 response, as JSON or (RFC 9701) as a signed JWT.",
        "content": {
            "application/json": {"schema": INTROSPECT_RESPONSE},
            "application/token-introspection+jwt": jwt,
        },
    }
    registration_path = {
        "name": "client_id",
        "in": "path",
        "required": True,
        "schema": STRING,
    }
    registered = _json(CLIENT_INFORMATION)
    paths = {
        "/oauth2/token": {
            "post": _oauth_operation(
                "Token", "oauth", form=TOKEN_REQUEST, ok=_json(TOKEN_RESPONSE), security=CLIENT_AUTH
            )
        },
        "/oauth2/introspect": {
            "post": _oauth_operation(
                "Introspect", "oauth", form=INTROSPECT_REQUEST, ok=introspect_ok, security=CALLER_AUTH
            ),
        },
        "/oauth2/revoke": {
            "post": _oauth_operation(
                "Revoke",
                "oauth",
                form=REVOKE_REQUEST,
                ok={"description": "Revoked, or unknown (RFC 7009 §2.2)."},
                security=CLIENT_AUTH,
            )
        },
        "/oauth2/register": {
            "post": {
                **_oauth_operation(
                    "Register client",
                    "registration",
                    ok=registered,
                    security=[{"bearerAuth": []}, {"basicAuth": []}, {}],
                ),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": CLIENT_METADATA}},
                },
            }
        },
        "/oauth2/register/{client_id}": {
            "get": _oauth_operation(
                "Read registration", "registration", ok=registered, security=[{"registrationToken": []}]
            ),
            "put": {
                **_oauth_operation(
                    "Update registration", "registration", ok=registered, security=[{"registrationToken": []}]
                ),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": CLIENT_METADATA}},
                },
            },
            "delete": _oauth_operation(
                "Delete registration",
                "registration",
                ok={"description": "unused"},
                security=[{"registrationToken": []}],
            ),
        },
        "/.well-known/openid-configuration": {
            "get": _oauth_operation("OpenID configuration", "discovery", ok=_json(METADATA))
        },
        "/.well-known/oauth-authorization-server": {
            "get": _oauth_operation("Authorization server metadata", "discovery", ok=_json(METADATA))
        },
        "/oauth2/jwks": {"get": _oauth_operation("JWKS", "discovery", ok=_json(JWKS))},
    }
    for operation in paths["/oauth2/register/{client_id}"].values():
        operation["parameters"] = [registration_path]
    delete = paths["/oauth2/register/{client_id}"]["delete"]["responses"]
    delete["204"] = {"description": "Deleted (RFC 7592 §2.3)."}
    del delete["200"]
    paths["/oauth2/register"]["post"]["responses"]["201"] = registered
    del paths["/oauth2/register"]["post"]["responses"]["200"]
    result["components"]["securitySchemes"]["registrationToken"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "The registration access token of RFC 7592.",
    }
    result.setdefault("paths", {}).update(paths)
    return result
