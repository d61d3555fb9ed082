"""Limit/offset pages (``?limit=&offset=``), bounded so one request cannot read a whole table."""

from urllib.parse import urlsplit

from rest_framework import pagination

from identity.oauth.issuer import server_origin


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    default_limit = 50
    max_limit = 500

    def get_next_link(self) -> str | None:
        return self._at_server_origin(super().get_next_link())

    def get_previous_link(self) -> str | None:
        return self._at_server_origin(super().get_previous_link())

    def _at_server_origin(self, link: str | None) -> str | None:
        """Return ``link`` at the server's origin, the issuers' (SPEC §3: ``[server]``, or a
        trusted proxy's host), not the request's Host header, which anyone may write."""
        if link is None:
            return None
        parts = urlsplit(link)
        return f"{server_origin(self.request)}{parts.path}" + (f"?{parts.query}" if parts.query else "")
