"""The management REST API of a tenant, at ``/t/<tenant>/api/v1/`` (docs/api.md)."""
