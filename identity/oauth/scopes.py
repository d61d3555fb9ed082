"""Scopes come from each client's ``allowed_scopes`` (SPEC §5)."""

from oauth2_provider.scopes import BaseScopes


class _ScopeNames(dict):
    """Scope descriptions: a scope describes itself, since there is no global list of scopes.

    The toolkit's consent page looks every requested scope up here; an empty dict made any
    authorization request with ``scope`` fail with a KeyError (a 500).
    """

    def __missing__(self, scope: str) -> str:
        return scope


class ClientScopes(BaseScopes):
    def get_all_scopes(self) -> dict[str, str]:
        return _ScopeNames()

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        return list(application.allowed_scopes) if application is not None else []

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        # A token request without `scope` gets a token without scope (as in the WSO2 document).
        return []
